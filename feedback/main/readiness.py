"""Readiness checks behind ``/readyz`` (SECURITY.md row 48).

Each check answers True when that part can serve requests: the database answers, its schema is at
the migrations' head, the upload folder takes a new file, the disk under it has at least
``READYZ_MIN_FREE_MB`` free, and clamd answers when scanning is configured. ``/readyz`` names the
checks that failed and nothing else (no versions, paths or errors; those go to the log).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy import text

from feedback.extensions import db
from feedback.filing import scanning

log = logging.getLogger(__name__)


@lru_cache(maxsize=4)
def migration_heads(directory: str) -> frozenset[str]:
    """The head revisions of the migration scripts in ``directory`` (read once per process)."""
    return frozenset(ScriptDirectory(directory).get_heads())


def _database() -> bool:
    db.session.execute(text("SELECT 1"))
    return True


def _migrations() -> bool:
    directory = current_app.extensions["migrate"].directory
    connection = db.session.connection()
    current = frozenset(MigrationContext.configure(connection).get_current_heads())
    if current != migration_heads(str(directory)):
        heads = sorted(migration_heads(str(directory)))
        log.error("readyz: database at %s, migrations at %s", sorted(current), heads)
        return False
    return True


def _upload_dir() -> bool:
    folder = Path(current_app.config["UPLOAD_DIR"])
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".readyz-"):
        pass
    return True


def _disk() -> bool:
    minimum = int(current_app.config["READYZ_MIN_FREE_MB"]) * 1024 * 1024
    free = shutil.disk_usage(current_app.config["UPLOAD_DIR"]).free
    if free < minimum:
        log.error("readyz: %d MB free under the upload folder", free // (1024 * 1024))
        return False
    return True


def _scanner() -> bool:
    scanner = current_app.extensions.get(scanning.EXTENSION)
    ping = getattr(scanner, "ping", None)
    return True if ping is None else bool(ping())


CHECKS: dict[str, Callable[[], bool]] = {
    "database": _database,
    "migrations": _migrations,
    "upload_dir": _upload_dir,
    "disk": _disk,
    "scanner": _scanner,
}


def failing_checks() -> list[str]:
    """The names of the checks that fail, in order (migrations are not asked without a database)."""
    failed: list[str] = []
    for name, check in CHECKS.items():
        if name == "migrations" and "database" in failed:
            continue
        try:
            ok = check()
        except Exception:  # any error means "not ready"; details stay in the log
            log.exception("readyz: the %s check failed", name)
            ok = False
        if not ok:
            failed.append(name)
        if name in ("database", "migrations"):
            db.session.rollback()
    return failed
