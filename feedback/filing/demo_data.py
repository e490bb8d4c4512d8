"""Demo submissions in bulk: realistic Chinese field reports across kinds, statuses and campaigns.

Rows are generated in Python and written with Core ``executemany`` in chunks inside the caller's
transaction, so 100,000 submissions take well under two minutes (PERFORMANCE.md §4, §6).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import func, insert, select, text

from feedback import search
from feedback.extensions import db
from feedback.filing import uploads
from feedback.filing.kinds import SECTORS, Kind, Sensitivity
from feedback.models import (
    Attachment,
    Campaign,
    Event,
    Organisation,
    OrgKind,
    PlanItem,
    ReferenceCounter,
    Role,
    Status,
    Submission,
    Tag,
    User,
    UserRole,
    campaign_target,
    submission_plan_item,
    submission_tag,
)

CHUNK = 5_000
STATUS_WEIGHTS = {
    Status.DRAFT: 8, Status.PENDING_APPROVAL: 3, Status.SUBMITTED: 28, Status.IN_REVIEW: 15,
    Status.RETURNED: 6, Status.ACCEPTED: 28, Status.REJECTED: 5, Status.REPORTED: 4,
    Status.WITHDRAWN: 3,
}  # fmt: skip
KIND_WEIGHTS = {Kind.PROBLEM: 5, Kind.EXPERIENCE: 3, Kind.SUGGESTION: 3}

SUBJECTS = (
    "承包商动火作业", "受限空间作业", "重大危险源监测预警", "危险化学品运输车辆停车",
    "园区封闭化管理卡口", "可燃有毒气体检测报警", "老旧装置改造", "精细化工反应安全风险评估",
    "特种作业人员持证", "双重预防机制数字化", "应急救援队伍建设", "安全仪表系统投用",
    "企业主要负责人安全培训", "中小企业安全技术服务", "外部安全防护距离", "氢能项目安全管理",
    "产业转移项目准入", "危险化学品二维码追溯", "报警管理与处置", "装置开停车安全",
)  # fmt: skip
PROBLEM_TITLES = ("{s}管理不规范", "{s}存在薄弱环节", "{s}落实不到位", "{s}标准不统一")
EXPERIENCE_TITLES = ("{s}的“网格化”做法", "以数字化手段提升{s}水平", "{s}闭环管理经验")
SUGGESTION_TITLES = ("关于加强{s}的建议", "建议完善{s}相关标准", "关于{s}政策支持的建议")
PLACES = ("园区东区", "园区西区", "精细化工片区", "石化基地", "港区罐区", "新材料产业区")
FINDINGS = (
    "检查发现部分企业相关制度未及时修订，现场执行与制度要求存在差距。",
    "抽查的企业中，有的作业票证填写不完整，审批人签字缺失，气体分析记录与作业时间不符。",
    "个别企业监测数据未接入园区智能化管控平台，报警信息不能及时推送到责任人。",
    "中小企业专业技术人员不足，安全管理主要依靠外部服务机构，日常管理存在断档。",
    "园区周边道路危险化学品运输车辆临时停放现象较多，存在交通和泄漏双重风险。",
)  # fmt: skip
CAUSES = (
    "企业安全投入不足，基层管理人员培训不到位。", "现行标准对具体做法规定不够明确。",
    "园区监管力量有限，检查频次难以覆盖全部企业。", "部分设施建设年代较早，改造资金缺口较大。",
)  # fmt: skip
PRACTICES = (
    "园区建立承包商“黑名单”制度，对违章作业的承包商实行全园区禁入，并将作业票证统一纳入电子化管理。",
    "依托智能化管控平台，对重大危险源实时监测，报警信息自动推送至企业和园区两级责任人，形成闭环。",
    "组织第三方专家对园区企业开展“一企一策”诊断，逐项建立整改台账，园区每月调度进展。",
)  # fmt: skip
OUTCOMES = (
    "实施一年来，特殊作业违章次数下降{n}%，未发生一般及以上生产安全事故。",
    "报警平均处置时间由{m}分钟缩短至{k}分钟，隐患整改率达到{p}%。",
    "覆盖企业{e}家，累计排查整改隐患{h}项。",
)  # fmt: skip
# The last step of the history for each final status: (action, from status, note).
FINAL_STEPS: dict[Status, tuple[str, str, str | None]] = {
    Status.RETURNED: ("return", "in_review", "请补充问题涉及的企业名单和现场检查记录。"),
    Status.ACCEPTED: ("accept", "in_review", None),
    Status.REJECTED: ("reject", "in_review", "与本单位此前报送的材料内容重复。"),
    Status.REPORTED: ("report", "accepted", None),
    Status.WITHDRAWN: ("withdraw", "submitted", None),
}
DEPARTMENTS = ("应急管理部", "工业和信息化部", "生态环境部", "交通运输部", "国家市场监督管理总局")
SAMPLE_PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@dataclass
class _Author:
    user_id: int
    organisation_id: int
    region_code: str | None
    name: str


def _authors() -> list[_Author]:
    rows = db.session.execute(
        select(User.id, User.organisation_id, Organisation.region_code, User.name)
        .join(Organisation, Organisation.id == User.organisation_id)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == Role.SUBMITTER, Organisation.kind != OrgKind.FEDERATION)
        .order_by(User.id)
    ).all()
    return [_Author(*row) for row in rows]


def _campaigns(creator_id: int, today: date) -> list[Campaign]:
    existing = list(db.session.scalars(select(Campaign).order_by(Campaign.id)))
    if existing:
        return existing
    targets = list(
        db.session.scalars(
            select(Organisation).where(Organisation.kind != OrgKind.FEDERATION, Organisation.active)
        )
    )
    specs = (
        (
            "2026年第三季度《规划方案》实施情况报送",
            "2026年第三季度",
            date(2026, 7, 1),
            date(2026, 9, 30),
        ),
        (
            "2026年第四季度《规划方案》实施情况报送",
            "2026年第四季度",
            today - timedelta(days=7),
            today + timedelta(days=14),
        ),
    )
    campaigns = []
    for title, period, opens, due in specs:
        campaign = Campaign(
            title=title,
            period=period,
            opens_on=opens,
            due_on=due,
            instructions="请围绕《规划方案》各项任务，报送典型经验、发现问题和政策建议。",
            target_description=f"全部填报单位（{len(targets)}）",
            created_by_id=creator_id,
            targets=targets,
        )
        db.session.add(campaign)
        campaigns.append(campaign)
    db.session.flush()
    return campaigns


def _reserve_references(year: int, count: int) -> int:
    """Reserve ``count`` numbers of ``year`` at once; returns the first."""
    current = db.session.get(ReferenceCounter, year)
    if current is None:
        current = ReferenceCounter(year=year, last=0)
        db.session.add(current)
        db.session.flush()
    first = current.last + 1
    current.last += count
    db.session.flush()
    return first


def _text(rng: random.Random, kind: Kind, subject: str) -> tuple[str, str, dict[str, str]]:
    place = rng.choice(PLACES)
    finding = "".join(rng.sample(FINDINGS, k=rng.randint(1, 3)))
    if kind == Kind.PROBLEM:
        title = rng.choice(PROBLEM_TITLES).format(s=subject)
        sections = {
            "description": f"{place}在{subject}方面，{finding}",
            "cause": rng.choice(CAUSES),
            "impact": f"如不及时解决，{subject}方面的风险可能在检修和开停车期间集中暴露。",
            "suggestion": f"建议园区统一{subject}管理要求，并纳入年度安全考核。",
        }
    elif kind == Kind.EXPERIENCE:
        title = rng.choice(EXPERIENCE_TITLES).format(s=subject)
        outcome = rng.choice(OUTCOMES).format(
            n=rng.randint(20, 70),
            m=rng.randint(15, 40),
            k=rng.randint(3, 10),
            p=rng.randint(92, 100),
            e=rng.randint(20, 180),
            h=rng.randint(100, 2000),
        )
        sections = {
            "practice": f"针对{subject}，{rng.choice(PRACTICES)}",
            "outcome": outcome,
            "replicability": "适用于企业数量较多、监管力量有限的省级及以上化工园区。",
        }
    else:
        title = rng.choice(SUGGESTION_TITLES).format(s=subject)
        sections = {
            "description": f"调研发现，{finding}"
            f"现行规定对{subject}的要求不够具体，基层执行尺度不一。",
            "suggestion": f"建议制定{subject}的专项指导意见，明确责任分工、技术要求和检查标准。",
            "basis": "《危险化学品安全专项整治三年行动实施方案》《化工园区安全风险排查治理导则》",
            "department": rng.choice(DEPARTMENTS),
        }
    summary = f"{place}{subject}：{finding[:60]}"
    return title, summary, sections


def _chunks(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]


def seed_submissions(count: int, *, seed: int, upload_dir: Path, attachments: int = 12) -> int:
    """Create ``count`` demo submissions with links, history and a few attachments."""
    rng = random.Random(f"submissions:{seed}")  # noqa: S311 (demo data)
    authors = _authors()
    if not authors:
        return 0
    staff_id = (
        db.session.scalar(
            select(User.id).join(UserRole).where(UserRole.role == Role.REVIEWER).limit(1)
        )
        or authors[0].user_id
    )
    now = datetime.now(UTC)
    campaigns = _campaigns(staff_id, now.date())
    targeted = {row[0] for row in db.session.execute(select(campaign_target.c.organisation_id))}
    plan_ids = list(db.session.scalars(select(PlanItem.id).where(PlanItem.active)))
    tag_ids = list(db.session.scalars(select(Tag.id).where(Tag.active)))
    first_ref = _reserve_references(now.year, count)
    first_id = int(db.session.scalar(select(func.coalesce(func.max(Submission.id), 0))) or 0) + 1
    statuses = list(STATUS_WEIGHTS)
    status_weights = list(STATUS_WEIGHTS.values())
    kinds = list(KIND_WEIGHTS)
    kind_weights = list(KIND_WEIGHTS.values())

    submissions, plan_links, tag_links, events = [], [], [], []
    for offset in range(count):
        sid = first_id + offset
        author = rng.choice(authors)
        kind = rng.choices(kinds, kind_weights)[0]
        status = rng.choices(statuses, status_weights)[0]
        created = now - timedelta(days=rng.uniform(0, 365), seconds=rng.randint(0, 86_400))
        sent = status not in (Status.DRAFT, Status.PENDING_APPROVAL)
        submitted_at = (
            min(created + timedelta(hours=rng.uniform(1, 72)), now - timedelta(minutes=5))
            if sent
            else None
        )
        campaign = (
            rng.choice(campaigns)
            if campaigns and author.organisation_id in targeted and rng.random() < 0.6
            else None
        )
        title, summary, sections = _text(rng, kind, rng.choice(SUBJECTS))
        submissions.append(
            {
                "id": sid,
                "reference": f"FK-{now.year}-{first_ref + offset:06d}",
                "organisation_id": author.organisation_id,
                "author_id": author.user_id,
                "campaign_id": campaign.id if campaign else None,
                "kind": kind.value,
                "status": status.value,
                "title": title,
                "summary": summary,
                "sections_json": json.dumps(sections, ensure_ascii=False),
                "region_code": author.region_code,
                "sector": rng.choice(SECTORS[:5]),
                "contact_name": author.name,
                "contact_phone": f"13{rng.randint(0, 9)}{rng.randrange(10**8):08d}",
                "sensitivity": rng.choices(list(Sensitivity), [1, 8, 2])[0].value,
                "anonymous": rng.random() < 0.1,
                "idempotency_key": f"demo-{seed}-{sid}",
                # No revision rows are generated (they would double the text), so none is named.
                "revision": 0,
                "late": bool(campaign and submitted_at and submitted_at.date() > campaign.due_on),
                "version": 1,
                "created_at": created,
                "updated_at": submitted_at or created,
                "submitted_at": submitted_at,
            }
        )
        for plan_id in rng.sample(plan_ids, k=rng.randint(1, 3)):
            plan_links.append({"submission_id": sid, "plan_item_id": plan_id})
        for tag_id in rng.sample(tag_ids, k=rng.randint(0, 3)):
            tag_links.append({"submission_id": sid, "tag_id": tag_id})
        events.append(
            {
                "submission_id": sid,
                "at": created,
                "actor_id": author.user_id,
                "action": "created",
                "from_status": None,
                "to_status": "draft",
                "note": None,
            }
        )
        if sent or status == Status.PENDING_APPROVAL:
            events.append(
                {
                    "submission_id": sid,
                    "at": submitted_at or created + timedelta(hours=1),
                    "actor_id": author.user_id,
                    "action": "submit",
                    "from_status": "draft",
                    "to_status": "submitted" if sent else "pending_approval",
                    "note": None,
                }
            )
        if status in (
            Status.IN_REVIEW,
            Status.RETURNED,
            Status.ACCEPTED,
            Status.REJECTED,
            Status.REPORTED,
        ):
            events.append(
                {
                    "submission_id": sid,
                    "at": submitted_at,
                    "actor_id": staff_id,
                    "action": "start_review",
                    "from_status": "submitted",
                    "to_status": "in_review",
                    "note": None,
                }
            )
        final = FINAL_STEPS.get(status)
        if final is not None:
            action, source, note = final
            events.append(
                {
                    "submission_id": sid,
                    "at": min(submitted_at + timedelta(days=rng.uniform(1, 20)), now)
                    if submitted_at
                    else created,
                    "actor_id": author.user_id if action == "withdraw" else staff_id,
                    "action": action,
                    "from_status": source,
                    "to_status": status.value,
                    "note": note,
                }
            )
    for rows, table in (
        (submissions, Submission.__table__),
        (plan_links, submission_plan_item),
        (tag_links, submission_tag),
        (events, Event.__table__),
    ):
        for chunk in _chunks(rows):
            db.session.execute(insert(cast(Any, table)), chunk)
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(
            text(
                "SELECT setval(pg_get_serial_sequence('submission', 'id'), "
                "(SELECT max(id) FROM submission))"
            )
        )
    _attach_samples(submissions[:attachments], upload_dir)
    db.session.flush()
    # Core inserts bypass the ORM hooks that keep the Chinese search index in step.
    search.reindex(db.session, range(first_id, first_id + count))
    # After a bulk load the query planner needs fresh statistics: SQLite has none until ANALYZE
    # runs, and without them it sorts the whole review queue rather than walk its date index.
    db.session.execute(text("ANALYZE"))
    return count


def _attach_samples(rows: list[dict[str, Any]], upload_dir: Path) -> None:
    """A few real PDF files so that downloads can be tried in the demo."""
    import hashlib
    import io

    temp_dir = upload_dir / ".tmp"
    for row in rows:
        name = f"{row['title'][:30]}（检查记录）.pdf"
        checked = uploads.receive_upload(
            io.BytesIO(SAMPLE_PDF),
            name,
            temp_dir=temp_dir,
            max_bytes=1024 * 1024,
        )
        stored = uploads.store(checked, upload_dir)
        db.session.add(
            Attachment(
                submission_id=row["id"],
                original_name=checked.original_name,
                stored_name=stored,
                media_type=checked.media_type,
                size=checked.size,
                sha256=hashlib.sha256(SAMPLE_PDF).hexdigest(),
                uploader_id=row["author_id"],
            )
        )
