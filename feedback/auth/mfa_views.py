"""The second factor's pages: the code step of logging in, enrolment, recovery codes."""

from __future__ import annotations

import time
from typing import Any

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from feedback.auth import mfa, services
from feedback.auth.blueprint import bp
from feedback.auth.forms import MfaCodeForm, RecoveryCodeForm
from feedback.auth.login import pending_user
from feedback.auth.views import carry_on, login_limit, start_session
from feedback.extensions import db, limiter
from feedback.i18n import gettext as _
from feedback.models import User, utcnow
from feedback.security import acting_user


def _pending() -> tuple[User, dict[str, Any]] | None:
    """The user whose password was just accepted in this session, if still waiting for a code."""
    pending = session.get("mfa_pending")
    if not isinstance(pending, dict):
        return None
    age = time.time() - float(pending.get("at", 0))
    # pending_user refuses a changed session version (password changed, MFA reset) or deactivation.
    user = pending_user(str(pending.get("user", "")))
    if age > current_app.config["MFA_PENDING_SECONDS"] or user is None or not user.mfa_enabled:
        return None
    return user, pending


@bp.route("/mfa", methods=["GET", "POST"])
@limiter.limit(login_limit, methods=["POST"])
def mfa_verify() -> ResponseReturnValue:
    """Second step of logging in: a code from the authenticator, or a recovery code."""
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    found = _pending()
    if found is None:
        session.pop("mfa_pending", None)
        flash(_("请输入邮箱和密码登录。"), "info")
        return redirect(url_for("auth.login"))
    user, pending = found
    recovery = request.args.get("method") == "recovery"
    form = RecoveryCodeForm() if recovery else MfaCodeForm()
    if form.validate_on_submit():
        try:
            method = mfa.verify_login(user, form.code.data or "")
        except services.LoginFailed as failure:
            db.session.commit()  # keep the failure count and the audit row
            if user.locked_until is not None and user.locked_until > utcnow():
                session.pop("mfa_pending", None)
                minutes = current_app.config["LOGIN_LOCK_MINUTES"]
                flash(_("验证失败次数过多，账户已锁定 %(m)d 分钟。", m=minutes), "danger")
                return redirect(url_for("auth.login"))
            form.code.errors = [failure.message]
            return render_template("auth/mfa_verify.html", form=form, recovery=recovery), 200
        response = start_session(user, str(pending.get("next") or url_for("main.index")))
        if method == "recovery":  # after start_session, which empties the session
            left = mfa.remaining_recovery_codes(user)
            flash(_("已使用一个恢复码，还剩 %(n)d 个。", n=left), "warning")
        return response
    return render_template("auth/mfa_verify.html", form=form, recovery=recovery)


@bp.route("/mfa/setup", methods=["GET", "POST"])
def mfa_setup() -> ResponseReturnValue:
    """Set up an authenticator app: QR code and secret, confirmed with a first code."""
    user = acting_user()
    if user.mfa_enabled:
        flash(_("两步验证已启用。"), "info")
        return redirect(url_for("auth.account"))
    # The new secret waits in the session (the page shows it anyway) until a code confirms it.
    secret = session.get("mfa_setup_secret")
    if not isinstance(secret, str):
        secret = session["mfa_setup_secret"] = mfa.new_secret()
    form = MfaCodeForm()
    status = 200
    if form.validate_on_submit():
        try:
            codes = mfa.enrol(user, secret, form.code.data or "")
        except mfa.CodeRejected:
            db.session.commit()  # keep the audit row
            form.code.errors = [_("验证码不正确，请输入验证器当前显示的 6 位数字。")]
        else:
            carry_on(user)  # this session carries on under the new session version
            db.session.commit()
            session.pop("mfa_setup_secret", None)
            return render_template("auth/mfa_recovery_codes.html", codes=codes, first=True)
    uri = mfa.provisioning_uri(secret, user.email)
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    page = render_template(
        "auth/mfa_setup.html", form=form, qr=mfa.qr_svg(uri), secret=grouped, user=user
    )
    return page, status


@bp.route("/account")
def account() -> ResponseReturnValue:
    """One's own security settings: password age, second factor, recovery codes."""
    return _account_page(MfaCodeForm())


def _account_page(form: MfaCodeForm) -> str:
    user = acting_user()
    max_age = services.password_max_age(user)
    return render_template(
        "auth/account.html",
        user=user,
        form=form,
        remaining=mfa.remaining_recovery_codes(user) if user.mfa_enabled else 0,
        password_expires=user.password_changed_at + max_age if max_age else None,
    )


@bp.route("/mfa/recovery-codes", methods=["POST"])
def mfa_recovery_codes() -> ResponseReturnValue:
    """Replace one's recovery codes, confirmed with a current authenticator code."""
    user = acting_user()
    if not user.mfa_enabled:
        return redirect(url_for("auth.mfa_setup"))
    form = MfaCodeForm()
    if form.validate_on_submit():
        try:
            codes = mfa.regenerate_recovery_codes(user, form.code.data or "")
        except mfa.CodeRejected:
            db.session.commit()  # keep the audit row
            form.code.errors = [_("验证码不正确或已使用过，请输入验证器上新的验证码。")]
        else:
            db.session.commit()
            return render_template("auth/mfa_recovery_codes.html", codes=codes, first=False)
    return _account_page(form), 200
