"""The staff dashboard: what reached the federation this period, by plan item, kind and place."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from sqlalchemy import func, select

from feedback.extensions import db
from feedback.filing.kinds import Kind
from feedback.formatting import CHINA
from feedback.models import (
    RECEIVED,
    Organisation,
    OrgKind,
    PlanItem,
    Submission,
    submission_plan_item,
)
from feedback.taxonomy.services import plan_tree


def quarter_of(day: date) -> tuple[date, date, str]:
    """The quarter containing ``day``: first day, first day of the next, label 2026年第四季度."""
    first_month = 3 * ((day.month - 1) // 3) + 1
    start = date(day.year, first_month, 1)
    end = date(day.year + (first_month == 10), 1 if first_month == 10 else first_month + 3, 1)
    label = f"{day.year}年第{'一二三四'[(first_month - 1) // 3]}季度"
    return start, end, label


@dataclass
class PlanRow:
    """Counts for one plan item (its sub-items included), by kind."""

    item: PlanItem
    by_kind: dict[Kind, int]

    @property
    def total(self) -> int:
        return sum(self.by_kind.values())


@dataclass
class Dashboard:
    """Everything the dashboard shows, for one period."""

    label: str
    total: int
    by_kind: dict[Kind, int]
    plan_rows: list[PlanRow]
    by_province: list[tuple[str, int]]
    by_org_kind: dict[OrgKind, int]


def _moment(day: date) -> datetime:
    return datetime.combine(day, time.min, CHINA).astimezone(UTC)


def build(start: date, end: date, label: str) -> Dashboard:
    """Counts of received submissions sent in [start, end): the quarter's rows are read twice,
    once grouped by organisation and kind, once by plan item and kind; organisations and plan
    items are looked up once (a few hundred rows) and summed here."""
    sent = (Submission.status.in_(RECEIVED), Submission.submitted_at >= _moment(start),
            Submission.submitted_at < _moment(end))  # fmt: skip
    by_kind = dict.fromkeys(Kind, 0)
    per_org: dict[int, int] = {}
    for org_id, kind, count in db.session.execute(
        select(Submission.organisation_id, Submission.kind, func.count())
        .where(*sent)
        .group_by(Submission.organisation_id, Submission.kind)
    ).all():
        by_kind[kind] += count
        per_org[org_id] = per_org.get(org_id, 0) + count
    by_province: dict[str, int] = {}
    org_kinds: dict[OrgKind, int] = {}
    if per_org:
        for org_id, org_kind, region in db.session.execute(
            select(Organisation.id, Organisation.kind, Organisation.region_code)
        ).all():
            count = per_org.get(org_id, 0)
            if not count:
                continue
            org_kinds[org_kind] = org_kinds.get(org_kind, 0) + count
            if region:
                by_province[region[:2]] = by_province.get(region[:2], 0) + count
    # Per plan item and kind (a submission links an item once: no DISTINCT needed); a parent's
    # row adds its sub-items' (codes are hierarchical).
    codes = {ident: code for ident, code in db.session.execute(select(PlanItem.id, PlanItem.code))}
    direct: dict[tuple[str, Kind], int] = {}
    for item_id, kind, count in db.session.execute(
        select(submission_plan_item.c.plan_item_id, Submission.kind, func.count())
        .join(Submission, Submission.id == submission_plan_item.c.submission_id)
        .where(*sent)
        .group_by(submission_plan_item.c.plan_item_id, Submission.kind)
    ).all():
        key = (codes[item_id], kind)
        direct[key] = direct.get(key, 0) + count
    rows = []
    for item in plan_tree(active_only=True):
        prefix = item.code if len(item.code) == 1 else f"{item.code}."
        counts = dict.fromkeys(Kind, 0)
        for (code, kind), count in direct.items():
            if code == item.code or code.startswith(prefix):
                counts[kind] += count
        rows.append(PlanRow(item, counts))
    provinces = sorted(by_province.items(), key=lambda pair: (-pair[1], pair[0]))
    return Dashboard(
        label=label,
        total=sum(by_kind.values()),
        by_kind=by_kind,
        plan_rows=rows,
        by_province=[(f"{code}0000", count) for code, count in provinces],
        by_org_kind=org_kinds,
    )
