"""Counting the SQL statements a piece of code sends (for the no-N+1 tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from feedback.extensions import db


@contextmanager
def statements() -> Iterator[list[str]]:
    """The statements sent inside the block, in order; the driver's bare "BEGIN" left out.

    The SQLite driver sends BEGIN as a statement and psycopg does not, so counting it would make
    the same page cost differently on the two databases.
    """
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.strip().upper() not in ("BEGIN", "BEGIN IMMEDIATE"):
            seen.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
