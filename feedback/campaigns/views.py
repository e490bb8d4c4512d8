"""Campaign pages: list, open a campaign, tracker, reminders."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from feedback.admin.forms import ActionForm
from feedback.campaigns import services
from feedback.campaigns.forms import CampaignForm
from feedback.exceptions import ValidationFailed
from feedback.extensions import db
from feedback.formatting import china_today
from feedback.forms import show_errors
from feedback.i18n import gettext as _
from feedback.models import Campaign, Organisation, OrgKind, Role
from feedback.paging import bounded_int
from feedback.security import acting_user, require_roles

bp = Blueprint("campaigns", __name__, url_prefix="/campaigns")
TRACKERS = (Role.REVIEWER, Role.COMPILER, Role.ADMIN)
OPENERS = (Role.COMPILER, Role.ADMIN)


def _get_or_404(campaign_id: int) -> Campaign:
    # Campaigns belong to the federation; only its staff and the administrator reach these views.
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        abort(404)
    return campaign


@bp.route("/")
@require_roles(*TRACKERS)
def index() -> ResponseReturnValue:
    """Every campaign, newest first."""
    campaigns = db.session.scalars(select(Campaign).order_by(Campaign.due_on.desc())).all()
    return render_template("campaigns/index.html", campaigns=campaigns, today=china_today())


@bp.route("/new", methods=["GET", "POST"])
@require_roles(*OPENERS)
def new() -> ResponseReturnValue:
    """Open a call for reports."""
    organisations = [
        (o.id, o.name)
        for o in db.session.scalars(
            select(Organisation)
            .where(Organisation.active, Organisation.kind != OrgKind.FEDERATION)
            .order_by(Organisation.kind, Organisation.name)
        )
    ]
    form = CampaignForm(organisations=organisations)
    if form.validate_on_submit():
        # DataRequired guarantees both dates.
        assert form.opens_on.data is not None
        assert form.due_on.data is not None
        data = services.CampaignInput(
            title=form.title.data or "",
            period=form.period.data or "",
            opens_on=form.opens_on.data,
            due_on=form.due_on.data,
            instructions=form.instructions.data or "",
            target_mode=form.target_mode.data or "",
            province_code=form.province_code.data or None,
            organisation_ids=list(form.organisation_ids.data or []),
        )
        try:
            campaign = services.create_campaign(acting_user(), data)
        except ValidationFailed as failure:
            db.session.rollback()
            show_errors(form, failure)
        else:
            db.session.commit()
            flash(_("已发布填报任务，已通知 %(n)d 个单位。", n=len(campaign.targets)), "success")
            return redirect(url_for("campaigns.tracker", campaign_id=campaign.id), 303)
    return render_template("campaigns/form.html", form=form)


@bp.route("/<int:campaign_id>")
@require_roles(*TRACKERS)
def tracker(campaign_id: int) -> ResponseReturnValue:
    """Per target organisation: filed, not filed, late; counts by kind."""
    campaign = _get_or_404(campaign_id)
    rows = services.progress(campaign)
    state = request.args.get("state", "")
    shown = [r for r in rows if not state or r.state == state]
    return render_template(
        "campaigns/tracker.html",
        campaign=campaign,
        rows=shown,
        all_rows=rows,
        state=state,
        today=china_today(),
        action_form=ActionForm(),
    )


@bp.route("/<int:campaign_id>/remind", methods=["POST"])
@require_roles(*TRACKERS)
def remind(campaign_id: int) -> ResponseReturnValue:
    """Remind the organisations that have not filed (or one of them)."""
    campaign = _get_or_404(campaign_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    org = bounded_int(request.form.get("organisation_id", ""))
    reminder = services.remind(acting_user(), campaign, [org] if org is not None else None)
    db.session.commit()
    reminder.send_mail()
    flash(_("已向 %(n)d 个单位发送提醒。", n=reminder.organisations), "success")
    return redirect(url_for("campaigns.tracker", campaign_id=campaign.id), 303)
