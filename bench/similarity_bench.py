"""Similar-submission detection: quality on a labelled set, lookup time at scale.

Run with ``.venv/bin/python -m bench.similarity_bench``. SQLite in a temporary folder by default,
PostgreSQL when ``FEEDBACK_BENCH_DATABASE_URL`` is set (an empty database: it is initialised
here). ``FEEDBACK_BENCH_SUBMISSIONS`` sets the scale (default 100,000). Appends a section to
``bench/RESULTS.md``.

Quality: 60 base problem texts on different topics, each with 3 paraphrases made by
deterministic edits (synonym swaps, sentence reordering, a clause added or removed, numbers
changed). A pair is "the same issue" when both texts come from the same base; a pair is predicted
similar when it shares an LSH bucket and its estimated Jaccard similarity is ≥ the threshold —
the rule :func:`feedback.review.similarity.update` applies.
"""

from __future__ import annotations

import itertools
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask

from feedback import create_app
from feedback.extensions import db
from feedback.review import similarity

RESULTS = Path(__file__).with_name("RESULTS.md")
SUBMISSIONS = int(os.environ.get("FEEDBACK_BENCH_SUBMISSIONS", "100000"))
LOOKUPS = int(os.environ.get("FEEDBACK_BENCH_LOOKUPS", "200"))

TOPICS = (
    "承包商动火作业票证", "受限空间作业审批", "重大危险源在线监测", "危化品运输车辆停车场",
    "园区封闭化卡口", "可燃气体报警器校验", "老旧装置改造资金", "精细化工反应风险评估",
    "特种作业人员持证", "双重预防机制平台", "专职消防队伍", "安全仪表系统投用",
    "主要负责人培训考核", "中小企业技术服务", "外部安全防护距离", "加氢站选址审批",
    "产业转移项目准入", "危化品二维码追溯", "报警信息推送处置", "装置开停车方案",
    "污水处理厂异味投诉", "固废暂存库容量", "VOCs无组织排放", "雨污分流管网",
    "园区应急物资储备", "事故应急池容积", "消防水源管网压力", "园区道路限速管理",
    "罐区防火堤完整性", "LNG储罐泄漏预警", "液氯钢瓶充装", "光气化工艺自动化",
    "硝化工艺温度联锁", "氯碱电解槽检修", "合成氨装置节能", "化肥库存周转",
    "农药中间体废水", "染料行业清洁生产", "涂料企业搬迁入园", "聚氨酯原料供应",
    "有机硅单体价格", "磷石膏综合利用", "盐湖提锂工艺", "氟化工副产氢氟酸",
    "园区蒸汽管网热损", "集中供热价格", "工业用地亩均税收", "项目环评审批时限",
    "安全生产责任保险", "第三方检测机构资质", "化工专业人才招聘", "职业病危害因素检测",
    "夜间巡检人员配置", "防雷防静电检测", "仓储企业分类存放", "管道穿越公路审批",
    "园区边界噪声超标", "危废跨省转移审批", "智慧园区数据共享", "化工企业信用评价",
)  # fmt: skip
FINDINGS = (
    "检查发现{n}家企业{t}方面存在制度未及时修订的问题，现场执行与要求存在差距。",
    "抽查中有{n}家单位的{t}记录填写不完整，相关负责人签字缺失。",
    "{t}相关数据未接入园区平台，信息不能及时推送到责任人。",
    "部分企业对{t}重视不够，日常管理主要依靠外部机构，存在断档。",
    "走访中{n}家企业反映{t}办理周期长、要件多，往返跑动次数多。",
    "{t}的台账与实际不符，第{n}季度有多项指标未按期上报。",
    "夜查时看到{t}现场无人值守，应急处置卡放置位置不明显。",
    "群众热线今年收到{n}起涉及{t}的诉求，集中在周边村镇。",
)
CAUSES = (
    "主要原因是企业投入不足，基层人员培训不到位。",
    "现行标准对{t}的具体要求规定不够明确。",
    "园区监管力量有限，检查频次难以覆盖全部企业。",
    "{t}涉及多个部门，职责边界不清，相互推诿。",
    "设施建设年代较早，{t}改造资金缺口较大。",
    "市场价格波动大，企业对{t}缺乏长期打算。",
)
SUGGESTIONS = (
    "建议园区统一{t}管理要求，并纳入年度考核。",
    "建议主管部门出台{t}专项指导意见，明确责任分工。",
    "建议加强{t}方面的培训和检查，发现问题及时整改。",
    "建议将{t}纳入智慧园区平台统一监管，实现闭环管理。",
    "建议省级财政对{t}给予专项资金支持。",
    "建议建立{t}联席会议制度，定期会商解决难点。",
)
EXTRA_CLAUSES = (
    "这一情况在检修期间尤为突出。",
    "群众对此反映较多。",
    "该问题已多次在园区例会上提出。",
    "此前已组织过一次专项整治。",
)
SYNONYMS = (
    ("检查发现", "排查中发现"), ("部分企业", "一些企业"), ("存在", "出现"), ("问题", "情况"),
    ("及时", "尽快"), ("建议", "提议"), ("加强", "强化"), ("不够明确", "不够清晰"),
    ("主要原因是", "究其原因，主要是"), ("园区", "化工园区"), ("不到位", "不充分"),
    ("统一", "规范"), ("负责人", "责任人"), ("相关", "有关"),
)  # fmt: skip


def _base_texts(rng: random.Random) -> list[list[str]]:
    """Per topic, the sentences of its base text (a finding or two, a cause, a suggestion)."""
    bases = []
    for topic in TOPICS:
        findings = rng.sample(FINDINGS, k=rng.randint(1, 2))
        sentences = [f"{topic}问题反映"]
        sentences += [f.format(t=topic, n=rng.randint(2, 9)) for f in findings]
        sentences.append(rng.choice(CAUSES).format(t=topic))
        sentences.append(rng.choice(SUGGESTIONS).format(t=topic))
        bases.append(sentences)
    return bases


def _paraphrase(sentences: list[str], rng: random.Random) -> str:
    """A deterministic rewording: synonyms, order, a clause more or less, other numbers."""
    text = list(sentences)
    body = text[1:]
    rng.shuffle(body)  # sentence order
    if len(body) > 2 and rng.random() < 0.5:
        body.pop(rng.randrange(len(body)))  # a clause removed
    else:
        body.insert(rng.randrange(len(body) + 1), rng.choice(EXTRA_CLAUSES))  # a clause added
    joined = text[0] + "".join(body)
    for old, new in rng.sample(SYNONYMS, k=5):
        joined = joined.replace(old, new)
    return "".join(str(rng.randint(2, 9)) if ch.isdigit() else ch for ch in joined)


def labelled_set(seed: int = 7) -> list[tuple[int, str]]:
    """(group, text): each base text and its 3 paraphrases share a group."""
    rng = random.Random(seed)
    items = []
    for group, sentences in enumerate(_base_texts(rng)):
        items.append((group, "".join(sentences)))
        items.extend((group, _paraphrase(sentences, rng)) for _ in range(3))
    return items


def quality(threshold: float) -> dict[str, float]:
    """Precision and recall over all pairs of the labelled set at ``threshold``."""
    items = labelled_set()
    sigs = [similarity.signature(text) for _group, text in items]
    keys = [set(enumerate(similarity.band_keys(sig))) for sig in sigs]
    tp = fp = fn = 0
    same_scores, other_max = [], 0.0
    for i, j in itertools.combinations(range(len(items)), 2):
        same = items[i][0] == items[j][0]
        score = similarity.estimate(sigs[i], sigs[j])
        predicted = bool(keys[i] & keys[j]) and score >= threshold
        tp += same and predicted
        fp += (not same) and predicted
        fn += same and not predicted
        if same:
            same_scores.append(score)
        else:
            other_max = max(other_max, score)
    return {
        "texts": len(items),
        "positives": tp + fn,
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else 1.0,
        "same_median": statistics.median(same_scores),
        "same_min": min(same_scores),
        "unrelated_max": other_max,
    }


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _make_app(folder: Path) -> Flask:
    url = os.environ.get("FEEDBACK_BENCH_DATABASE_URL") or f"sqlite:///{folder / 'bench.sqlite3'}"
    return create_app(
        "development",
        {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "b" * 40, "UPLOAD_DIR": str(folder)},
    )


def scale(app: Flask) -> dict[str, float]:
    """Seed, rebuild, then time ``similar_to`` and ``update`` for one submission at a time."""
    from sqlalchemy import func, select

    from feedback.models import Role, Status, Submission, User, UserRole
    from feedback.models.similarity import SimilarityLink

    runner = app.test_cli_runner()
    result = runner.invoke(args=["init"])
    assert result.exit_code == 0, result.output
    started = time.perf_counter()
    result = runner.invoke(args=["seed-demo", "--seed", "1", "--submissions", str(SUBMISSIONS)])
    assert result.exit_code == 0, result.output
    seeded = time.perf_counter() - started
    stats = similarity.rebuild(db.session)
    db.session.commit()
    reviewer = db.session.scalars(
        select(User).join(UserRole).where(UserRole.role == Role.REVIEWER).limit(1)
    ).one()
    ids = db.session.scalars(
        select(Submission.id).where(Submission.status.in_([Status.SUBMITTED, Status.ACCEPTED]))
    ).all()
    rng = random.Random(3)
    sample = rng.sample(list(ids), k=min(LOOKUPS, len(ids)))
    lookups, found = [], []
    for sid in sample:
        db.session.expunge_all()  # nothing cached between lookups, as between requests
        begin = time.perf_counter()
        submission = db.session.get_one(Submission, sid)
        rows = similarity.similar_to(db.session, submission, reviewer)
        similarity.cluster_summary(db.session, submission, reviewer)
        lookups.append((time.perf_counter() - begin) * 1000)
        found.append(len(rows))
    updates = []
    for sid in sample[:50]:
        begin = time.perf_counter()
        similarity.update(db.session, [sid])
        updates.append((time.perf_counter() - begin) * 1000)
    db.session.rollback()
    links = db.session.scalar(select(func.count()).select_from(SimilarityLink)) or 0
    return {
        **stats,
        "seed_s": seeded,
        "links_in_db": links,
        "lookup_p50": statistics.median(lookups),
        "lookup_p95": _percentile(lookups, 0.95),
        "update_p50": statistics.median(updates),
        "update_p95": _percentile(updates, 0.95),
        "found_mean": statistics.mean(found),
    }


def main() -> None:
    """Measure quality and scale; append the results."""
    rows = {t: quality(t) for t in sorted({0.3, 0.4, 0.5, 0.6, similarity.THRESHOLD})}
    for t, q in rows.items():
        print(f"threshold {t}: {q}")
    with tempfile.TemporaryDirectory() as tmp:
        app = _make_app(Path(tmp))
        with app.app_context():
            numbers = scale(app)  # connects first, so the server version below is known
            version = ".".join(str(v) for v in db.engine.dialect.server_version_info or ())
            database = f"{db.engine.dialect.name} {version}"
            db.session.remove()
            db.engine.dispose()
    print(numbers)
    at = rows[similarity.THRESHOLD]
    machine = (
        f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}"
    )
    lines = [
        "",
        f"## Similar submissions ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"`bench/similarity_bench.py`)",
        "",
        f"- Machine: {machine}; Python {sys.version.split()[0]}; database: {database}.",
        f"- Method: character 3-grams, one-permutation MinHash ({similarity.NUM_HASHES} values), "
        f"LSH {similarity.BANDS}×{similarity.ROWS}, link threshold {similarity.THRESHOLD}, "
        f"≤ {similarity.MAX_LINKS} detected links per submission.",
        f"- Labelled set: {at['texts']:.0f} texts (60 topics × base + 3 paraphrases), "
        f"{at['positives']:.0f} same-issue pairs. Same-issue score median "
        f"{at['same_median']:.2f}, min {at['same_min']:.2f}; highest unrelated "
        f"{at['unrelated_max']:.2f}.",
        "",
        "| threshold | precision | recall |",
        "| --- | --- | --- |",
        *(f"| {t} | {q['precision']:.3f} | {q['recall']:.3f} |" for t, q in rows.items()),
        "",
        f"- Scale: {numbers['submissions']:.0f} submissions "
        f"(`seed-demo`, {numbers['seed_s']:.0f} s);"
        f" `rebuild()` {numbers['total_s']:.1f} s (signatures {numbers['signatures_s']:.1f} s, "
        f"candidates {numbers['candidates_s']:.1f} s, links {numbers['links_s']:.1f} s), "
        f"{numbers['links_in_db']:.0f} links.",
        f"- Lookup (`similar_to` + `cluster_summary` as a reviewer, {LOOKUPS} submissions, "
        f"{numbers['found_mean']:.1f} results on average): p50 {numbers['lookup_p50']:.1f} ms, "
        f"p95 {numbers['lookup_p95']:.1f} ms. Incremental `update()` of one submission: "
        f"p50 {numbers['update_p50']:.1f} ms, p95 {numbers['update_p95']:.1f} ms.",
        "",
    ]
    with RESULTS.open("a", encoding="utf-8") as results:
        results.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
