"""The server-side record of login sessions (SECURITY.md row 9).

The cookie names a random session id; the ``user_session`` table holds its SHA-256. A login
adds a row and ends the oldest live ones beyond ``MAX_SESSIONS_PER_USER``; every request loads
the user and the row in one query and writes nothing. The per-user ``session_version`` still
ends every session at once; :func:`end_all` closes the rows to match.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from flask import current_app, g, has_request_context, request, session
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import joinedload

from feedback.audit.services import record
from feedback.extensions import db
from feedback.models import User, UserSession, utcnow

# The key of the random session id in the (signed) session cookie.
SESSION_KEY = "sid"
USER_AGENT_LENGTH = 120


def token_hash(token: str) -> str:
    """What the table stores of a session id."""
    return hashlib.sha256(token.encode()).hexdigest()


def expired_before(now: datetime) -> datetime:
    """Sessions started before this moment are past the absolute limit, live or not."""
    return now - timedelta(hours=int(current_app.config["SESSION_ABSOLUTE_HOURS"]))


def _live(user_id: int, now: datetime) -> list[UserSession]:
    query = (
        select(UserSession)
        .where(
            UserSession.user_id == user_id,
            UserSession.ended_at.is_(None),
            UserSession.created_at > expired_before(now),
        )
        .order_by(UserSession.created_at, UserSession.id)
    )
    return list(db.session.scalars(query))


def begin(user: User, *, now: datetime | None = None) -> str:
    """Record a new session of ``user`` and return its id for the cookie.

    The oldest live sessions beyond the limit end now, each audited as ``session_evict``. Two
    logins of one person do not race past the limit: both have already updated the user's row
    (``complete_login``), which serialises them until the first commits.
    """
    now = now or utcnow()
    limit = int(current_app.config["MAX_SESSIONS_PER_USER"])
    if limit > 0:
        live = _live(user.id, now)
        for old in live[: max(len(live) + 1 - limit, 0)]:
            old.ended_at = now
            old.ended_reason = "evicted"
            record(
                "session_evict",
                actor=user,
                object_type="user",
                object_id=user.id,
                session=old.id,
                started=old.created_at.isoformat(timespec="seconds"),
                limit=limit,
            )
    token = secrets.token_urlsafe(32)
    row = UserSession(token_hash=token_hash(token), user_id=user.id, created_at=now)
    if has_request_context():
        row.ip = request.remote_addr
        row.user_agent = (request.user_agent.string or "")[:USER_AGENT_LENGTH] or None
    db.session.add(row)
    db.session.flush()
    return token


def load(user_id: int, token: str) -> tuple[User, UserSession] | None:
    """The user and their live session named by ``token``, in one query (every request)."""
    query = (
        select(User, UserSession)
        .join(UserSession, UserSession.user_id == User.id)
        .where(
            User.id == user_id,
            UserSession.token_hash == token_hash(token),
            UserSession.ended_at.is_(None),
        )
        # The roles in the same statement (every page asks them), not in a second one.
        .options(joinedload(User.role_rows))
    )
    found = db.session.execute(query).unique().one_or_none()
    if found is None:
        return None
    user, row = found
    return user, row


def current() -> UserSession | None:
    """This request's session row (after the login wall loaded the user)."""
    row = g.get("user_session")
    return row if isinstance(row, UserSession) else None


def end_current(reason: str, *, now: datetime | None = None) -> None:
    """End this request's session row (logout, timeout); the caller commits."""
    row = current()
    if row is not None and row.ended_at is None:
        row.ended_at = now or utcnow()
        row.ended_reason = reason
    session.pop(SESSION_KEY, None)


def end_all(user: User, reason: str = "revoked", *, now: datetime | None = None) -> None:
    """Close every live row of ``user`` (their cookies already fail the version check)."""
    db.session.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .values(ended_at=now or utcnow(), ended_reason=reason)
        .execution_options(synchronize_session="fetch")
    )


def live_counts(user_ids: list[int], *, now: datetime | None = None) -> dict[int, int]:
    """How many live sessions each of ``user_ids`` has (one query; absent means none)."""
    if not user_ids:
        return {}
    query = (
        select(UserSession.user_id, func.count())
        .where(
            UserSession.user_id.in_(user_ids),
            UserSession.ended_at.is_(None),
            UserSession.created_at > expired_before(now or utcnow()),
        )
        .group_by(UserSession.user_id)
    )
    return {user_id: int(count) for user_id, count in db.session.execute(query).all()}


def purge(*, now: datetime | None = None) -> int:
    """Delete the rows of ended and expired sessions; returns how many went."""
    cutoff = expired_before(now or utcnow())
    result = db.session.execute(
        delete(UserSession)
        .where(or_(UserSession.ended_at.is_not(None), UserSession.created_at <= cutoff))
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
