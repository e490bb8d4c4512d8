"""Request-wide security policy: deny by default, session timeouts, forced steps, headers.

Every endpoint needs a logged-in user except those in ``PUBLIC_ENDPOINTS``; a new route is covered
without anyone remembering to decorate it (SECURITY.md row 12).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, abort, flash, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask.typing import ResponseReturnValue
from flask_login import current_user, logout_user
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from feedback.auth import sessions
from feedback.auth.services import password_expired
from feedback.database import write_after_read
from feedback.extensions import db
from feedback.i18n import gettext as _
from feedback.models import Role, User

PUBLIC_ENDPOINTS = frozenset(
    {
        "static",
        "auth.login",
        "auth.mfa_verify",
        "main.healthz",
        "main.readyz",
        "main.set_language",
        "main.privacy",
    }
)
# The JSON API's blueprint: exempt from the session wall and CSRF, guarded by bearer tokens.
API_BLUEPRINT = "api"
# Allowed while a user must still change a one-time or expired password.
PASSWORD_CHANGE_ENDPOINTS = frozenset({"auth.change_password", "auth.logout"})
# Allowed while a user who must use a second factor has not set one up yet.
MFA_SETUP_ENDPOINTS = frozenset({"auth.mfa_setup", "auth.logout"})

CSP = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)

F = TypeVar("F", bound=Callable[..., Any])


def acting_user() -> User:
    """The logged-in user (views behind the login wall only)."""
    user = current_user._get_current_object()
    assert isinstance(user, User)
    return user


def is_safe_local_path(target: str) -> bool:
    """True if ``target`` is a path on this site, safe to redirect to after login or a switch.

    Browsers strip tabs and newlines from a URL and read ``\\`` as ``/``, so ``/\\t/evil.example``
    and ``/\\evil.example`` are really ``//evil.example``, another site; a newline would also break
    the ``Location`` header. Anything with a control character, a backslash, a scheme or a host is
    refused.
    """
    if not target or any(ord(char) < 0x20 or ord(char) == 0x7F for char in target):
        return False
    if "\\" in target or target.startswith("//"):
        return False
    try:
        parts = urlsplit(target)
    except ValueError:  # e.g. an unbalanced "[" read as an IPv6 host
        return False
    return not parts.scheme and not parts.netloc and parts.path.startswith("/")


def clear_session_keeping_language() -> None:
    """Empty the session (login, logout, timeout) but keep the chosen interface language."""
    lang = session.get("lang")
    session.clear()
    if lang in ("zh_CN", "en"):
        session["lang"] = lang


def require_roles(*roles: Role) -> Callable[[F], F]:
    """Answer 403 unless the logged-in user holds one of ``roles``."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not acting_user().has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


class HttpsAwareSessionInterface(SecureCookieSessionInterface):
    """Marks the session cookie ``Secure`` whenever the request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)


def init_security(app: Flask) -> None:
    """Install the request hooks, the session interface and the proxy middleware."""
    app.session_interface = HttpsAwareSessionInterface()
    hops = int(app.config["PROXY_FIX_HOPS"])
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    app.before_request(refuse_nul_characters)
    app.before_request(enforce_session_policy)
    app.after_request(set_security_headers)


def refuse_nul_characters() -> None:
    """400 for a NUL character in the path, a query or a form value (SECURITY.md row 18).

    Nobody types one, and PostgreSQL cannot store or even compare it in a text column: the
    fuzzing of every form found an idempotency key of NULs ending in a 500 there. Files are
    not looked at; JSON bodies are the API's schemas' business.
    """
    if "\0" in request.path:
        abort(400)
    for fields in (request.args, request.form):
        for key, value in fields.items(multi=True):
            if "\0" in key or "\0" in value:
                abort(400)


def _timed_out(now: float) -> bool:
    from flask import current_app

    user = acting_user()
    idle_minutes = int(
        current_app.config[
            "SESSION_IDLE_MINUTES_ADMIN" if user.is_administrator else "SESSION_IDLE_MINUTES"
        ]
    )
    started = float(session.get("login_at", 0))
    last_seen = float(session.get("last_seen", 0))
    absolute = int(current_app.config["SESSION_ABSOLUTE_HOURS"]) * 3600
    return now - last_seen > idle_minutes * 60 or now - started > absolute


LAST_SEEN_STEP = 60  # seconds: how stale session["last_seen"] may grow before it is renewed


def enforce_session_policy() -> ResponseReturnValue | None:
    """Login wall, idle/absolute timeout on the server side, and forced password change."""
    endpoint = request.endpoint or ""
    if endpoint in PUBLIC_ENDPOINTS or request.blueprint == API_BLUEPRINT:
        # The API authenticates every request by its bearer token (feedback.api.core) and
        # never by the session: it is behind its own wall, not this one.
        return None
    if not current_user.is_authenticated:
        if endpoint is None or request.url_rule is None:
            return None  # a 404 answers the same whether or not one is logged in
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    now = time.time()
    if _timed_out(now):
        # The only write of the login wall: the row stops counting as live, and the timeout is
        # audited with it. A GET reads first (the user loader), so end that read before writing
        # (feedback.database).
        from feedback.audit.services import record

        user = acting_user()
        write_after_read()
        sessions.end_current("timeout")
        record("session_timeout", actor=user, object_type="user", object_id=user.id,
               outcome="success")  # fmt: skip
        db.session.commit()
        logout_user()
        clear_session_keeping_language()
        flash(_("由于长时间未操作，您已自动退出，请重新登录。"), "warning")
        return redirect(url_for("auth.login"))
    # To the minute: the idle limit is 15 or 30 minutes, and a session left unchanged is not
    # signed and sent back again (most requests of a working session then set no cookie).
    if now - float(session.get("last_seen", 0)) >= LAST_SEEN_STEP:
        session["last_seen"] = now
    return _forced_step(acting_user(), endpoint)


def _forced_step(user: User, endpoint: str) -> ResponseReturnValue | None:
    """Send the user to the step they must finish first: a new password, then a second factor."""
    if user.must_change_password or password_expired(user):
        if endpoint not in PASSWORD_CHANGE_ENDPOINTS:
            return redirect(url_for("auth.change_password"))
    elif user.mfa_required and not user.mfa_enabled and endpoint not in MFA_SETUP_ENDPOINTS:
        # A password-only session of staff or an administrator reaches nothing else (等保 L3).
        return redirect(url_for("auth.mfa_setup"))
    return None


def set_security_headers(response: Response) -> Response:
    """Security headers on every response, including errors (SECURITY.md row 29)."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    # Never no-referrer: Flask-WTF checks a same-origin Referer on HTTPS POSTs.
    headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    if request.is_secure:
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    if current_user.is_authenticated and request.endpoint != "static":
        headers["Cache-Control"] = "no-store"
    return response
