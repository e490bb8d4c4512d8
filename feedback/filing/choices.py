"""Choice lists for filing forms: active plan items and tags, open campaigns."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from feedback import menus
from feedback.extensions import db
from feedback.formatting import china_today
from feedback.models import CURRENT_PLAN_VERSION, Campaign, PlanItem, Tag, TagGroup
from feedback.models import campaign_target as CampaignTarget  # noqa: N812
from feedback.taxonomy.services import tree_order


def plan_item_choices() -> list[tuple[int, str]]:
    """Active plan items in tree order (as :func:`plan_tree`), labelled "S3 安全预防控制体系".

    Every filing form and the review queue show this menu: kept per process (:mod:`menus`).
    """
    return list(menus.cached("plan_items", _plan_items))


def _plan_items() -> tuple[tuple[int, str], ...]:
    rows = db.session.execute(
        select(PlanItem.id, PlanItem.parent_id, PlanItem.code, PlanItem.name)
        .where(PlanItem.plan_version == CURRENT_PLAN_VERSION, PlanItem.active)
        .order_by(PlanItem.sort_order, PlanItem.code)
    ).all()
    ordered = tree_order(rows, lambda row: (row.id, row.parent_id))
    return tuple((row.id, f"{row.code} {row.name}") for row in ordered)


def tag_choices() -> list[tuple[int, str]]:
    """Active tags, group by group (kept per process, :mod:`menus`)."""
    return list(menus.cached("tags_by_group", _tags_by_group))


def _tags_by_group() -> tuple[tuple[int, str], ...]:
    rows = db.session.execute(
        select(Tag.id, Tag.name)
        .join(TagGroup)
        .where(Tag.active, TagGroup.active)
        .order_by(TagGroup.sort_order, Tag.sort_order, Tag.id)
    ).all()
    return tuple((row.id, row.name) for row in rows)


def campaigns_for(organisation_id: int) -> list[Campaign]:
    """Campaigns that target an organisation, newest first."""
    query = (
        select(Campaign)
        .join(CampaignTarget, CampaignTarget.c.campaign_id == Campaign.id)
        .where(CampaignTarget.c.organisation_id == organisation_id)
        .order_by(Campaign.due_on.desc())
    )
    return list(db.session.scalars(query))


def open_campaign_choices(organisation_id: int, today: date | None = None) -> list[tuple[int, str]]:
    """Campaigns an organisation can answer now (late filing is allowed)."""
    today = today or china_today()
    return [(c.id, c.title) for c in campaigns_for(organisation_id) if c.is_open(today)]
