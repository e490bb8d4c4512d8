"""The staff dashboard: what reached the federation this period, by plan item, kind and place."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from sqlalchemy import func, literal_column, select

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
    """Counts of received submissions sent in [start, end), in four grouped queries."""
    sent = (Submission.status.in_(RECEIVED), Submission.submitted_at >= _moment(start),
            Submission.submitted_at < _moment(end))  # fmt: skip
    by_kind = dict.fromkeys(Kind, 0)
    for kind, count in db.session.execute(
        select(Submission.kind, func.count()).where(*sent).group_by(Submission.kind)
    ).all():
        by_kind[kind] = count
    # Per plan item and kind; a parent's row adds its sub-items' (codes are hierarchical).
    direct: dict[tuple[str, Kind], int] = {}
    for code, kind, count in db.session.execute(
        select(PlanItem.code, Submission.kind, func.count(func.distinct(Submission.id)))
        .join(submission_plan_item, submission_plan_item.c.plan_item_id == PlanItem.id)
        .join(Submission, Submission.id == submission_plan_item.c.submission_id)
        .where(*sent)
        .group_by(PlanItem.code, Submission.kind)
    ).all():
        direct[(code, kind)] = count
    rows = []
    for item in plan_tree(active_only=True):
        prefix = item.code if len(item.code) == 1 else f"{item.code}."
        counts = dict.fromkeys(Kind, 0)
        for (code, kind), count in direct.items():
            if code == item.code or code.startswith(prefix):
                counts[kind] += count
        rows.append(PlanRow(item, counts))
    # Literal positions, so that SELECT and GROUP BY are the same expression to PostgreSQL
    # (bound parameters would make them two different ones).
    province = func.substr(Organisation.region_code, literal_column("1"), literal_column("2"))
    provinces = db.session.execute(
        select(province, func.count())
        .join(Submission, Submission.organisation_id == Organisation.id)
        .where(*sent)
        .group_by(province)
        .order_by(func.count().desc())
    ).all()
    org_kinds = dict(
        db.session.execute(
            select(Organisation.kind, func.count())
            .join(Submission, Submission.organisation_id == Organisation.id)
            .where(*sent)
            .group_by(Organisation.kind)
        ).all()
    )
    return Dashboard(
        label=label,
        total=sum(by_kind.values()),
        by_kind=by_kind,
        plan_rows=rows,
        by_province=[(f"{code}0000", count) for code, count in provinces if code],
        by_org_kind=org_kinds,
    )
