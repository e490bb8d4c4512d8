"""Home (dashboard), health checks, language switch and the organisation profile."""

from __future__ import annotations

from flask import Blueprint, jsonify, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select, text

from feedback.access import get_scoped_or_404
from feedback.extensions import db
from feedback.main import services
from feedback.models import Organisation, User
from feedback.security import acting_user

bp = Blueprint("main", __name__)


@bp.route("/")
def index() -> ResponseReturnValue:
    """The dashboard: what the logged-in user can do, by role."""
    user = acting_user()
    return render_template("main/index.html", user=user, summary=services.dashboard(user))


@bp.route("/organisations/<int:org_id>")
def organisation(org_id: int) -> ResponseReturnValue:
    """An organisation's profile and members (own organisation, or staff and administrators)."""
    org = get_scoped_or_404(Organisation, org_id, acting_user())
    members = db.session.scalars(
        select(User).where(User.organisation_id == org.id).order_by(User.name)
    ).all()
    return render_template("main/organisation.html", org=org, members=members)


@bp.route("/language", methods=["POST"])
def set_language() -> ResponseReturnValue:
    """Switch between Chinese and English (kept in the session)."""
    lang = request.form.get("lang", "zh_CN")
    session["lang"] = lang if lang in ("zh_CN", "en") else "zh_CN"
    target = request.form.get("next", "")
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("main.index")
    return redirect(target)


@bp.route("/healthz")
def healthz() -> ResponseReturnValue:
    """Liveness: the process answers (no database)."""
    return jsonify(status="ok")


@bp.route("/readyz")
def readyz() -> ResponseReturnValue:
    """Readiness: the database answers."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # any driver error means "not ready"; details stay in the log
        db.session.rollback()
        return jsonify(status="unavailable"), 503
    return jsonify(status="ready")
