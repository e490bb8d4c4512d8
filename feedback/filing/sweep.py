"""The orphan-file sweeper (SECURITY.md row 41).

A file is stored before its row is committed; if the commit fails and the clean-up after it
cannot run (the process is killed), the file stays with no row. So can a temporary upload of
a crashed request. The sweeper removes such files once they are old enough that no filing in
flight can still commit a row for them: only names this application gives (``<32 hex>.<ext>``
at the top of UPLOAD_DIR, ``upload-*.part`` in its ``.tmp``), never a directory or a link.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import select, union

from feedback.extensions import db
from feedback.filing import uploads
from feedback.models import Attachment, ImportBatch, utcnow

TEMP_FOLDER = ".tmp"


@dataclass(frozen=True)
class Orphan:
    path: Path
    size: int
    modified: float
    temporary: bool


def min_age() -> timedelta:
    return timedelta(hours=int(current_app.config["ORPHAN_UPLOAD_HOURS"]))


def _regular_files(folder: Path) -> list[tuple[Path, float, int]]:
    found = []
    try:
        entries = list(folder.iterdir())
    except FileNotFoundError:
        return []
    for path in entries:
        info = path.lstat()
        if stat.S_ISREG(info.st_mode):
            found.append((path, info.st_mtime, info.st_size))
    return found


def referenced_names() -> set[str]:
    """Every stored name a row refers to: attachments and spreadsheet imports."""
    query = union(select(Attachment.stored_name), select(ImportBatch.stored_name))
    return set(db.session.scalars(query))


def find_orphans(upload_dir: Path, *, now: datetime | None = None) -> list[Orphan]:
    """Files no row references that were last written before ``now`` minus the minimum age."""
    cutoff = ((now or utcnow()) - min_age()).timestamp()
    stored = [
        (path, modified, size)
        for path, modified, size in _regular_files(upload_dir)
        if uploads.is_stored_name(path.name)
    ]
    temporary = [
        (path, modified, size)
        for path, modified, size in _regular_files(upload_dir / TEMP_FOLDER)
        if path.name.startswith("upload-") and path.name.endswith(".part")
    ]
    # Listed before the names are read: a file whose row commits in between is then known.
    referenced = referenced_names()
    orphans = [
        Orphan(path, size, modified, temporary=False)
        for path, modified, size in stored
        if path.name not in referenced and modified < cutoff
    ]
    orphans += [
        Orphan(path, size, modified, temporary=True)
        for path, modified, size in temporary
        if modified < cutoff
    ]
    return sorted(orphans, key=lambda orphan: orphan.path.name)


def remove(orphans: list[Orphan]) -> int:
    """Unlink the orphans (a file gone meanwhile is not counted); returns how many went."""
    removed = 0
    for orphan in orphans:
        try:
            orphan.path.unlink()
        except FileNotFoundError:
            continue
        removed += 1
    return removed
