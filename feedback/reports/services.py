"""Reports to the ministry: pull items in, order and reword them, freeze, send, record answers.

Only accepted (or already reported) submissions whose organisation allowed it (sensitivity not
``internal``) and consolidated suggestions enter a report. The originals are never changed: a
report item keeps its own wording. Freezing stores version N — the workbook's bytes, their
SHA-256 and a snapshot of the items — and editing goes on as version N+1.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from feedback.audit.services import record
from feedback.exceptions import PermissionDenied, StaleVersion, ValidationFailed
from feedback.extensions import db
from feedback.filing import workflow
from feedback.filing.kinds import KINDS, Kind, Sensitivity
from feedback.filing.text import clean_text
from feedback.formatting import china_today
from feedback.i18n import gettext as _
from feedback.models import (
    STAFF_ROLES,
    ConsolidatedSource,
    ConsolidatedSuggestion,
    MinistryResponse,
    Report,
    ReportItem,
    ReportVersion,
    Role,
    Status,
    Submission,
    User,
    Verdict,
    utcnow,
)
from feedback.notifications.services import notify, organisation_members
from feedback.taxonomy.services import plan_tree

REPORTABLE = frozenset({Status.ACCEPTED, Status.REPORTED})
ITEMS_MAX = 2000
TEXT_MAX = 10_000
ISSUER = "中国石油和化学工业联合会"

# What a compiler may reword, per kind of item (a consolidated suggestion reads as a suggestion).
WORDING_FIELDS: dict[Kind, tuple[str, ...]] = {
    Kind.SUGGESTION: ("title", "description", "suggestion", "basis", "department"),
    Kind.PROBLEM: ("title", "description", "cause", "impact"),
    Kind.EXPERIENCE: ("title", "practice", "outcome", "replicability"),
}


def require_compiler(actor: User) -> None:
    """Reports are made by compilers (DESIGN.md §2); reviewers may read them."""
    if not actor.has_role(Role.COMPILER):
        raise PermissionDenied(_("只有汇编人员可以编辑、冻结和报送汇总报告。"))


def require_staff(actor: User) -> None:
    """Federation staff only."""
    if not actor.has_role(*STAFF_ROLES):
        raise PermissionDenied(_("只有联合会工作人员可以查看汇总报告。"))


# -- the report itself ---------------------------------------------------------------------------


@dataclass
class ReportInput:
    """Title, period and scope of a report, as the form sends them."""

    title: str = ""
    period_label: str = ""
    period_start: date | None = None
    period_end: date | None = None
    campaign_id: int | None = None
    issuer: str = ISSUER


def _check_meta(data: ReportInput) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    title = clean_text(data.title, multiline=False)
    period = clean_text(data.period_label, multiline=False)
    issuer = clean_text(data.issuer, multiline=False) or ISSUER
    if not title:
        errors["title"] = [_("请填写报告标题。")]
    elif len(title) > 200:
        errors["title"] = [_("标题不能超过 %(n)d 个字。", n=200)]
    if not period:
        errors["period_label"] = [_("请填写报告期，如“2026年第四季度”。")]
    elif len(period) > 60:
        errors["period_label"] = [_("报告期不能超过 %(n)d 个字。", n=60)]
    if len(issuer) > 100:
        errors["issuer"] = [_("报送单位不能超过 %(n)d 个字。", n=100)]
    if data.period_start and data.period_end and data.period_end < data.period_start:
        errors["period_end"] = [_("结束日期不能早于开始日期。")]
    if errors:
        raise ValidationFailed(errors)
    return {
        "title": title,
        "period_label": period,
        "period_start": data.period_start,
        "period_end": data.period_end,
        "campaign_id": data.campaign_id,
        "issuer": issuer,
    }


def create(actor: User, data: ReportInput) -> Report:
    """Start a report (its first draft)."""
    require_compiler(actor)
    report = Report(**_check_meta(data), created_by=actor)
    db.session.add(report)
    db.session.flush()
    record("report_create", actor=actor, object_type="report", object_id=report.id)
    return report


def update(actor: User, report: Report, data: ReportInput, expected_version: int) -> None:
    """Change title, period or scope of the draft."""
    require_compiler(actor)
    _check_version(report, expected_version)
    for name, value in _check_meta(data).items():
        setattr(report, name, value)
    _touch(report)
    record("report_edit", actor=actor, object_type="report", object_id=report.id)
    db.session.flush()


def _check_version(report: Report, expected_version: int) -> None:
    if expected_version != report.version:
        raise StaleVersion(_("这份报告已被他人修改。"))


def _touch(report: Report) -> None:
    # Every change of items moves the report's version counter, so stale forms are caught.
    report.updated_at = utcnow()


# -- items ---------------------------------------------------------------------------------------


def ineligible_reason(submission: Submission) -> str | None:
    """Why a submission cannot enter a ministry report, or None if it can."""
    if submission.sensitivity == Sensitivity.INTERNAL:
        return str(_("仅限联合会内部使用的材料不能报送应急管理部。"))
    if submission.status not in REPORTABLE:
        return str(_("只有已采用的材料可以纳入报告。"))
    return None


@dataclass
class AddResult:
    """What adding items did: added, already in, and refused (with why)."""

    added: int = 0
    already: int = 0
    refused: dict[str, int] = field(default_factory=dict)  # reason -> count

    @property
    def refused_count(self) -> int:
        return sum(self.refused.values())


def add_items(
    actor: User,
    report: Report,
    *,
    submissions: Sequence[Submission] = (),
    suggestions: Sequence[ConsolidatedSuggestion] = (),
) -> AddResult:
    """Pull submissions and consolidated suggestions into the draft, at the end."""
    require_compiler(actor)
    result = AddResult()
    present = {item.key for item in report.items}
    if len(present) + len(submissions) + len(suggestions) > ITEMS_MAX:
        raise ValidationFailed.on("", _("一份报告最多 %(n)d 项。", n=ITEMS_MAX))
    position = max((item.position for item in report.items), default=0)
    for suggestion in suggestions:
        if f"c{suggestion.id}" in present:
            result.already += 1
            continue
        position += 1
        present.add(f"c{suggestion.id}")
        report.items.append(
            ReportItem(consolidated=suggestion, position=position, added_by_id=actor.id)
        )
        result.added += 1
    for submission in submissions:
        if f"s{submission.id}" in present:
            result.already += 1
            continue
        reason = ineligible_reason(submission)
        if reason is not None:
            result.refused[reason] = result.refused.get(reason, 0) + 1
            continue
        position += 1
        present.add(f"s{submission.id}")
        report.items.append(
            ReportItem(submission=submission, position=position, added_by_id=actor.id)
        )
        workflow.record_event(submission, actor, "report_included", note=report.title)
        result.added += 1
    if result.added:
        _touch(report)
        record("report_add_items", actor=actor, object_type="report", object_id=report.id,
               added=result.added, refused=result.refused_count)  # fmt: skip
    db.session.flush()
    return result


def remove_item(actor: User, report: Report, item: ReportItem) -> None:
    """Take an item out of the draft (frozen versions keep it)."""
    require_compiler(actor)
    if item.report_id != report.id:
        raise ValidationFailed.on("", _("该条目不属于这份报告。"))
    if item.submission is not None:
        workflow.record_event(item.submission, actor, "report_removed", note=report.title)
    report.items.remove(item)
    _touch(report)
    record("report_remove_item", actor=actor, object_type="report", object_id=report.id,
           item=item.key)  # fmt: skip
    db.session.flush()


def move_item(actor: User, report: Report, item: ReportItem, step: int) -> None:
    """Move an item one place up (``step=-1``) or down (``+1``) among items of its sheet."""
    require_compiler(actor)
    same_sheet = [i for i in report.items if item_kind(i) == item_kind(item)]
    index = same_sheet.index(item)
    other_index = index + step
    if not 0 <= other_index < len(same_sheet):
        return
    other = same_sheet[other_index]
    item.position, other.position = other.position, item.position
    report.items.sort(key=lambda i: i.position)
    _touch(report)
    db.session.flush()


def sort_by_plan(actor: User, report: Report) -> None:
    """Order items by plan item (tree order of the first one), then kind, then reference."""
    require_compiler(actor)
    order = {item.id: n for n, item in enumerate(plan_tree())}
    kinds = {Kind.SUGGESTION: 0, Kind.PROBLEM: 1, Kind.EXPERIENCE: 2}

    def key(item: ReportItem) -> tuple[int, int, int, str]:
        items = plan_items_of(item)
        first = min((order.get(p.id, len(order)) for p in items), default=len(order))
        consolidated_first = 0 if item.consolidated_id else 1
        return (first, kinds[item_kind(item)], consolidated_first, original(item)["title"])

    for position, item in enumerate(sorted(report.items, key=key), start=1):
        item.position = position
    report.items.sort(key=lambda i: i.position)
    _touch(report)
    db.session.flush()


def item_kind(item: ReportItem) -> Kind:
    """The sheet an item goes to: consolidated suggestions read as suggestions."""
    if item.submission is not None:
        return item.submission.kind
    return Kind.SUGGESTION


def plan_items_of(item: ReportItem) -> list[Any]:
    """The plan items an item is filed under."""
    source = item.submission if item.submission is not None else item.consolidated
    return list(source.plan_items) if source is not None else []


def original(item: ReportItem) -> dict[str, str]:
    """The item's text as its author wrote it (the fields a compiler may reword)."""
    if item.consolidated is not None:
        c = item.consolidated
        values = {"title": c.title, "description": c.description, "suggestion": c.suggestion,
                  "basis": c.basis or "", "department": c.department or ""}  # fmt: skip
        return values
    assert item.submission is not None
    sections = item.submission.sections
    fields = WORDING_FIELDS[item.submission.kind]
    return {name: (item.submission.title if name == "title" else sections.get(name, ""))
            for name in fields}  # fmt: skip


def worded(item: ReportItem) -> dict[str, str]:
    """The item's text as the report uses it (rewording over the original)."""
    values = original(item)
    values.update({k: v for k, v in (item.wording or {}).items() if k in values})
    return values


def field_labels(kind: Kind) -> dict[str, str]:
    """Labels of the rewordable fields of a kind of item."""
    labels = {"title": _("标题")}
    labels.update({s.key: str(s.label) for s in KINDS[kind].sections})
    return {name: labels[name] for name in WORDING_FIELDS[kind]}


def reword(
    actor: User, report: Report, item: ReportItem, values: dict[str, str], expected_version: int
) -> None:
    """Set the wording the report uses for an item; a value equal to the original (or empty)
    goes back to the original."""
    require_compiler(actor)
    _check_version(report, expected_version)
    base = original(item)
    wording: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    for name in base:
        value = clean_text(values.get(name, ""), multiline=name != "title")
        if len(value) > TEXT_MAX:
            errors[name] = [_("内容不能超过 %(n)d 个字。", n=TEXT_MAX)]
        if value and value != base[name]:
            wording[name] = value
    if not (wording.get("title") or base["title"]):
        errors["title"] = [_("标题不能为空。")]
    if errors:
        raise ValidationFailed(errors)
    item.wording = wording
    _touch(report)
    record("report_reword", actor=actor, object_type="report", object_id=report.id,
           item=item.key, fields=sorted(wording))  # fmt: skip
    db.session.flush()


# -- versions ------------------------------------------------------------------------------------


def snapshot(report: Report) -> list[dict[str, Any]]:
    """The items as they stand, for a frozen version and for "what changed"."""
    return [
        {
            "key": item.key,
            "kind": str(item_kind(item)),
            "label": item_label(item),
            "text": worded(item),
        }
        for item in report.items
    ]


def item_label(item: ReportItem) -> str:
    """How an item is named in lists: the reference, or 汇总建议 and its number."""
    if item.submission is not None:
        return item.submission.reference or ""
    return str(_("汇总建议 %(n)d", n=item.consolidated_id or 0))


@dataclass
class Changes:
    """What changed in the draft since the newest frozen version."""

    added: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    reworded: list[tuple[dict[str, Any], list[str]]] = field(default_factory=list)
    reordered: bool = False

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.reworded or self.reordered)


def changes(report: Report, against: ReportVersion | None = None) -> Changes | None:
    """The difference between the draft and ``against`` (default: the newest version)."""
    base = against or report.latest
    if base is None:
        return None
    before = {entry["key"]: entry for entry in base.snapshot}
    now = snapshot(report)
    after = {entry["key"]: entry for entry in now}
    result = Changes(
        added=[entry for entry in now if entry["key"] not in before],
        removed=[entry for entry in base.snapshot if entry["key"] not in after],
    )
    for entry in now:
        old = before.get(entry["key"])
        if old is not None and old["text"] != entry["text"]:
            fields = sorted(k for k in entry["text"] if entry["text"][k] != old["text"].get(k))
            result.reworded.append((entry, fields))
    kept_before = [k for k in before if k in after]
    kept_now = [entry["key"] for entry in now if entry["key"] in before]
    result.reordered = kept_before != kept_now
    return result


def freeze(actor: User, report: Report, *, at: datetime | None = None) -> ReportVersion:
    """Store the workbook of the draft as the next version, byte for byte, with its hash."""
    from feedback.reports.compile import build_workbook, workbook_filename

    require_compiler(actor)
    if not report.items:
        raise ValidationFailed.on("", _("报告还没有任何条目，不能冻结。"))
    pending = changes(report)
    if pending is not None and not pending:
        raise ValidationFailed.on("", _("自第 %(n)d 版以来没有修改，无需再次冻结。",
                                         n=report.next_number - 1))  # fmt: skip
    at = at or utcnow()
    number = report.next_number
    content = build_workbook(report, number=number, generated_at=at)
    edition = ReportVersion(
        report=report,
        number=number,
        frozen_by_id=actor.id,
        frozen_at=at,
        filename=workbook_filename(report, number),
        sha256=hashlib.sha256(content).hexdigest(),
        size=len(content),
        workbook=content,
        snapshot=snapshot(report),
    )
    db.session.add(edition)
    _touch(report)
    record("report_freeze", actor=actor, object_type="report", object_id=report.id,
           number=number, sha256=edition.sha256)  # fmt: skip
    db.session.flush()
    return edition


def get_version(report: Report, number: int) -> ReportVersion | None:
    """Version ``number`` of ``report``."""
    return next((e for e in report.editions if e.number == number), None)


# -- sending and the ministry's answers ----------------------------------------------------------


def version_sources(edition: ReportVersion) -> list[Submission]:
    """Every submission behind a version: its direct items and the ministry-visible sources of
    its consolidated suggestions."""
    submission_ids = [int(e["key"][1:]) for e in edition.snapshot if e["key"].startswith("s")]
    consolidated_ids = [int(e["key"][1:]) for e in edition.snapshot if e["key"].startswith("c")]
    behind = (
        select(ConsolidatedSource.submission_id)
        .where(
            ConsolidatedSource.consolidated_id.in_(consolidated_ids),
            ConsolidatedSource.removed_at.is_(None),
        )
        .scalar_subquery()
    )
    query = (
        select(Submission)
        .where(or_(Submission.id.in_(submission_ids), Submission.id.in_(behind)))
        .order_by(Submission.id)
    )
    return [s for s in db.session.scalars(query) if ineligible_reason(s) is None]


def mark_sent(
    actor: User, edition: ReportVersion, *, sent_on: date, channel: str, document_number: str
) -> int:
    """Record that a version went to the ministry; its accepted sources become ``reported``.
    Returns how many submissions changed status."""
    require_compiler(actor)
    channel = clean_text(channel, multiline=False)
    document_number = clean_text(document_number, multiline=False)
    errors: dict[str, list[str]] = {}
    if edition.sent_on is not None:
        errors[""] = [_("第 %(n)d 版已于 %(d)s 报送。", n=edition.number, d=edition.sent_on)]
    if not channel or len(channel) > 60:
        errors["channel"] = [_("请填写报送方式（不超过 60 个字），如“公文交换”。")]
    if not document_number or len(document_number) > 60:
        errors["document_number"] = [_("请填写文号，如 石化联〔2026〕12号。")]
    if sent_on > china_today():
        errors["sent_on"] = [_("报送日期不能晚于今天。")]
    if errors:
        raise ValidationFailed(errors)
    edition.sent_on = sent_on
    edition.sent_channel = channel
    edition.document_number = document_number
    edition.sent_by_id = actor.id
    changed = 0
    for submission in version_sources(edition):
        if submission.status == Status.ACCEPTED:
            workflow.apply_transition(actor, submission, "report", document_number)
            changed += 1
    record("report_sent", actor=actor, object_type="report", object_id=edition.report_id,
           number=edition.number, document_number=document_number, reported=changed)  # fmt: skip
    db.session.flush()
    return changed


VERDICTS: tuple[Verdict, ...] = tuple(Verdict)


def respond(
    actor: User,
    edition: ReportVersion,
    item_key: str,
    *,
    verdict: str,
    note: str,
    responded_on: date,
) -> MinistryResponse:
    """Record (or correct) the ministry's response to one item of a sent version; the
    organisations behind it are told."""
    require_compiler(actor)
    entry = next((e for e in edition.snapshot if e["key"] == item_key), None)
    errors: dict[str, list[str]] = {}
    if edition.sent_on is None:
        errors[""] = [_("这一版尚未报送，不能登记部里的意见。")]
    if entry is None:
        errors[""] = [_("该条目不在这一版中。")]
    if verdict not in {v.value for v in Verdict}:
        errors["verdict"] = [_("请选择部里的意见。")]
    note = clean_text(note)
    if len(note) > TEXT_MAX:
        errors["note"] = [_("内容不能超过 %(n)d 个字。", n=TEXT_MAX)]
    if responded_on > china_today():
        errors["responded_on"] = [_("日期不能晚于今天。")]
    if errors:
        raise ValidationFailed(errors)
    response = db.session.scalars(
        select(MinistryResponse).where(
            MinistryResponse.version_id == edition.id, MinistryResponse.item_key == item_key
        )
    ).one_or_none()
    if response is None:
        response = MinistryResponse(
            version_id=edition.id,
            item_key=item_key,
            submission_id=int(item_key[1:]) if item_key.startswith("s") else None,
            consolidated_id=int(item_key[1:]) if item_key.startswith("c") else None,
            verdict=Verdict(verdict),
            responded_on=responded_on,
            recorded_by_id=actor.id,
        )
        db.session.add(response)
    response.verdict = Verdict(verdict)
    response.note = note or None
    response.responded_on = responded_on
    response.recorded_by_id = actor.id
    response.recorded_at = utcnow()
    db.session.flush()
    label = VERDICT_LABELS()[Verdict(verdict)]
    for submission in _behind(response):
        workflow.record_event(submission, actor, "ministry_response",
                              note=f"{label}{'：' + note if note else ''}")  # fmt: skip
        notify(
            [
                submission.author,
                *organisation_members(submission.organisation_id, Role.ORG_APPROVER),
            ],
            "ministry_response",
            _("应急管理部对“%(title)s”的意见：%(verdict)s", title=submission.title, verdict=label),
            note,
            link=f"/submissions/{submission.id}",
        )
    record("ministry_response", actor=actor, object_type="report", object_id=edition.report_id,
           number=edition.number, item=item_key, verdict=verdict)  # fmt: skip
    db.session.flush()
    return response


def VERDICT_LABELS() -> dict[Verdict, str]:  # noqa: N802 - reads as the constant it stands for
    """采纳 / 部分采纳 / 研究中 / 不予采纳, in the interface language."""
    return {
        Verdict.ADOPTED: _("采纳"),
        Verdict.PARTLY: _("部分采纳"),
        Verdict.STUDYING: _("研究中"),
        Verdict.DECLINED: _("不予采纳"),
    }


def _behind(response: MinistryResponse) -> list[Submission]:
    if response.submission_id is not None:
        found = db.session.get(Submission, response.submission_id)
        return [found] if found is not None else []
    query = (
        select(Submission)
        .join(ConsolidatedSource, ConsolidatedSource.submission_id == Submission.id)
        .where(
            ConsolidatedSource.consolidated_id == response.consolidated_id,
            ConsolidatedSource.removed_at.is_(None),
        )
    )
    return [s for s in db.session.scalars(query) if ineligible_reason(s) is None]


def responses_for(submission: Submission) -> list[MinistryResponse]:
    """The ministry's responses that concern a submission: to it, or to a consolidated
    suggestion it is a source of."""
    via = select(ConsolidatedSource.consolidated_id).where(
        ConsolidatedSource.submission_id == submission.id,
        ConsolidatedSource.removed_at.is_(None),
    )
    query = (
        select(MinistryResponse)
        .where(
            or_(
                MinistryResponse.submission_id == submission.id,
                MinistryResponse.consolidated_id.in_(via),
            )
        )
        .options(selectinload(MinistryResponse.edition).selectinload(ReportVersion.report))
        .order_by(MinistryResponse.responded_on, MinistryResponse.id)
    )
    return list(db.session.scalars(query))


def listing() -> list[Report]:
    """Every report, newest first, with its versions."""
    query = (
        select(Report)
        .options(selectinload(Report.editions), selectinload(Report.items))
        .order_by(Report.updated_at.desc(), Report.id.desc())
    )
    return list(db.session.scalars(query))
