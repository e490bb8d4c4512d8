"""Helpers of the API tests: tokens for users, and their Authorization headers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime

import pytest
from flask import Flask
from werkzeug.serving import make_server

from feedback.api import tokens
from feedback.extensions import db
from feedback.models import ApiToken, Scope, User, utcnow


def token_for(user: User, *scopes: str, days: int = 30) -> str:
    """A new bearer token of ``user`` (default: every scope the user's roles allow)."""
    wanted = list(scopes) or [s.value for s in tokens.allowed_scopes(user)]
    created = tokens.create(user, name="测试令牌", scopes=wanted, expires_days=days)
    db.session.commit()
    return created.secret


def forced_token(user: User, scopes: str, *, expires_at: datetime | None = None) -> str:
    """A token row written directly, with scopes the UI would not grant (to prove the owner's
    roles still bound it)."""
    created = tokens.create(user, name="强制令牌", scopes=["read"], expires_days=30)
    created.token.scopes_text = scopes
    if expires_at is not None:
        created.token.expires_at = expires_at
    db.session.commit()
    return created.secret


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def row_of(raw: str) -> ApiToken:
    token: ApiToken = db.session.scalars(
        db.select(ApiToken).where(ApiToken.prefix == raw[: len(tokens.PREFIX) + 8])
    ).one()
    db.session.refresh(token)
    return token


__all__ = ["Scope", "bearer", "forced_token", "row_of", "token_for", "utcnow"]


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The app served over HTTP on a free loopback port; yields its base URL."""
    db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
