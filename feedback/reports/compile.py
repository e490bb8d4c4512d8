"""From a report's items to the data of its workbook: selected, worded and anonymised.

Everything here is written in Chinese whatever the compiler's interface language: the workbook
is a document for the ministry. Internal material never appears: direct items are checked when
added, and a consolidated suggestion lists only its ministry-visible sources.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import force_locale

from feedback import labels
from feedback.codes.regions import province_of
from feedback.filing.kinds import KINDS, Kind
from feedback.filing.workflow import STATUS_LABELS
from feedback.formatting import CHINA
from feedback.i18n import gettext as _
from feedback.models import OrgKind, PlanItem, Report, ReportItem, Submission
from feedback.reports import services, xlsx
from feedback.taxonomy.services import plan_tree

# The rows of the 统计 sheet: the six systems, five projects and five sectors, plus the general
# requirements and the guarantees (codes are hierarchical: S3.1 counts under S3).
STATISTIC_DEPTH_ROOTS = ("S", "E", "R")


def province_name(submission: Submission) -> str:
    """The province of a submission (its own region, else its organisation's)."""
    code = submission.region_code or submission.organisation.region_code
    region = province_of(code) if code else None
    return region.name if region else ""


def organisation_for_ministry(submission: Submission) -> str:
    """The organisation's name, or its kind and province when it asked for anonymity:
    某省级化工园区（江苏省）."""
    organisation = submission.organisation
    if not submission.anonymous:
        return organisation.name
    kind = str(labels.ORG_KIND.get(organisation.kind, ""))
    level = ""
    if organisation.kind == OrgKind.PARK and organisation.park_level:
        level = str(labels.PARK_LEVEL.get(organisation.park_level, ""))
    province = province_name(submission)
    return f"某{level}{kind}" + (f"（{province}）" if province else "")


def _ministry_sources(item: ReportItem) -> list[Submission]:
    if item.submission is not None:
        return [item.submission]
    assert item.consolidated is not None
    return [s for s in item.consolidated.sources if services.ineligible_reason(s) is None]


def _statistic_rows() -> list[PlanItem]:
    tree = plan_tree()
    return [
        item
        for item in tree
        if (item.parent is not None and item.parent.code in STATISTIC_DEPTH_ROOTS)
        or item.code in ("G", "B")
    ]


def _row_of(code: str, rows: dict[str, PlanItem]) -> str | None:
    # "S3.1" counts under "S3", "G.T1" under "G"; "S" alone has no row of its own.
    while code not in rows:
        if "." not in code:
            return None
        code = code.rsplit(".", 1)[0]
    return code


@dataclass(frozen=True)
class Compiled:
    """The workbook's data and the counts shown around it."""

    data: xlsx.ReportData
    sources: list[Submission]


def compile_report(report: Report, *, number: int, generated_at: datetime) -> Compiled:
    """The data of version ``number`` of ``report``."""
    with force_locale("zh_CN"):
        return _compile(report, number=number, generated_at=generated_at)


def _compile(report: Report, *, number: int, generated_at: datetime) -> Compiled:
    suggestions: list[xlsx.Suggestion] = []
    problems: list[xlsx.Problem] = []
    experiences: list[xlsx.Experience] = []
    sources: dict[int, Submission] = {}
    rows = {item.code: item for item in _statistic_rows()}
    kind_names = {kind: str(KINDS[kind].label) for kind in Kind}
    by_plan: dict[str, Counter[str]] = {code: Counter() for code in rows}

    for item in report.items:
        kind = services.item_kind(item)
        text = services.worded(item)
        behind = _ministry_sources(item)
        for submission in behind:
            sources.setdefault(submission.id, submission)
        plan_items = services.plan_items_of(item)
        plan_labels = [p.label for p in plan_items]
        for code in {_row_of(p.code, rows) for p in plan_items} - {None}:
            by_plan[str(code)][kind_names[kind]] += 1
        references = [s.reference or "" for s in behind]
        # One entry per distinct organisation (two anonymised parks may read the same).
        organisations = [organisation_for_ministry(s) for s in _distinct_orgs(behind)]
        if kind == Kind.SUGGESTION:
            suggestions.append(
                xlsx.Suggestion(
                    title=text["title"],
                    problem=text["description"],
                    suggestion=text["suggestion"],
                    basis=text["basis"],
                    departments=_split(text["department"]),
                    plan_items=plan_labels,
                    organisations=organisations,
                    references=references,
                )
            )
        elif kind == Kind.PROBLEM:
            submission = behind[0]
            problems.append(
                xlsx.Problem(
                    problem=_joined_title(text["title"], text["description"]),
                    cause=text["cause"],
                    impact=text["impact"],
                    organisation=organisations[0],
                    province=province_name(submission),
                    plan_items=plan_labels,
                    tags=[t.name for t in submission.tags],
                    references=references,
                )
            )
        else:
            submission = behind[0]
            experiences.append(
                xlsx.Experience(
                    title=text["title"],
                    practice=text["practice"],
                    outcome=text["outcome"],
                    replicability=text["replicability"],
                    organisation=organisations[0],
                    contact="" if submission.anonymous else submission.contact_name or "",
                    references=references,
                )
            )

    ordered_sources = sorted(sources.values(), key=lambda s: s.reference or "")
    source_rows = [
        xlsx.Source(
            reference=s.reference or "",
            organisation=organisation_for_ministry(s),
            submitted_on=_china_day(s.submitted_at or s.created_at),
            status=str(STATUS_LABELS[s.status]),
        )
        for s in ordered_sources
    ]
    columns = [kind_names[Kind.SUGGESTION], kind_names[Kind.PROBLEM], kind_names[Kind.EXPERIENCE]]
    provinces = Counter(province_name(s) or _("未填写") for s in ordered_sources)
    org_kinds = Counter(str(labels.ORG_KIND.get(s.organisation.kind, "")) for s in ordered_sources)
    statistics = [
        xlsx.CountTable(
            title=_("按材料类型和规划条目统计"),
            label_header=_("规划条目"),
            columns=columns,
            rows=[(rows[code].label, [by_plan[code][c] for c in columns]) for code in rows],
        ),
        xlsx.CountTable(
            title=_("来源材料按省份统计"),
            label_header=_("省份"),
            columns=[_("材料数")],
            rows=[(name, [count]) for name, count in sorted(provinces.items())],
        ),
        xlsx.CountTable(
            title=_("来源材料按单位类型统计"),
            label_header=_("单位类型"),
            columns=[_("材料数")],
            rows=[(name, [count]) for name, count in sorted(org_kinds.items())],
        ),
    ]
    period = ""
    if report.period_start and report.period_end:
        period = (
            f"{xlsx.official_date(report.period_start)}至{xlsx.official_date(report.period_end)}"
        )
    data = xlsx.ReportData(
        title=report_title(report),
        organisation=report.issuer,
        report_date=_china_day(generated_at),
        version=number,
        generated_at=generated_at,
        period=period,
        suggestions=suggestions,
        problems=problems,
        experiences=experiences,
        sources=source_rows,
        statistics=statistics,
        notes=(_("本报告不含仅限联合会内部使用的材料；要求匿名的单位以单位类型和所在省份表示。"),),
    )
    return Compiled(data, ordered_sources)


def report_title(report: Report) -> str:
    """The title as the workbook prints it, with the period: …汇总报告（2026年第四季度）."""
    if report.period_label and report.period_label not in report.title:
        return f"{report.title}（{report.period_label}）"
    return report.title


def _distinct_orgs(submissions: list[Submission]) -> list[Submission]:
    seen: dict[int, Submission] = {}
    for submission in submissions:
        seen.setdefault(submission.organisation_id, submission)
    return list(seen.values())


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.replace("，", "、").replace(",", "、").split("、")
            if part.strip()]  # fmt: skip


def _joined_title(title: str, description: str) -> str:
    return f"{title}\n{description}" if description else title


def _china_day(moment: datetime) -> date:
    return moment.astimezone(CHINA).date()


def build_workbook(report: Report, *, number: int, generated_at: datetime) -> bytes:
    """The bytes of version ``number``'s workbook (the same input gives the same bytes)."""
    return xlsx.report_bytes(compile_report(report, number=number, generated_at=generated_at).data)


def workbook_filename(report: Report, number: int) -> str:
    """汇总报告-12-第2版.xlsx (ASCII-safe enough for every browser via RFC 5987)."""
    return f"汇总报告-{report.id}-第{number}版.xlsx"
