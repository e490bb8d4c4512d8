"""What the dashboard shows."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from feedback.extensions import db
from feedback.models import Organisation, PlanItem, Status, Submission, Tag, User


@dataclass(frozen=True)
class DashboardSummary:
    """Counts for the dashboard cards (administrators and staff see platform-wide numbers)."""

    organisations: int
    users: int
    plan_items: int
    tags: int
    own_members: int


def own_submission_counts(organisation_id: int) -> dict[Status, int]:
    """How many of the organisation's submissions are in each status (one query)."""
    rows = db.session.execute(
        select(Submission.status, func.count())
        .where(Submission.organisation_id == organisation_id)
        .group_by(Submission.status)
    ).all()
    return {status: count for status, count in rows}


def dashboard(user: User) -> DashboardSummary:
    """Platform counts in one query, plus the size of the user's own organisation."""
    row = db.session.execute(
        select(
            select(func.count())
            .select_from(Organisation)
            .where(Organisation.active)
            .scalar_subquery(),
            select(func.count()).select_from(User).where(User.active).scalar_subquery(),
            select(func.count()).select_from(PlanItem).where(PlanItem.active).scalar_subquery(),
            select(func.count()).select_from(Tag).where(Tag.active).scalar_subquery(),
            select(func.count())
            .select_from(User)
            .where(User.organisation_id == user.organisation_id, User.active)
            .scalar_subquery(),
        )
    ).one()
    return DashboardSummary(*row)
