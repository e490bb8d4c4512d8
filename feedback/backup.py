"""Backup and restore (SECURITY.md row 46): one archive holding the database, the uploads and a
manifest.

The archive is a gzipped tar with ``manifest.json`` first, then the database (``database.sqlite3``
from SQLite's online backup API, or ``database.pgdump`` from ``pg_dump --format=custom``), then
``uploads/…``. The manifest lists every other member's size and SHA-256 and each model table's row
count, all taken from the same consistent snapshot (the SQLite copy itself; on PostgreSQL a
REPEATABLE READ transaction whose snapshot pg_dump shares through ``--snapshot``).

A restore reads and checks the whole archive into a temporary folder before it touches anything,
refuses a database or upload folder that is not empty, and compares the row counts afterwards.

The manifest protects against corruption, not against someone who rewrites it too. With a
backup key or passphrase (``FEEDBACK_BACKUP_KEY`` / ``FEEDBACK_BACKUP_PASSPHRASE``, row 39) the
whole archive is encrypted and authenticated (:mod:`feedback.backup_crypto`): a restore decrypts it
into its temporary folder first and refuses a file that was changed in any byte.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from flask import current_app
from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import Connection, Engine

from feedback.backup_crypto import BackupCryptoError, BackupSecret, decrypt_file, encrypt_file
from feedback.backup_crypto import is_encrypted as is_encrypted_archive
from feedback.exceptions import DomainError
from feedback.extensions import db
from feedback.models import Base, utcnow

MANIFEST = "manifest.json"
FORMAT = "feedback-backup"
VERSION = 1
SQLITE_NAME = "database.sqlite3"
POSTGRES_NAME = "database.pgdump"
UPLOADS = "uploads"
CHUNK = 1024 * 1024


class BackupError(DomainError):
    """The backup or restore cannot be done; the message says why, in Chinese."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    sha256: str
    files: int
    tables: dict[str, int]


@dataclass(frozen=True)
class RestoreResult:
    files: int
    tables: dict[str, int]


# -- helpers -----------------------------------------------------------------------------------


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _model_tables() -> list[str]:
    return [table.name for table in Base.metadata.sorted_tables]


def _count_rows(connection: Connection, names: list[str]) -> dict[str, int]:
    existing = set(inspect(connection).get_table_names())
    counts = {}
    for name in names:
        if name in existing:
            table = Base.metadata.tables[name]
            counts[name] = int(connection.scalar(select(func.count()).select_from(table)) or 0)
    return counts


def _upload_dir() -> Path:
    return Path(current_app.config["UPLOAD_DIR"])


def _upload_files(root: Path) -> Iterator[Path]:
    if root.is_dir():
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink():
                yield path


def _libpq(engine: Engine) -> tuple[str, dict[str, str]]:
    """The database URL for pg_dump/pg_restore, and an environment carrying the password."""
    url = engine.url
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)  # not on the command line, where ps shows it
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(command: list[str], env: dict[str, str]) -> None:
    try:
        subprocess.run(command, env=env, check=True, capture_output=True, text=True)  # noqa: S603
    except FileNotFoundError:
        raise BackupError(f"找不到 {command[0]}：请安装 postgresql-client。") from None
    except subprocess.CalledProcessError as error:
        last = (error.stderr or "").strip().splitlines()[-1:] or ["(无输出)"]
        raise BackupError(f"{command[0]} 失败：{last[0]}") from None


# -- backup ------------------------------------------------------------------------------------


def _backup_sqlite(engine: Engine, target: Path) -> dict[str, int]:
    raw = engine.raw_connection()
    try:
        with sqlite3.connect(target) as copy:
            raw.driver_connection.backup(copy)  # type: ignore[union-attr]
    finally:
        raw.close()
    with sqlite3.connect(target) as copy:
        copy.execute("PRAGMA journal_mode=DELETE")  # self-contained: no -wal file to carry
        present = {r[0] for r in copy.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        counts = {
            # Bandit B608 is a false positive: the names are our own tables (Base.metadata).
            # nosemgrep: sql-text-built-from-strings -- our own table names (Base.metadata)
            name: int(copy.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0])  # noqa: S608  # nosec B608
            for name in _model_tables()
            if name in present
        }
    copy.close()
    return counts


def _backup_postgres(engine: Engine, target: Path) -> dict[str, int]:
    url, env = _libpq(engine)
    with engine.connect() as connection:
        connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            snapshot = connection.scalar(text("SELECT pg_export_snapshot()"))
            counts = _count_rows(connection, _model_tables())
            # pg_dump reads the very snapshot the counts came from, while this transaction lives.
            _run(
                [
                    "pg_dump",
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--snapshot={snapshot}",
                    "--file",
                    str(target),
                    "--dbname",
                    url,
                ],
                env,
            )
    return counts


def create_backup(out: Path, *, secret: BackupSecret | None = None) -> BackupResult:
    """Write the archive to ``out`` (atomically: a temporary file, then renamed), encrypted
    with ``secret`` if one is given."""
    engine = db.engine
    db.session.commit()  # nothing of ours may hold a lock the backup waits for
    with tempfile.TemporaryDirectory(prefix="feedback-backup-") as folder:
        work = Path(folder)
        if engine.dialect.name == "sqlite":
            database_name = SQLITE_NAME
            tables = _backup_sqlite(engine, work / database_name)
        else:
            database_name = POSTGRES_NAME
            tables = _backup_postgres(engine, work / database_name)
        members: list[tuple[str, Path]] = [(database_name, work / database_name)]
        uploads = _upload_dir()
        for path in _upload_files(uploads):
            members.append((f"{UPLOADS}/{path.relative_to(uploads).as_posix()}", path))
        files = {
            name: {"size": path.stat().st_size, "sha256": _sha256_file(path)}
            for name, path in members
        }
        revision = db.session.scalar(text("SELECT version_num FROM alembic_version"))
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "created_at": utcnow().isoformat(),
            "backend": engine.dialect.name,
            "database": database_name,
            "alembic_revision": revision,
            "tables": tables,
            "files": files,
        }
        manifest_path = work / MANIFEST
        manifest_path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2), "utf-8")
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(out.name + ".partial")
        plain = work / "archive.tar.gz" if secret is not None else partial
        with tarfile.open(plain, "w:gz") as archive:
            archive.add(manifest_path, arcname=MANIFEST)
            for name, path in members:
                archive.add(path, arcname=name)
        if secret is not None:
            try:
                encrypt_file(plain, partial, secret)
            except BackupCryptoError as error:
                partial.unlink(missing_ok=True)
                raise BackupError(str(error)) from None
        os.replace(partial, out)
    return BackupResult(path=out, sha256=_sha256_file(out), files=len(files), tables=tables)


# -- restore -----------------------------------------------------------------------------------

CORRUPT = "备份文件已损坏或不是本系统的备份"


def _safe_name(name: str) -> str:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or "\\" in name or not path.parts:
        raise BackupError(f"{CORRUPT}：含有不安全的路径“{name}”。")
    return path.as_posix()


def _extract(archive: Path, into: Path) -> dict[str, dict[str, Any]]:
    """Every member into ``into``, hashed on the way: name → size and SHA-256."""
    seen: dict[str, dict[str, Any]] = {}
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            name = _safe_name(member.name)
            if not member.isfile() or name in seen:
                raise BackupError(f"{CORRUPT}：成员“{name}”不是普通文件或重复。")
            source = tar.extractfile(member)
            if source is None:
                raise BackupError(f"{CORRUPT}：无法读取“{name}”。")
            target = into / name
            target.parent.mkdir(parents=True, exist_ok=True)
            seen[name] = {"size": 0, "sha256": _copy_hashing(source, target)}
            seen[name]["size"] = target.stat().st_size
    return seen


def _copy_hashing(source: IO[bytes], target: Path) -> str:
    digest = hashlib.sha256()
    with target.open("wb") as handle:
        for chunk in iter(lambda: source.read(CHUNK), b""):
            digest.update(chunk)
            handle.write(chunk)
    return digest.hexdigest()


def read_verified(archive: Path, into: Path) -> dict[str, Any]:
    """Unpack ``archive`` into ``into`` and check it against its manifest; the manifest."""
    if not archive.is_file():
        raise BackupError(f"找不到备份文件 {archive}。")
    try:
        found = _extract(archive, into)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        raise BackupError(f"{CORRUPT}（无法解包：{type(error).__name__}）。") from None
    try:
        manifest = json.loads((into / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError):
        raise BackupError(f"{CORRUPT}：缺少或无法读取 manifest.json。") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{CORRUPT}：manifest.json 格式不符。")
    if manifest.get("version") != VERSION:
        raise BackupError(f"不支持的备份格式版本：{manifest.get('version')}。")
    listed = manifest.get("files")
    if not isinstance(listed, dict) or not isinstance(manifest.get("tables"), dict):
        raise BackupError(f"{CORRUPT}：manifest.json 缺少文件或行数清单。")
    found.pop(MANIFEST, None)
    for name in sorted(set(listed) | set(found)):
        if name not in found:
            raise BackupError(f"{CORRUPT}：缺少文件“{name}”。")
        if name not in listed:
            raise BackupError(f"{CORRUPT}：多出清单以外的文件“{name}”。")
        if found[name] != listed[name]:
            raise BackupError(f"{CORRUPT}：文件“{name}”的 SHA-256 校验值不符。")
    if manifest.get("database") not in found:
        raise BackupError(f"{CORRUPT}：缺少数据库文件。")
    return manifest


def _require_empty_target() -> None:
    counts = _count_rows(db.session.connection(), _model_tables())
    db.session.rollback()
    filled = sorted(name for name, count in counts.items() if count)
    if filled:
        raise BackupError(
            "只能恢复到空实例：数据库中已有数据（" + "、".join(filled[:5]) + " 等表）。"
        )
    if any(True for _path in _upload_files(_upload_dir())):
        raise BackupError(f"只能恢复到空实例：上传目录 {_upload_dir()} 不为空。")


def _restore_sqlite(engine: Engine, source: Path) -> None:
    database = engine.url.database
    if not database:
        raise BackupError("无法确定 SQLite 数据库文件的位置。")
    db.session.remove()
    engine.dispose()
    with sqlite3.connect(source) as backup, sqlite3.connect(database) as live:
        backup.backup(live)
    backup.close()
    live.close()


def _restore_postgres(engine: Engine, source: Path) -> None:
    url, env = _libpq(engine)
    db.session.remove()
    engine.dispose()
    _run(
        [
            "pg_restore",
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            "--dbname",
            url,
            str(source),
        ],
        env,
    )


def restore_backup(archive: Path, *, secret: BackupSecret | None = None) -> RestoreResult:
    """Restore ``archive`` into this (empty) instance; raises :class:`BackupError` on refusal.

    An encrypted archive is decrypted (and authenticated) with ``secret`` first.
    """
    engine = db.engine
    with tempfile.TemporaryDirectory(prefix="feedback-restore-") as folder:
        work = Path(folder) / "content"
        work.mkdir()
        if archive.is_file() and is_encrypted_archive(archive):
            decrypted = Path(folder) / "archive.tar.gz"
            try:
                decrypt_file(archive, decrypted, secret)
            except BackupCryptoError as error:
                raise BackupError(str(error)) from None
            archive = decrypted
        manifest = read_verified(archive, work)
        if manifest.get("backend") != engine.dialect.name:
            raise BackupError(
                f"备份来自 {manifest.get('backend')}，不能恢复到 {engine.dialect.name} 数据库。"
            )
        _require_empty_target()
        database = work / str(manifest["database"])
        if engine.dialect.name == "sqlite":
            _restore_sqlite(engine, database)
        else:
            _restore_postgres(engine, database)
        uploads = _upload_dir()
        files = [name for name in manifest["files"] if name.startswith(f"{UPLOADS}/")]
        for name in files:
            target = uploads / PurePosixPath(name).relative_to(UPLOADS)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(work / name, target)
    expected = {str(k): int(v) for k, v in manifest["tables"].items()}
    actual = _count_rows(db.session.connection(), list(expected))
    db.session.rollback()
    wrong = [
        f"{name}（应为 {n}，实为 {actual.get(name)}）"
        for name, n in expected.items()
        if actual.get(name) != n
    ]
    if wrong:
        raise BackupError("恢复后行数与备份清单不符：" + "；".join(wrong))
    return RestoreResult(files=len(files), tables=actual)
