"""Flask-Login wiring: the user loader checks the session row and the per-user session version."""

from __future__ import annotations

from flask import Flask, g, session

from feedback.auth import sessions
from feedback.extensions import db, login_manager
from feedback.i18n import lazy_gettext as _l
from feedback.models import User


def _parse(identifier: str) -> tuple[int, int] | None:
    user_id, _sep, version = identifier.partition(":")
    if not (user_id.isdigit() and version.isdigit()):
        return None
    return int(user_id), int(version)


def pending_user(identifier: str) -> User | None:
    """The user named by ``"<id>:<session_version>"`` while the version is current and the
    account usable: the code step of a login, before any session exists."""
    parsed = _parse(identifier)
    if parsed is None:
        return None
    user = db.session.get(User, parsed[0])
    if user is None or user.session_version != parsed[1] or not user.is_active:
        return None
    return user


def load_user(identifier: str) -> User | None:
    """Load the user from ``"<id>:<session_version>"`` and the cookie's session id.

    One query for both the user and the session row; no write. A stale version (logout,
    password change, deactivation) or an ended row (logout, eviction) means a revoked session.
    """
    parsed = _parse(identifier)
    token = session.get(sessions.SESSION_KEY)
    if parsed is None or not isinstance(token, str):
        return None
    found = sessions.load(parsed[0], token)
    if found is None:
        return None
    user, row = found
    if user.session_version != parsed[1] or not user.is_active:
        return None
    g.user_session = row
    return user


def init_login(app: Flask) -> None:
    """Attach Flask-Login: no remember-me, strong session protection."""
    login_manager.init_app(app)
    login_manager.user_loader(load_user)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("请先登录。")
    login_manager.login_message_category = "info"
    # "strong" would log users out when a mobile network changes their IP mid-session.
    login_manager.session_protection = "basic"
