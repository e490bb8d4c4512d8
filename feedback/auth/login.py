"""Flask-Login wiring: the user loader checks the per-user session version."""

from __future__ import annotations

from flask import Flask

from feedback.extensions import db, login_manager
from feedback.i18n import lazy_gettext as _l
from feedback.models import User


def load_user(identifier: str) -> User | None:
    """Load the user from ``"<id>:<session_version>"``; a stale version means a revoked session."""
    user_id, _sep, version = identifier.partition(":")
    if not (user_id.isdigit() and version.isdigit()):
        return None
    user = db.session.get(User, int(user_id))
    if user is None or user.session_version != int(version) or not user.is_active:
        return None
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
