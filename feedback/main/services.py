"""What the dashboard shows."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from feedback.extensions import db
from feedback.models import Organisation, PlanItem, Tag, User


@dataclass(frozen=True)
class DashboardSummary:
    """Counts for the dashboard cards (administrators and staff see platform-wide numbers)."""

    organisations: int
    users: int
    plan_items: int
    tags: int
    own_members: int


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
