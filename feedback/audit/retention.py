"""Retention of the audit trail: records are kept at least six months, then may be purged.

SECURITY.md row 36: a purge never deletes a record younger than max(AUDIT_RETENTION_DAYS, 184
days), and the setting itself may not be under 180 days (checked at start-up, feedback.config).

The purge removes a *prefix* of the chain (every record before the first one dated on or after
the cut-off), so the rest stays one unbroken chain. Before deleting it appends an
:class:`AuditAnchor` naming the last purged record and its hash: the verifier starts from there.
The database triggers allow a DELETE on ``audit_record`` only for a row older than 184 days that
such an anchor already covers, so this is the only way records can go, and it leaves a trace.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from flask import current_app
from sqlalchemy import delete, func, select

from feedback.audit.chain import AnySession, lock_chain
from feedback.audit.services import record
from feedback.exceptions import DomainError
from feedback.models import AuditAnchor, AuditRecord, User
from feedback.models.base import utcnow

# Six months is at most 184 days (two 31-day months among any six consecutive ones).
LEGAL_MINIMUM_DAYS = 184
CONFIG_MINIMUM_DAYS = 180


class PurgeRefused(DomainError):
    """The requested purge would delete records that must still be kept."""


@dataclass(frozen=True)
class PurgeResult:
    purged: int
    anchor: AuditAnchor | None


def retention_days() -> int:
    """How many days every record is kept, at least."""
    return max(int(current_app.config["AUDIT_RETENTION_DAYS"]), LEGAL_MINIMUM_DAYS)


def earliest_allowed_cutoff(today: date | None = None) -> date:
    """The latest ``--before`` date a purge accepts (UTC dates)."""
    today = today or utcnow().date()
    return today - timedelta(days=retention_days())


def purge(session: AnySession, before: date, *, actor: User | None = None) -> PurgeResult:
    """Delete the records dated before ``before`` (00:00 UTC), leaving an anchor; audited.

    Flushes; the caller commits.
    """
    limit = earliest_allowed_cutoff()
    if before > limit:
        raise PurgeRefused(
            f"审计记录至少保留 {retention_days()} 天：只能清理 {limit.isoformat()} 之前的记录。"
        )
    cutoff = datetime.combine(before, time.min, tzinfo=UTC)
    connection = session.connection()
    lock_chain(connection)
    first_kept = session.scalar(select(func.min(AuditRecord.id)).where(AuditRecord.at >= cutoff))
    candidates = select(AuditRecord).order_by(AuditRecord.id.desc()).limit(1)
    if first_kept is not None:
        candidates = candidates.where(AuditRecord.id < first_kept)
    last = session.scalars(candidates).first()
    anchor = None
    purged = 0
    if last is not None:
        purged = session.scalar(select(func.count()).where(AuditRecord.id <= last.id)) or 0
        anchor = AuditAnchor(
            purged_before=cutoff,
            purged_count=purged,
            last_id=last.id,
            last_at=last.at,
            last_hash=last.hash,
        )
        session.add(anchor)
        session.flush()  # the delete trigger looks for this anchor
        session.execute(
            delete(AuditRecord).where(AuditRecord.id <= last.id),
            execution_options={"synchronize_session": False},
        )
        session.expire_all()
    record(
        "audit_purge",
        actor=actor,
        object_type="audit_anchor",
        object_id=anchor.id if anchor else None,
        before=before.isoformat(),
        purged=purged,
        last_hash=anchor.last_hash if anchor else None,
    )
    session.flush()
    return PurgeResult(purged=purged, anchor=anchor)
