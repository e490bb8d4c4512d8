"""Login, logout and password change."""

from __future__ import annotations

import logging
import time

from flask import flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_user, logout_user

from feedback.audit.services import record
from feedback.auth import services, sessions
from feedback.auth.blueprint import bp
from feedback.auth.forms import ChangePasswordForm, LoginForm
from feedback.extensions import db, limiter
from feedback.i18n import gettext as _
from feedback.models import User
from feedback.security import acting_user, clear_session_keeping_language, is_safe_local_path

__all__ = ["bp", "carry_on", "start_session"]

log = logging.getLogger(__name__)


def _safe_next(target: str | None) -> str:
    # Only same-site paths: "//evil.example", "/\t/evil.example" and "https://…" are open redirects.
    if target and is_safe_local_path(target):
        return target
    return url_for("main.index")


def login_limit() -> str:
    from flask import current_app

    return str(current_app.config["RATELIMIT_LOGIN"])


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(login_limit, methods=["POST"])
def login() -> ResponseReturnValue:
    """Show the login form and log the user in."""
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.email.data or "", form.password.data or "")
        except services.LoginFailed as failure:
            db.session.commit()  # keep the failure count and the audit row
            # For the log server's alerting; the audit row has the reason. The address is the
            # person's own input: the formatter escapes its line breaks (SECURITY.md row 33).
            log.warning("login failed for %s from %s", form.email.data, request.remote_addr)
            form.password.errors = [failure.message]
            return render_template("auth/login.html", form=form), 200
        target = _safe_next(request.args.get("next"))
        if user.mfa_enabled:
            # The password is right; the session stays anonymous until the code is too.
            clear_session_keeping_language()
            session["mfa_pending"] = {"user": user.get_id(), "at": time.time(), "next": target}
            db.session.commit()
            return redirect(url_for("auth.mfa_verify"))
        return start_session(user, target)
    return render_template("auth/login.html", form=form)


def start_session(user: User, target: str) -> ResponseReturnValue:
    """Log ``user`` in (every factor proven) and send them where they must or want to go."""
    # A new session at login: nothing planted before it survives (session fixation); only
    # the interface language chosen on the login page carries over.
    clear_session_keeping_language()
    carry_on(user)
    session.permanent = True
    session["login_at"] = session["last_seen"] = time.time()
    db.session.commit()
    if user.must_change_password:
        flash(_("这是一次性初始密码，请先设置您自己的密码。"), "warning")
        return redirect(url_for("auth.change_password"))
    if services.password_expired(user):
        flash(_("您的密码已超过规定的使用期限，请设置新密码。"), "warning")
        return redirect(url_for("auth.change_password"))
    if user.mfa_required and not user.mfa_enabled:
        return redirect(url_for("auth.mfa_setup"))  # the page says why
    return redirect(target)


def carry_on(user: User) -> None:
    """Log ``user`` in under a new session row: at login, or after their other sessions ended.

    The caller commits. Beyond ``MAX_SESSIONS_PER_USER`` the oldest live session ends.
    """
    token = sessions.begin(user)
    login_user(user)
    session[sessions.SESSION_KEY] = token


@bp.route("/logout", methods=["POST"])
def logout() -> ResponseReturnValue:
    """End every session of the user and return to the login page."""
    user = acting_user()
    sessions.end_current("logout")
    services.end_all_sessions(user)
    record("logout", actor=user)
    db.session.commit()
    logout_user()
    clear_session_keeping_language()
    flash(_("您已安全退出。"), "success")
    response = redirect(url_for("auth.login"))
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    return response


@bp.route("/password", methods=["GET", "POST"])
def change_password() -> ResponseReturnValue:
    """Change one's own password (forced after a one-time password)."""
    user = acting_user()
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            services.change_password(
                user, form.current_password.data or "", form.new_password.data or ""
            )
        except services.PasswordRejected as rejected:
            db.session.commit()  # keep the audit row of a failed attempt
            getattr(form, rejected.field).errors = rejected.problems
            return _password_page(form, user), 200
        # Other sessions ended with the version bump; keep this one under the new identifier.
        carry_on(user)
        db.session.commit()
        session["login_at"] = session["last_seen"] = time.time()
        flash(_("密码已修改。其他设备上的登录已全部退出。"), "success")
        return redirect(url_for("main.index"))
    return _password_page(form, user)


def _password_page(form: ChangePasswordForm, user: User) -> str:
    expired = services.password_expired(user)
    return render_template("auth/change_password.html", form=form, user=user, expired=expired)
