"""Seed data from DOMAIN.md §1 (the plan) and §5 (tags). Editable by an administrator afterwards.

Seeding fills only what is missing as a whole (a plan version with no items, a tag group that does
not exist), so running it again never resurrects an item an administrator renamed or deactivated.
"""

from __future__ import annotations

from sqlalchemy import select

from feedback.extensions import db
from feedback.models import CURRENT_PLAN_VERSION, PlanItem, Tag, TagGroup

# (code, name). Parents follow from the code: "S1" under "S", "G.T1" under "G".
PLAN_ITEMS: tuple[tuple[str, str], ...] = (
    ("G", "总体要求（指导思想、基本原则、主要目标）"),
    ("G.T1", "化工事故总量和死亡人数、较大事故起数和死亡人数较“十三五”均下降15%以上"),
    ("G.T2", "90%以上化工园区达到较低安全风险（D类）"),
    (
        "G.T3",
        "安全风险监测预警体系进一步完善；"
        "化工园区、危化品企业、大型油气储存基地智能化管控平台持续升级",
    ),
    ("S", "构建危险化学品安全治理体系"),
    ("S1", "安全生产责任体系"),
    ("S2", "隐患排查治理体系"),
    ("S3", "安全预防控制体系"),
    ("S4", "本质安全发展体系"),
    ("S5", "从业人员培训体系"),
    ("S6", "基础支撑保障体系"),
    ("E", "实施本质安全提升重大工程（“五大工程”）"),
    ("E1", "化工园区安全提质工程"),
    ("E2", "大型油气储存基地安全防控工程"),
    ("E3", "企业安全改造工程"),
    ("E4", "安全培训网络建设工程"),
    ("E5", "“工业互联网+危化安全生产”工程"),
    ("R", "分类精准管控重点领域安全风险"),
    ("R1", "化工（石化）"),
    ("R2", "医药"),
    ("R3", "危险化学品经营"),
    ("R4", "油气"),
    ("R5", "烟花爆竹"),
    ("B", "规划保障（组织领导、政策支持、评估考核）"),
)  # fmt: skip

TAG_GROUPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "topic",
        "专题",
        (
            "重大危险源", "特殊作业", "报警管理", "违章操作", "从业人员资质", "承包商管理",
            "老旧装置", "自动化控制与安全仪表", "精细化工反应安全风险评估", "外部安全防护距离",
            "危险化学品运输", "化工园区封闭化管理", "产业转移", "新能源与氢能", "禁限控目录",
            "应急救援", "双重预防机制数字化", "监测预警", "工业互联网", "中小企业安全技术服务",
            "法规标准", "监管执法能力", "安全培训",
        ),
    ),
    (
        "process",
        "重点监管危险化工工艺",
        (
            "光气及光气化", "电解（氯碱）", "氯化", "硝化", "合成氨", "裂解（裂化）", "氟化",
            "加氢", "重氮化", "氧化", "过氧化", "胺基化", "磺化", "聚合", "烷基化",
            "新型煤化工", "电石生产", "偶氮化",
        ),
    ),
    (
        "major_hazard",
        "重大事故隐患判定标准（安监总管三〔2017〕121号）",
        (
            # Items 1–15 are confirmed; 16–20 are our reading of the same standard (editable).
            "主要负责人和安全管理人员未考核合格", "特种作业人员未持证上岗",
            "外部安全防护距离不符合要求", "重点监管工艺未实现自动化控制",
            "重大危险源未配备紧急切断或安全仪表系统", "液化烃储罐未设置注水措施",
            "液化气体充装未使用万向管道", "剧毒气体管道穿越公共区域",
            "架空电力线路穿越生产区", "在役装置未经正规设计且未做安全设计诊断",
            "使用淘汰落后工艺设备", "可燃有毒气体检测报警设施缺失",
            "控制室防火防爆不符合要求", "未设置双重电源或不间断电源", "安全阀爆破片未正常投用",
            "全员安全生产责任制或隐患排查制度缺失", "未制定操作规程和工艺控制指标",
            "特殊作业管理制度缺失或未执行", "新工艺未经试验或论证、未开展反应安全风险评估",
            "危险化学品未分区分类储存或超量储存",
        ),
    ),
    (
        "measure",
        "规划重点措施",
        (
            "地级市“禁限控”目录", "严控有毒气体和爆炸物项目", "淘汰产能不得转入园区",
            "开车前安全风险自评估", "配备注册安全工程师", "信用和风险分类监管",
            "危险化学品二维码全生命周期管理",
        ),
    ),
)  # fmt: skip


def parent_code(code: str) -> str | None:
    """The code of the parent item: "S1" → "S", "G.T1" → "G", "S" → None."""
    if "." in code:
        return code.rsplit(".", 1)[0]
    return code[0] if len(code) > 1 else None


def seed_plan(version: str = CURRENT_PLAN_VERSION) -> int:
    """Create the plan tree if ``version`` has no items yet; returns how many were created."""
    if db.session.scalar(select(PlanItem.id).where(PlanItem.plan_version == version).limit(1)):
        return 0
    by_code: dict[str, PlanItem] = {}
    for order, (code, name) in enumerate(PLAN_ITEMS):
        parent = parent_code(code)
        item = PlanItem(
            plan_version=version,
            code=code,
            name=name,
            sort_order=order,
            parent=by_code[parent] if parent else None,
        )
        db.session.add(item)
        by_code[code] = item
    db.session.flush()
    return len(by_code)


def seed_tags() -> int:
    """Create every seed tag group that does not exist yet, with its tags; returns tags created."""
    created = 0
    existing = set(db.session.scalars(select(TagGroup.code)))
    for order, (code, name, tags) in enumerate(TAG_GROUPS):
        if code in existing:
            continue
        group = TagGroup(code=code, name=name, sort_order=order)
        group.tags = [Tag(name=tag, sort_order=i) for i, tag in enumerate(tags)]
        db.session.add(group)
        created += len(tags)
    db.session.flush()
    return created
