"""Each user's inbox: add notifications, count unread ones, mark them read."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select, update

from feedback.extensions import db
from feedback.models import Notification, Role, User, UserRole, utcnow


def notify(
    users: Iterable[User], kind: str, title: str, body: str = "", link: str | None = None
) -> int:
    """Add one notification per user (once each, active users only); returns how many."""
    seen: set[int] = set()
    for user in users:
        if user.id in seen or not user.active:
            continue
        seen.add(user.id)
        db.session.add(
            Notification(user_id=user.id, kind=kind, title=title[:200], body=body, link=link)
        )
    return len(seen)


def organisation_members(organisation_id: int, *roles: Role) -> list[User]:
    """Active users of an organisation holding any of ``roles``."""
    query = (
        select(User)
        .join(UserRole)
        .where(User.organisation_id == organisation_id, User.active, UserRole.role.in_(roles))
        .distinct()
    )
    return list(db.session.scalars(query))


def unread_count(user_id: int) -> int:
    """How many notifications ``user_id`` has not read."""
    query = select(func.count()).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)
    )
    return int(db.session.scalar(query) or 0)


def inbox(user_id: int, limit: int = 100) -> list[Notification]:
    """The newest notifications of a user."""
    query = (
        select(Notification)
        .where(Notification.user_id == user_id)
        .order_by(Notification.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query))


def mark_read(user_id: int, notification_id: int | None = None) -> None:
    """Mark one (or every) notification of the user as read."""
    statement = update(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)
    )
    if notification_id is not None:
        statement = statement.where(Notification.id == notification_id)
    db.session.execute(statement.values(read_at=utcnow()))
