"""The audit hash chain: how a record is hashed, how rows are chained at flush, how to verify.

Canonical form (version 1) of a record — defined here once; migration 8192a3b4c509 carries a
frozen copy to chain the rows that existed before it:

* a JSON object with exactly these keys: ``v`` (always 1), ``at``, ``actor_id``, ``actor_email``,
  ``actor_roles``, ``actor_org_id``, ``action``, ``object_type``, ``object_id``, ``outcome``,
  ``ip``, ``request_id``, ``detail``;
* ``at`` as UTC ISO-8601 with microseconds and ``Z`` (``2026-11-28T18:30:00.000000Z``), the
  precision both SQLite and PostgreSQL keep; absent values as JSON ``null``; ``actor_id`` and
  ``actor_org_id`` as numbers, everything else as strings;
* serialised with sorted keys, no whitespace (``","`` and ``":"``), non-ASCII kept, UTF-8 encoded.

``hash`` = hex SHA-256 of ``prev_hash`` (64 ASCII hex digits) followed by those bytes. The first
record of the trail follows :data:`GENESIS`; after a purge the first record kept follows the
newest :class:`AuditAnchor`'s ``last_hash``. The row id is not hashed (it is assigned by the
database on insert); the order is bound by each row naming its predecessor, and ``prev_hash`` is
unique so two rows can never claim the same one.

Concurrency: the head of the chain is read under a lock held to the end of the transaction, so
two transactions cannot both append after the same row. PostgreSQL takes a transaction-level
advisory lock; SQLite writers are serialised already (BEGIN IMMEDIATE, see feedback.database),
and a deferred transaction that lost the race fails to upgrade rather than fork.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.engine import Connection, Row
from sqlalchemy.orm import Session, UOWTransaction, scoped_session

from feedback.models import AuditAnchor, AuditRecord
from feedback.models.base import utcnow

# A plain session, or Flask-SQLAlchemy's scoped ``db.session``.
AnySession = Session | scoped_session[Any]

GENESIS = "0" * 64
CANONICAL_VERSION = 1
# pg_advisory_xact_lock key shared by every process that appends to the chain ("audit" in ASCII).
ADVISORY_LOCK_KEY = 0x61756469_74
HASHED_FIELDS = (
    "at",
    "actor_id",
    "actor_email",
    "actor_roles",
    "actor_org_id",
    "action",
    "object_type",
    "object_id",
    "outcome",
    "ip",
    "request_id",
    "detail",
)


def iso_utc(moment: datetime) -> str:
    """``moment`` as UTC ISO-8601 with microseconds and a ``Z``."""
    if moment.tzinfo is None:
        raise ValueError("audit times are aware UTC datetimes")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(row: Any) -> bytes:
    """The canonical serialisation of ``row``'s hashed fields (see the module docstring).

    ``row`` is an :class:`AuditRecord` or a result row of the ``audit_record`` table.
    """
    values: dict[str, Any] = {name: getattr(row, name) for name in HASHED_FIELDS}
    values["at"] = iso_utc(row.at)
    values["v"] = CANONICAL_VERSION
    return json.dumps(values, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def compute_hash(prev_hash: str, row: Any) -> str:
    """SHA-256(prev_hash ‖ canonical(row)) in hex."""
    return hashlib.sha256(prev_hash.encode("ascii") + canonical(row)).hexdigest()


def lock_chain(connection: Connection) -> None:
    """Serialise appenders until this transaction ends (PostgreSQL; SQLite is serialised)."""
    if connection.dialect.name == "postgresql":
        # nosemgrep: sql-text-built-from-strings -- a module constant, not input
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK_KEY})")


def chain_head(connection: Connection) -> str:
    """The hash the next record must follow: the last record's, else the newest anchor's."""
    last = connection.scalar(select(AuditRecord.hash).order_by(AuditRecord.id.desc()).limit(1))
    if last is not None:
        return str(last)
    anchor = connection.scalar(
        select(AuditAnchor.last_hash).order_by(AuditAnchor.id.desc()).limit(1)
    )
    return str(anchor) if anchor is not None else GENESIS


def _chain_new_records(session: Session, _context: UOWTransaction, _instances: object) -> None:
    """Give every new record its place in the chain, in the order they were added."""
    pending = [obj for obj in session.new if isinstance(obj, AuditRecord) and obj.hash is None]
    if not pending:
        return
    # insert_order is the order the unit of work will INSERT them in, so ids follow the chain.
    pending.sort(key=lambda obj: inspect(obj).insert_order)
    connection = session.connection()
    lock_chain(connection)
    previous = chain_head(connection)
    for row in pending:
        # Column defaults apply only at INSERT, after this hook: the hash needs them now.
        if getattr(row, "at", None) is None:
            row.at = utcnow()
        if getattr(row, "outcome", None) is None:
            row.outcome = "success"
        row.prev_hash = previous
        row.hash = compute_hash(previous, row)
        previous = row.hash


def install(app_or_none: object = None) -> None:
    """Chain audit records at every flush, in every session of this process (idempotent)."""
    if not event.contains(Session, "before_flush", _chain_new_records):
        event.listen(Session, "before_flush", _chain_new_records)


# -- verifying ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    """The verifier's verdict: how many records were checked, and the first broken one."""

    count: int
    broken_id: int | None = None
    broken_at: datetime | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_id is None


def _records(session: AnySession, batch: int) -> Iterator[Row[Any]]:
    """Every record in id order, a batch at a time (plain rows: bounded memory, no identity map)."""
    table = AuditRecord.__table__
    after = 0
    while True:
        rows = session.execute(
            select(table).where(table.c.id > after).order_by(table.c.id).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        after = rows[-1].id


def verify(session: AnySession, batch: int = 1000) -> Verification:
    """Walk the chain from the newest anchor (or the genesis) to the head."""
    anchor = session.scalars(select(AuditAnchor).order_by(AuditAnchor.id.desc()).limit(1)).first()
    expected = anchor.last_hash if anchor else GENESIS
    floor = anchor.last_id if anchor else 0
    count = 0
    for row in _records(session, batch):
        reason = None
        if row.id <= floor:
            reason = "purged_row_present"
        elif row.prev_hash != expected:
            reason = "prev_hash_mismatch"
        elif compute_hash(row.prev_hash, row) != row.hash:
            reason = "hash_mismatch"
        if reason:
            return Verification(count=count, broken_id=row.id, broken_at=row.at, reason=reason)
        expected = row.hash
        count += 1
    return Verification(count=count)
