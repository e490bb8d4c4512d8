"""Per-connection database settings: SQLite pragmas (SECURITY.md findings 5, row 45)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import click
from flask import Flask, g, has_app_context, has_request_context, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_READING: ContextVar[bool] = ContextVar("sqlite_reading", default=False)


@contextmanager
def reading() -> Iterator[None]:
    """Begin the transactions started inside deferred, even in a CLI command (which writes).

    For a command that reads at length (an export, a verification, a workbook) before it
    appends its audit record: on SQLite, an IMMEDIATE transaction would hold the write lock for
    the whole read, and every web request that writes meanwhile would wait out the busy timeout
    and fail. End the read's transaction (commit) before writing.
    """
    token = _READING.set(True)
    try:
        yield
    finally:
        _READING.reset(token)


def write_after_read() -> None:
    """End the request's reading transaction; the next one begins IMMEDIATE on SQLite.

    For a GET that reads (at length — an export, a verification — or just a look-up) and then
    writes (an audit record, a stamp): it commits its read, so it never holds the write lock
    while reading, and the write then waits for the lock instead of failing to upgrade a stale
    read snapshot ("database is locked"). Anything read before is expired and read again.
    """
    from feedback.extensions import db

    db.session.commit()
    g.sqlite_next_transaction_writes = True


def _request_writes() -> bool:
    if request.method not in SAFE_METHODS:
        return True
    return bool(g.pop("sqlite_next_transaction_writes", False))


SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA secure_delete=ON",
)


def init_database(app: Flask, db: SQLAlchemy) -> None:
    """Bind the database and make every new SQLite connection safe and concurrent."""
    db.init_app(app)
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    busy_ms = int(app.config["SQLITE_BUSY_TIMEOUT_MS"])
    with app.app_context():
        engine = db.engine
    event.listen(engine, "connect", _sqlite_on_connect(busy_ms))
    event.listen(engine, "begin", _sqlite_begin_immediate)


def _sqlite_on_connect(busy_ms: int) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy issue BEGIN itself (see _sqlite_begin_immediate); pysqlite's implicit
        # transactions would otherwise start later and defer the write lock.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        # nosemgrep: sql-text-built-from-strings -- an int from config; PRAGMA takes no binds
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.close()

    return on_connect


def _sqlite_begin_immediate(connection: Any) -> None:
    # A request that may write takes the write lock up front (BEGIN IMMEDIATE), so two writers
    # queue on busy_timeout instead of one failing with "database is locked" when it upgrades a
    # read lock mid-transaction. Reads (GET/HEAD) begin deferred and run concurrently under WAL.
    # CLI commands write too. Anything else (tests, scripts) begins deferred like plain SQLite,
    # and so do background jobs, even under `flask worker` (see feedback.jobs.perform): a job
    # keeps a reading transaction open while it records progress on short transactions of its
    # own, which an IMMEDIATE read would lock out.
    if _READING.get():
        writes = False
    elif has_request_context():
        writes = _request_writes()
    elif has_app_context() and g.get("background_job"):
        writes = False
    else:
        writes = click.get_current_context(silent=True) is not None
    connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


def upsert_insert(dialect_name: str) -> Any:
    """The INSERT construct of ``dialect_name`` that has ``on_conflict_do_update`` (SQLite and
    PostgreSQL both have one, each in its own dialect module)."""
    return postgresql.insert if dialect_name == "postgresql" else sqlite.insert


def is_sqlite(engine: Engine) -> bool:
    """True when ``engine`` talks to SQLite."""
    return engine.dialect.name == "sqlite"


def checkpoint_wal() -> None:
    """After a purge on SQLite: copy the WAL into the database and empty it.

    With ``secure_delete`` the deleted rows' pages are zeroed in the database file; the WAL
    would still hold copies of them until the next checkpoint (SECURITY.md row 40). Run on
    the driver connection, outside any transaction (SQLAlchemy would begin one). A no-op on
    other databases.
    """
    from feedback.extensions import db

    if not is_sqlite(db.engine):
        return
    raw = db.engine.raw_connection()
    try:
        raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
    finally:
        raw.close()
