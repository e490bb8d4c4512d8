"""Helpers for audit tests: old records, and tampering behind the triggers' back."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from feedback.extensions import db
from feedback.models import AuditRecord, utcnow


def add_record(action: str = "login", *, days_ago: float = 0, **fields: object) -> AuditRecord:
    """An audit record dated ``days_ago``, chained like any other (committed)."""
    row = AuditRecord(action=action, at=utcnow() - timedelta(days=days_ago), **fields)
    db.session.add(row)
    db.session.commit()
    return row


def tamper(statement: str) -> None:
    """Run ``statement`` on a raw connection with the append-only triggers out of the way."""
    engine = db.engine
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            # A per-test database file: the triggers need not come back.
            connection.exec_driver_sql("DROP TRIGGER IF EXISTS audit_record_no_update")
            connection.exec_driver_sql("DROP TRIGGER IF EXISTS audit_record_no_delete")
        else:
            # Superuser only; triggers are skipped for this transaction and stay installed.
            connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
        connection.execute(text(statement))
