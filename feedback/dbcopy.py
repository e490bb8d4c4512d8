"""Copy this instance's database into another, empty one: the way from SQLite to PostgreSQL.

The target must exist, be empty and carry the same schema revision as the source (run
``flask --app feedback db upgrade`` against it first). Then, in ONE transaction on the target:

1. every model table is copied in foreign-key order (``Base.metadata.sorted_tables``), rows in
   primary-key order, ids kept, read from the source as a stream and written in batches bounded
   in rows and in bytes, so memory stays flat however many submissions there are;
   a column pointing at its own table (``plan_item.parent_id``) is filled in afterwards, so the
   order of the rows never matters;
2. PostgreSQL sequences are moved past the copied ids;
3. the target's own search index is built (FTS5 on SQLite, tsvector on PostgreSQL: the source's
   index tables are not copied, they differ per database); similarity signatures and links are
   plain rows and are copied as they are;
4. the row count of every table is compared with the source's and the audit chain is verified.

Only then is the target committed; any failure rolls everything back and leaves the target as
empty as it was, so the command can simply be run again. The audit tables' append-only triggers
refuse UPDATE, DELETE and TRUNCATE, not INSERT, so copying them needs no special rights.

The source is read inside one transaction, a consistent snapshot. On SQLite the command's
transaction begins IMMEDIATE (see ``feedback.database``), so the source's writers wait or fail
while the copy runs rather than writing rows the copy would miss: stop the service first.

Uploaded files are not in the database: copy ``UPLOAD_DIR`` as a folder (docs/deploy.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Table, bindparam, create_engine, func, inspect, select, text, update
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import Session

from feedback import search
from feedback.audit import chain
from feedback.exceptions import DomainError
from feedback.extensions import db
from feedback.models import Base

# A batch is written when it holds this many rows or this many characters/bytes of text and
# binary values, whichever comes first (report versions carry whole workbooks).
BATCH_ROWS = 1_000
BATCH_BYTES = 16 * 1024 * 1024
# Rows fetched from the source at a time.
FETCH_ROWS = 500
SUPPORTED = ("sqlite", "postgresql")
RETRY = "目标数据库未作任何改动，排除原因后可直接重新运行本命令。"

Progress = Callable[[str, int], None]


class CopyError(DomainError):
    """The copy is refused or failed; the message says why, in Chinese."""


@dataclass(frozen=True)
class CopyResult:
    target: str  # the target's URL, password hidden
    tables: dict[str, int]  # rows copied per table, in copy order
    indexed: int  # submissions in the target's search index
    audit_records: int  # records verified on the target's audit chain
    seconds: float


def _target_engine(url: str, source: Engine) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise CopyError(
            "目标数据库地址无法解析（示例：postgresql+psycopg://用户@主机/库名）。"
        ) from None
    if parsed.get_backend_name() not in SUPPORTED:
        raise CopyError(
            f"不支持的目标数据库：{parsed.get_backend_name()}（可选 PostgreSQL 或 SQLite）。"
        )
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise CopyError("SQLite 目标须是一个数据库文件。")
    same = parsed.render_as_string(hide_password=False)
    if same == source.url.render_as_string(hide_password=False):
        raise CopyError("目标数据库就是当前数据库。")
    try:
        return create_engine(parsed)
    except NoSuchModuleError:
        raise CopyError(f"缺少数据库驱动：{parsed.drivername}。") from None


def _revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    version = connection.scalar(text("SELECT version_num FROM alembic_version"))
    return str(version) if version is not None else None


def _counts(connection: Connection) -> dict[str, int]:
    return {
        table.name: int(connection.scalar(select(func.count()).select_from(table)) or 0)
        for table in Base.metadata.sorted_tables
    }


def _check_target(source: Connection, target: Connection) -> None:
    wanted, found = _revision(source), _revision(target)
    if found != wanted:
        raise CopyError(
            f"目标数据库的结构版本为 {found or '（未建表）'}，应为 {wanted}：请先对目标数据库运行 "
            "FEEDBACK_DATABASE_URL=<目标地址> flask --app feedback db upgrade。"
        )
    filled = [name for name, count in _counts(target).items() if count]
    if filled:
        raise CopyError(
            "目标数据库不是空的（"
            + "、".join(filled[:5])
            + " 等表已有数据）：只能复制到新建的空数据库。"
        )


def _self_references(table: Table) -> list[Column[Any]]:
    """Nullable columns of ``table`` that point at ``table`` itself."""
    return [
        fk.parent for fk in table.foreign_keys if fk.column.table is table and fk.parent.nullable
    ]


def _size(row: dict[str, Any]) -> int:
    return sum(len(v) for v in row.values() if isinstance(v, str | bytes))


def _batches(source: Connection, table: Table) -> Iterator[list[dict[str, Any]]]:
    """The rows of ``table`` in primary-key order, a bounded batch at a time."""
    query = select(table).order_by(*table.primary_key.columns)
    result = source.execution_options(yield_per=FETCH_ROWS).execute(query)
    batch: list[dict[str, Any]] = []
    size = 0
    for row in result.mappings():
        values = dict(row)
        batch.append(values)
        size += _size(values)
        if len(batch) >= BATCH_ROWS or size >= BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _copy_table(source: Connection, target: Connection, table: Table) -> int:
    later = _self_references(table)
    key = table.primary_key.columns
    pending: list[dict[str, Any]] = []
    copied = 0
    for batch in _batches(source, table):
        for row in batch:
            links = {c.name: row[c.name] for c in later if row[c.name] is not None}
            if links:
                # Inserted without the link first: the row it points at may come later.
                pending.append({**{f"k_{c.name}": row[c.name] for c in key}, **links})
                for name in links:
                    row[name] = None
        target.execute(table.insert(), batch)
        copied += len(batch)
    for column in later:
        rows = [
            {**{k: v for k, v in p.items() if k.startswith("k_")}, "v": p[column.name]}
            for p in pending
            if column.name in p
        ]
        if rows:
            condition = [c == bindparam(f"k_{c.name}") for c in key]
            statement = update(table).where(*condition).values({column.name: bindparam("v")})
            target.execute(statement, rows)
    return copied


def _reset_sequences(target: Connection) -> None:
    """Let PostgreSQL hand out ids after the copied ones (explicit ids leave sequences at 1)."""
    if target.dialect.name != "postgresql":
        return
    prepare = target.dialect.identifier_preparer
    for table in Base.metadata.sorted_tables:
        column = table.autoincrement_column
        if column is None:
            continue
        sequence = target.scalar(
            text("SELECT pg_get_serial_sequence(:table, :column)"),
            {"table": prepare.format_table(table), "column": column.name},
        )
        if sequence is None:
            continue
        # Bandit B608: the names are our own tables and columns, quoted by the dialect.
        target.execute(
            text(
                f"SELECT setval(:sequence, COALESCE(MAX({prepare.quote(column.name)}), 0) + 1, "  # noqa: S608  # nosec B608
                f"false) FROM {prepare.format_table(table)}"
            ),
            {"sequence": sequence},
        )


def _verify(source_counts: dict[str, int], target: Connection) -> int:
    target_counts = _counts(target)
    wrong = [
        f"{name}（源 {count}，目标 {target_counts.get(name)}）"
        for name, count in source_counts.items()
        if target_counts.get(name) != count
    ]
    if wrong:
        raise CopyError("复制后行数不符：" + "；".join(wrong) + "。" + RETRY)
    with Session(bind=target) as session:
        verdict = chain.verify(session)
    if not verdict.ok:
        from feedback.audit.commands import describe_break

        raise CopyError(
            "目标数据库的审计链校验失败：" + describe_break(verdict)
            + "请先在源数据库上运行 flask --app feedback audit-verify。" + RETRY
        )  # fmt: skip
    return verdict.count


def _prepare_sqlite(target: Connection) -> None:
    if target.dialect.name == "sqlite":
        # Before the first write begins the transaction: the pragma is ignored inside one.
        target.exec_driver_sql("PRAGMA foreign_keys=ON")
        target.commit()  # ends SQLAlchemy's autobegun transaction; nothing was written


def copy_database(target_url: str, progress: Progress | None = None) -> CopyResult:
    """Copy every table of the app's database into the empty database at ``target_url``."""
    started = time.perf_counter()
    source_engine = db.engine
    db.session.commit()  # nothing of ours may hold a lock the copy waits for
    target_engine = _target_engine(target_url, source_engine)
    shown = target_engine.url.render_as_string(hide_password=True)
    copied: dict[str, int] = {}
    try:
        with source_engine.connect() as source, target_engine.connect() as target:
            _prepare_sqlite(target)
            with source.begin(), target.begin():
                _check_target(source, target)
                source_counts = _counts(source)
                for table in Base.metadata.sorted_tables:
                    copied[table.name] = _copy_table(source, target, table)
                    if progress:
                        progress(table.name, copied[table.name])
                _reset_sequences(target)
                indexed = search.reindex_connection(target)
                verified = _verify(source_counts, target)
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise CopyError(f"复制失败：{reason}。{RETRY}") from None
    finally:
        target_engine.dispose()
    return CopyResult(
        target=shown,
        tables=copied,
        indexed=indexed,
        audit_records=verified,
        seconds=time.perf_counter() - started,
    )
