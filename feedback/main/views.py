"""Home (dashboard), health checks, language switch, organisation profile, privacy notice."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from feedback.access import get_scoped_or_404
from feedback.admin.forms import ActionForm
from feedback.audit import refusals
from feedback.campaigns.services import open_for_organisation
from feedback.extensions import db
from feedback.filing.retention import DraftWarning, drafts_due_for_purge
from feedback.formatting import china_today
from feedback.main import readiness, services
from feedback.models import ORG_ROLES, Notification, Organisation, Status, User
from feedback.notifications.services import inbox, mark_read
from feedback.privacy import CLASS_LABELS, by_class
from feedback.security import acting_user, is_safe_local_path

bp = Blueprint("main", __name__)


@bp.route("/")
def index() -> ResponseReturnValue:
    """The dashboard: what the logged-in user can do, by role."""
    user = acting_user()
    campaigns = []
    own = {}
    expiring: list[DraftWarning] = []
    if user.has_role(*ORG_ROLES):
        campaigns = open_for_organisation(user.organisation_id, china_today())
        own = services.own_submission_counts(user.organisation_id)
        if own.get(Status.DRAFT):  # no query when there is no draft at all
            expiring = drafts_due_for_purge(user.organisation_id)
    return render_template(
        "main/index.html",
        user=user,
        summary=services.dashboard(user),
        campaigns=campaigns,
        own=own,
        expiring=expiring,
    )


@bp.route("/organisations/<int:org_id>")
def organisation(org_id: int) -> ResponseReturnValue:
    """An organisation's profile and members (own organisation, or staff and administrators)."""
    org = get_scoped_or_404(Organisation, org_id, acting_user())
    members = db.session.scalars(
        select(User).where(User.organisation_id == org.id).order_by(User.name)
    ).all()
    return render_template("main/organisation.html", org=org, members=members)


@bp.route("/notifications", methods=["GET", "POST"])
def notifications() -> ResponseReturnValue:
    """The user's inbox; opening it (or a POST) marks notifications read."""
    user = acting_user()
    if request.method == "POST":
        if not ActionForm().validate_on_submit():
            abort(400)
        mark_read(user.id)
        db.session.commit()
        return redirect(url_for("main.notifications"))
    items = inbox(user.id)
    return render_template("main/notifications.html", items=items, action_form=ActionForm())


@bp.route("/notifications/<int:notification_id>", methods=["POST"])
def open_notification(notification_id: int) -> ResponseReturnValue:
    """Mark one notification read and follow its link (only the owner's notifications)."""
    user = acting_user()
    if not ActionForm().validate_on_submit():
        abort(400)
    item = db.session.get(Notification, notification_id)
    if item is None or item.user_id != user.id:
        if item is not None:
            refusals.deny_existing("notification", notification_id)
        abort(404)
    mark_read(user.id, notification_id)
    db.session.commit()
    target = item.link or url_for("main.notifications")
    return redirect(target if is_safe_local_path(target) else "/", 303)


@bp.route("/language", methods=["POST"])
def set_language() -> ResponseReturnValue:
    """Switch between Chinese and English (kept in the session)."""
    lang = request.form.get("lang", "zh_CN")
    session["lang"] = lang if lang in ("zh_CN", "en") else "zh_CN"
    target = request.form.get("next", "")
    if not is_safe_local_path(target):
        target = url_for("main.index")
    return redirect(target)


@bp.route("/privacy")
def privacy() -> ResponseReturnValue:
    """The privacy notice (个人信息保护说明), public, drawn from the column registry."""
    return render_template(
        "main/privacy.html",
        groups=by_class(),
        class_labels=CLASS_LABELS,
        contact=current_app.config.get("PRIVACY_CONTACT") or "",
        retention_days=current_app.config["AUDIT_RETENTION_DAYS"],
    )


@bp.route("/healthz")
def healthz() -> ResponseReturnValue:
    """Liveness: the process answers (no database)."""
    return jsonify(status="ok")


@bp.route("/readyz")
def readyz() -> ResponseReturnValue:
    """Readiness: database, migrations at head, upload folder, free disk, clamd (if configured).

    503 names the failing checks (see :mod:`feedback.main.readiness`).
    """
    failed = readiness.failing_checks()
    if failed:
        return jsonify(status="unavailable", failed=failed), 503
    return jsonify(status="ready")
