"""Choice lists for filing forms: active plan items and tags, open campaigns."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from feedback.extensions import db
from feedback.formatting import china_today
from feedback.models import Campaign, Tag, TagGroup
from feedback.models import campaign_target as CampaignTarget  # noqa: N812
from feedback.taxonomy.services import plan_tree


def plan_item_choices() -> list[tuple[int, str]]:
    """Active plan items in tree order, labelled "S3 安全预防控制体系"."""
    return [(item.id, item.label) for item in plan_tree(active_only=True)]


def tag_choices() -> list[tuple[int, str]]:
    """Active tags, group by group."""
    rows = db.session.execute(
        select(Tag.id, Tag.name)
        .join(TagGroup)
        .where(Tag.active, TagGroup.active)
        .order_by(TagGroup.sort_order, Tag.sort_order, Tag.id)
    ).all()
    return [(row.id, row.name) for row in rows]


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
