"""The menus staff and filing pages show on every request — tags, plan items, reviewers,
consolidated suggestions — read once per process and read again only after a committed change.

The queue page spent about a fifth of its time reading these lists (bench/RESULTS.md), which
change a few times a week. A copy in process memory is safe only if no process ever serves a copy
older than the database, on one host or several, so the copies are tied to a number in the
database rather than to a clock:

- every ORM flush that inserts or deletes a row of a :data:`WATCHED` model, or changes one of its
  listed attributes, raises ``cache_version.value`` for :data:`MENUS` in the same transaction;
- a request reads that number once (one primary-key read) and uses the copy built for it, or
  builds the menus again.

A session that has raised the number but not yet committed builds its menus from the database
and keeps no copy: its change may still roll back. A write to these tables that bypasses the ORM
must call :func:`changed` (none of the app's own do: ``seed-demo`` writes submissions and their
links with Core, and ``copy-database`` and ``restore`` copy the version row with the rest).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import Flask, current_app, g, has_app_context, has_request_context
from sqlalchemy import event, inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, UOWTransaction

from feedback.database import upsert_insert
from feedback.extensions import db
from feedback.models import (
    CacheVersion,
    ConsolidatedSuggestion,
    PlanItem,
    Tag,
    TagGroup,
    User,
    UserRole,
)

T = TypeVar("T")

MENUS = "menus"

# What the menus are made of: a model, and the attributes whose change alters a menu (None: any
# column).
# A user's password, last login or second factor changes often and alters no menu.
WATCHED: dict[type, frozenset[str] | None] = {
    Tag: None,
    TagGroup: None,
    PlanItem: None,
    ConsolidatedSuggestion: None,
    UserRole: None,
    User: frozenset({"name", "active"}),
}

_EXTENSION = "feedback.menus"
_PENDING = "feedback.menus.pending"  # Session.info: raised in this transaction, not committed


@dataclass(frozen=True)
class _Copies:
    """The menus built for one version (replaced whole, never changed, so threads may share)."""

    version: int
    values: dict[str, Any] = field(default_factory=dict)


def cached(name: str, build: Callable[[], T]) -> T:
    """``build()``, reused by every request of this process until the menus change.

    The value is shared between requests: callers must not change it (return tuples, or copy).
    """
    if not has_app_context() or db.session.info.get(_PENDING):
        return build()
    current = version()
    copies: _Copies = current_app.extensions.get(_EXTENSION) or _Copies(-1)
    if copies.version != current:
        copies = _Copies(current)
        current_app.extensions[_EXTENSION] = copies
    if name not in copies.values:
        copies.values[name] = build()
    value: T = copies.values[name]
    return value


def version() -> int:
    """The menus' version number: read once per request, on every call outside one (a job, a
    command or a test that also writes through requests has no request to tie it to)."""
    number: int | None = g.get("_menus_version")
    if number is None:
        found = db.session.scalar(select(CacheVersion.value).where(CacheVersion.name == MENUS))
        number = int(found or 0)
        if has_request_context():
            g._menus_version = number
    return number


def changed(connection: Connection) -> None:
    """Raise the menus' version in ``connection``'s transaction (for writes outside the ORM).

    One upsert: a new database has no row (so that it counts as empty to ``copy-database`` and
    ``restore``), and two processes making the first change at once must not collide.
    """
    upsert = upsert_insert(connection.dialect.name)(CacheVersion)
    connection.execute(
        upsert.values(name=MENUS, value=1).on_conflict_do_update(
            index_elements=[CacheVersion.name], set_={"value": CacheVersion.value + 1}
        )
    )


def _alters_menus(instance: object, new_or_deleted: bool) -> bool:
    kind = type(instance)
    if kind not in WATCHED:
        return False
    if new_or_deleted:
        return True
    state = inspect(instance)
    # Columns only: tagging a submission changes a tag's collection of submissions, not a menu.
    names = WATCHED[kind] or [column.key for column in state.mapper.column_attrs]
    return any(state.attrs[name].history.has_changes() for name in names)


def _before_flush(session: Session, _context: UOWTransaction, _instances: object) -> None:
    if any(_alters_menus(obj, True) for obj in (*session.new, *session.deleted)) or any(
        _alters_menus(obj, False) for obj in session.dirty
    ):
        changed(session.connection())
        session.info[_PENDING] = True
        if has_app_context():
            g.pop("_menus_version", None)


def _transaction_over(session: Session, *_args: object) -> None:
    session.info.pop(_PENDING, None)


_HOOKS = (
    (Session, "before_flush", _before_flush),
    (Session, "after_commit", _transaction_over),
    (Session, "after_rollback", _transaction_over),
)


def install(app: Flask) -> None:
    """Raise the version on every ORM write to the menus, in every session of this process.

    Idempotent, like :func:`feedback.search.install`.
    """
    for target, name, function in _HOOKS:
        if not event.contains(target, name, function):
            event.listen(target, name, function)
    app.extensions.pop(_EXTENSION, None)
