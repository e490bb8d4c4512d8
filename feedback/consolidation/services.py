"""Consolidated suggestions (汇总建议): write one, link its sources, count its evidence.

Sources are submissions that reached the federation. Linking and removing are events on the
source's history (staff-only) and audit records; a removed link keeps its row (never deleted).
The evidence of a suggestion is the number of distinct organisations among its current sources.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import selectinload

from feedback import menus
from feedback.audit.services import record
from feedback.codes.regions import province_of
from feedback.exceptions import PermissionDenied, StaleVersion, ValidationFailed
from feedback.extensions import db
from feedback.filing import workflow
from feedback.filing.services import visible_submissions
from feedback.filing.text import clean_text
from feedback.i18n import gettext as _
from feedback.models import (
    STAFF_ROLES,
    ConsolidatedSource,
    ConsolidatedSuggestion,
    PlanItem,
    Submission,
    User,
    utcnow,
)

TITLE_MAX = 200
TEXT_MAX = 10_000
DEPARTMENT_MAX = 200
SOURCES_MAX = 500  # per suggestion: more is a sign the selection went wrong
REFERENCE = re.compile(r"^FK-\d{4}-\d{6}$")
SEPARATORS = re.compile(r"[\s,，、;；]+")


def _require_staff(actor: User) -> None:
    if not actor.has_role(*STAFF_ROLES):
        raise PermissionDenied(_("只有联合会工作人员可以编写汇总建议。"))


@dataclass
class SuggestionInput:
    """What the form sends: the text, plan items and source reference numbers."""

    title: str = ""
    description: str = ""
    suggestion: str = ""
    basis: str = ""
    department: str = ""
    plan_item_ids: list[int] = field(default_factory=list)
    references: str = ""

    @classmethod
    def of(cls, suggestion: ConsolidatedSuggestion) -> SuggestionInput:
        """The form's starting values for an existing suggestion."""
        return cls(
            title=suggestion.title,
            description=suggestion.description,
            suggestion=suggestion.suggestion,
            basis=suggestion.basis or "",
            department=suggestion.department or "",
            plan_item_ids=[item.id for item in suggestion.plan_items],
            references="\n".join(s.reference or "" for s in suggestion.sources),
        )

    @classmethod
    def from_sources(cls, sources: Sequence[Submission]) -> SuggestionInput:
        """A new suggestion's starting values: the sources and the plan items they name."""
        items = sorted({i.id: i for s in sources for i in s.plan_items}.values(), key=_code)
        first = sources[0] if len(sources) == 1 else None
        return cls(
            title=first.title if first else "",
            plan_item_ids=[item.id for item in items],
            references="\n".join(s.reference or "" for s in sources),
        )


def _code(item: PlanItem) -> str:
    return item.code


def sources_by_reference(actor: User, raw: str) -> tuple[list[Submission], list[str]]:
    """The submissions named by reference numbers in ``raw`` (any separator), in the order
    given, and the tokens that name nothing ``actor`` may see."""
    tokens = [t.upper() for t in SEPARATORS.split(raw.strip()) if t]
    wanted = list(dict.fromkeys(t for t in tokens if REFERENCE.match(t)))
    found = {
        s.reference: s
        for s in db.session.scalars(
            visible_submissions(actor).where(Submission.reference.in_(wanted))
        )
    }
    unknown = [t for t in dict.fromkeys(tokens) if t not in found]
    return [found[r] for r in wanted if r in found], unknown


def sources_by_id(actor: User, ids: Iterable[int]) -> list[Submission]:
    """The submissions among ``ids`` that ``actor`` may see, oldest reference first."""
    wanted = list(dict.fromkeys(ids))[:SOURCES_MAX]
    if not wanted:
        return []
    query = visible_submissions(actor).where(Submission.id.in_(wanted)).order_by(Submission.id)
    return list(db.session.scalars(query.options(selectinload(Submission.plan_items))))


@dataclass
class _Checked:
    title: str
    description: str
    suggestion: str
    basis: str | None
    department: str | None
    items: list[PlanItem]
    sources: list[Submission]


def _check(actor: User, data: SuggestionInput) -> _Checked:
    errors: dict[str, list[str]] = {}
    title = clean_text(data.title, multiline=False)
    description = clean_text(data.description)
    suggestion = clean_text(data.suggestion)
    basis = clean_text(data.basis)
    department = clean_text(data.department, multiline=False)
    if not title:
        errors["title"] = [_("请填写建议标题。")]
    elif len(title) > TITLE_MAX:
        errors["title"] = [_("标题不能超过 %(n)d 个字。", n=TITLE_MAX)]
    if not description:
        errors["description"] = [_("请填写问题与依据。")]
    if len(suggestion) < 10:
        errors["suggestion"] = [_("请填写建议内容（至少 10 个字）。")]
    for name, value in (("description", description), ("suggestion", suggestion),
                        ("basis", basis)):  # fmt: skip
        if len(value) > TEXT_MAX:
            errors[name] = [_("内容不能超过 %(n)d 个字。", n=TEXT_MAX)]
    if len(department) > DEPARTMENT_MAX:
        errors["department"] = [_("内容不能超过 %(n)d 个字。", n=DEPARTMENT_MAX)]
    items = list(db.session.scalars(select(PlanItem).where(PlanItem.id.in_(data.plan_item_ids))))
    if not items:
        errors["plan_item_ids"] = [_("请至少选择一个规划条目。")]
    elif len(items) != len(set(data.plan_item_ids)):
        errors["plan_item_ids"] = [_("所选规划条目不存在，请刷新页面。")]
    sources, unknown = sources_by_reference(actor, data.references)
    if unknown:
        errors["references"] = [
            _("以下编号找不到或不是已报送联合会的材料：%(refs)s", refs="、".join(unknown[:20]))
        ]
    elif not sources:
        errors["references"] = [_("请至少填写一份来源材料的编号。")]
    elif len(sources) > SOURCES_MAX:
        errors["references"] = [_("来源材料不能超过 %(n)d 份。", n=SOURCES_MAX)]
    if errors:
        raise ValidationFailed(errors)
    return _Checked(title, description, suggestion, basis or None, department or None, items,
                    sources)  # fmt: skip


def create(actor: User, data: SuggestionInput) -> ConsolidatedSuggestion:
    """Write a consolidated suggestion and link its sources."""
    _require_staff(actor)
    checked = _check(actor, data)
    suggestion = ConsolidatedSuggestion(
        title=checked.title,
        description=checked.description,
        suggestion=checked.suggestion,
        basis=checked.basis,
        department=checked.department,
        plan_items=checked.items,
        created_by=actor,
        updated_by=actor,
    )
    db.session.add(suggestion)
    db.session.flush()
    _link(actor, suggestion, checked.sources)
    record("consolidated_create", actor=actor, object_type="consolidated_suggestion",
           object_id=suggestion.id, sources=len(checked.sources))  # fmt: skip
    db.session.flush()
    return suggestion


def update(
    actor: User, suggestion: ConsolidatedSuggestion, data: SuggestionInput, expected_version: int
) -> None:
    """Save the text, plan items and sources, if nobody changed them since the form loaded."""
    _require_staff(actor)
    if expected_version != suggestion.version:
        raise StaleVersion(_("这条汇总建议已被他人修改。"))
    checked = _check(actor, data)
    suggestion.title = checked.title
    suggestion.description = checked.description
    suggestion.suggestion = checked.suggestion
    suggestion.basis = checked.basis
    suggestion.department = checked.department
    suggestion.plan_items = checked.items
    wanted = {s.id for s in checked.sources}
    for source in suggestion.sources:
        if source.id not in wanted:
            _unlink(actor, suggestion, source)
    _link(actor, suggestion, checked.sources)
    _touch(actor, suggestion)
    record("consolidated_edit", actor=actor, object_type="consolidated_suggestion",
           object_id=suggestion.id)  # fmt: skip
    db.session.flush()


def link(actor: User, suggestion: ConsolidatedSuggestion, sources: Sequence[Submission]) -> int:
    """Add sources (those already linked are left as they are); returns how many were new."""
    _require_staff(actor)
    linked = {s.id for s in suggestion.sources}
    if len(linked | {s.id for s in sources}) > SOURCES_MAX:
        raise ValidationFailed.on("references", _("来源材料不能超过 %(n)d 份。", n=SOURCES_MAX))
    added = _link(actor, suggestion, sources)
    if added:
        _touch(actor, suggestion)
        record("consolidated_link", actor=actor, object_type="consolidated_suggestion",
               object_id=suggestion.id, added=added)  # fmt: skip
    db.session.flush()
    return added


def unlink(actor: User, suggestion: ConsolidatedSuggestion, source: Submission) -> bool:
    """Take a source out (its row stays, stamped as removed); False if it was not linked."""
    _require_staff(actor)
    if not _unlink(actor, suggestion, source):
        return False
    _touch(actor, suggestion)
    record("consolidated_unlink", actor=actor, object_type="consolidated_suggestion",
           object_id=suggestion.id, submission=source.id)  # fmt: skip
    db.session.flush()
    return True


def _touch(actor: User, suggestion: ConsolidatedSuggestion) -> None:
    # Changing the row moves the version counter, so a form opened before a link is stale.
    suggestion.updated_at = utcnow()
    suggestion.updated_by = actor


def _link(actor: User, suggestion: ConsolidatedSuggestion, sources: Sequence[Submission]) -> int:
    linked = {s.id for s in suggestion.sources}
    added = 0
    for source in sources:
        if source.id in linked:
            continue
        linked.add(source.id)
        suggestion.links.append(
            ConsolidatedSource(submission=source, linked_by_id=actor.id, linked_at=utcnow())
        )
        workflow.record_event(source, actor, "consolidated", note=suggestion.title)
        added += 1
    return added


def _unlink(actor: User, suggestion: ConsolidatedSuggestion, source: Submission) -> bool:
    for row in suggestion.links:
        if row.submission_id == source.id and row.removed_at is None:
            row.removed_at = utcnow()
            row.removed_by_id = actor.id
            workflow.record_event(source, actor, "unconsolidated", note=suggestion.title)
            return True
    return False


# -- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    """How much stands behind a suggestion: sources, distinct organisations and provinces."""

    sources: int
    organisations: int
    provinces: int


def evidence(suggestion: ConsolidatedSuggestion) -> Evidence:
    """Count the current sources, their organisations and provinces."""
    sources = suggestion.sources
    regions = {s.region_code or s.organisation.region_code for s in sources}
    provinces = {p.code for code in regions if code and (p := province_of(code)) is not None}
    return Evidence(len(sources), len({s.organisation_id for s in sources}), len(provinces))


@dataclass(frozen=True)
class ListedSuggestion:
    """A row of the list page."""

    suggestion: ConsolidatedSuggestion
    sources: int
    organisations: int


def listing(q: str = "") -> list[ListedSuggestion]:
    """Every consolidated suggestion, most recently changed first, with its counts (two
    queries whatever the number of rows)."""
    active = ConsolidatedSource.removed_at.is_(None)
    counts = (
        select(
            ConsolidatedSource.consolidated_id.label("cid"),
            func.count().label("sources"),
            func.count(distinct(Submission.organisation_id)).label("organisations"),
        )
        .join(Submission, Submission.id == ConsolidatedSource.submission_id)
        .where(active)
        .group_by(ConsolidatedSource.consolidated_id)
        .subquery()
    )
    query = (
        select(ConsolidatedSuggestion, counts.c.sources, counts.c.organisations)
        .outerjoin(counts, counts.c.cid == ConsolidatedSuggestion.id)
        .options(selectinload(ConsolidatedSuggestion.plan_items))
        .order_by(ConsolidatedSuggestion.updated_at.desc(), ConsolidatedSuggestion.id.desc())
    )
    words = clean_text(q, multiline=False)[:50]
    if words:
        pattern = "%" + words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(ConsolidatedSuggestion.title.like(pattern, escape="\\"))
    return [
        ListedSuggestion(suggestion, sources or 0, organisations or 0)
        for suggestion, sources, organisations in db.session.execute(query)
    ]


def containing(submission: Submission) -> list[ConsolidatedSuggestion]:
    """The suggestions that have ``submission`` as a current source."""
    query = (
        select(ConsolidatedSuggestion)
        .join(ConsolidatedSource)
        .where(
            ConsolidatedSource.submission_id == submission.id,
            ConsolidatedSource.removed_at.is_(None),
        )
        .order_by(ConsolidatedSuggestion.id)
    )
    return list(db.session.scalars(query))


def choices() -> list[tuple[int, str]]:
    """(id, title) of every suggestion, last changed first, for "add to" menus (kept per
    process, :mod:`feedback.menus`)."""
    return list(menus.cached("consolidated", _choices))


def _choices() -> tuple[tuple[int, str], ...]:
    query = select(ConsolidatedSuggestion.id, ConsolidatedSuggestion.title).order_by(
        ConsolidatedSuggestion.updated_at.desc()
    )
    return tuple((ident, title) for ident, title in db.session.execute(query))
