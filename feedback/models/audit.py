"""The security audit trail (安全审计): one append-only, hash-chained row per security event.

Each row stores the hash of the row before it (``prev_hash``) and its own ``hash`` =
SHA-256(prev_hash ‖ canonical form of its fields); see :mod:`feedback.audit.chain`. The database
refuses UPDATE and DELETE (triggers created by migration 8192a3b4c509); the only deletion allowed
is the retention purge, which first records an :class:`AuditAnchor`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from feedback.models.base import Base, utcnow


class AuditRecord(Base):
    """Who (with which roles, of which organisation) did what to which object, when, from where,
    in which request, and whether it succeeded."""

    __tablename__ = "audit_record"
    # SQLite would otherwise reuse the ids of purged rows once the table is empty.
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    actor_email: Mapped[str | None] = mapped_column(String(254))
    # Comma-separated, sorted: the roles the actor held at the time (roles change later).
    actor_roles: Mapped[str | None] = mapped_column(String(120))
    # No foreign key: the log must outlive whatever it names.
    actor_org_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(60), index=True)
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(20), default="success")
    ip: Mapped[str | None] = mapped_column(String(45))
    request_id: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text)
    # Unique: two rows can never follow the same predecessor, so the chain cannot fork.
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64))


class AuditAnchor(Base):
    """Left behind by a retention purge: where the remaining chain continues from.

    The first record kept after a purge has ``prev_hash`` equal to ``last_hash``; the verifier
    starts from the newest anchor. Anchors are append-only too, and the delete trigger on
    ``audit_record`` only lets a row go when an anchor already covers its id.
    """

    __tablename__ = "audit_anchor"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    purged_before: Mapped[datetime]
    purged_count: Mapped[int] = mapped_column(Integer)
    last_id: Mapped[int] = mapped_column(Integer)
    last_at: Mapped[datetime]
    last_hash: Mapped[str] = mapped_column(String(64))
