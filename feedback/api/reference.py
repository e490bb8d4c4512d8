"""What callers look things up by: plan items, tags, organisations, campaigns and progress."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from feedback.api import schemas as s
from feedback.api.core import api_user, operation
from feedback.api.problems import ApiError
from feedback.campaigns import services as campaigns
from feedback.exceptions import PermissionDenied
from feedback.extensions import db
from feedback.i18n import gettext as _
from feedback.models import (
    CURRENT_PLAN_VERSION,
    Campaign,
    Organisation,
    PlanItem,
    Scope,
    Tag,
    campaign_target,
)

TAG = "reference"


@operation(
    "/plan-items", "GET", summary="规划条目", tag=TAG, scope=Scope.READ, response=s.PlanItemList
)
def list_plan_items() -> s.PlanItemList:
    """The plan's items (current version), each parent before its children by code."""
    query = select(PlanItem).where(PlanItem.plan_version == CURRENT_PLAN_VERSION)
    items = db.session.scalars(query.order_by(PlanItem.sort_order, PlanItem.id))
    return s.PlanItemList(
        items=[
            s.PlanItemOut(
                id=i.id,
                code=i.code,
                name=i.name,
                parent_id=i.parent_id,
                plan_version=i.plan_version,
                active=i.active,
            )
            for i in items
        ]
    )


@operation("/tags", "GET", summary="标签", tag=TAG, scope=Scope.READ, response=s.TagList)
def list_tags() -> s.TagList:
    """The controlled vocabulary of tags, with their groups."""
    tags = db.session.scalars(
        select(Tag).options(selectinload(Tag.group)).order_by(Tag.group_id, Tag.sort_order, Tag.id)
    )
    return s.TagList(
        items=[
            s.TagOut(
                id=t.id, name=t.name, group=t.group.code, group_name=t.group.name, active=t.active
            )
            for t in tags
        ]
    )


@operation(
    "/organisations", "GET", summary="单位", tag=TAG, scope=Scope.READ, response=s.OrganisationList
)
def list_organisations() -> s.OrganisationList:
    """Federation staff see every organisation; anyone else their own."""
    user = api_user()
    query = select(Organisation).order_by(Organisation.name)
    if not user.is_staff:
        query = query.where(Organisation.id == user.organisation_id)
    return s.OrganisationList(
        items=[
            s.OrganisationOut(
                id=o.id,
                name=o.name,
                short_name=o.short_name,
                kind=str(o.kind),
                region_code=o.region_code,
            )
            for o in db.session.scalars(query)
        ]
    )


@operation(
    "/campaigns", "GET", summary="填报任务", tag=TAG, scope=Scope.READ, response=s.CampaignList
)
def list_campaigns() -> s.CampaignList:
    """Staff see every campaign; an organisation those addressed to it."""
    query = _visible_campaigns().order_by(Campaign.due_on.desc(), Campaign.id.desc())
    return s.CampaignList(
        items=[
            s.CampaignOut(
                id=c.id,
                title=c.title,
                period=c.period,
                opens_on=c.opens_on,
                due_on=c.due_on,
                instructions=c.instructions,
            )
            for c in db.session.scalars(query)
        ]
    )


def _visible_campaigns() -> Select[Campaign]:
    user = api_user()
    query = select(Campaign)
    if not user.is_staff:
        targeted = select(campaign_target.c.campaign_id).where(
            campaign_target.c.organisation_id == user.organisation_id
        )
        query = query.where(Campaign.id.in_(targeted))
    return query


@operation(
    "/campaigns/<int:campaign_id>/progress",
    "GET",
    summary="填报任务进度",
    tag=TAG,
    scope=Scope.READ,
    response=s.ProgressList,
)
def campaign_progress(campaign_id: int) -> s.ProgressList:
    """Who has filed what for a campaign (federation staff)."""
    campaign = db.session.scalars(
        _visible_campaigns().where(Campaign.id == campaign_id)
    ).one_or_none()
    if campaign is None:
        raise ApiError(404, _("填报任务不存在。"))
    if not api_user().is_staff:
        raise PermissionDenied(_("只有联合会工作人员可以查看填报进度。"))
    return s.ProgressList(
        campaign_id=campaign.id,
        items=[
            s.ProgressOut(
                organisation_id=p.organisation.id,
                organisation_name=p.organisation.name,
                filed=p.filed,
                by_kind={str(k): v for k, v in p.by_kind.items()},
                late=p.late,
                drafts=p.drafts,
                state=p.state,  # type: ignore[arg-type]
            )
            for p in campaigns.progress(campaign)
        ],
    )
