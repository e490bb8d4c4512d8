"""Raw exports of the queue (导出): any filter, chosen columns, .xlsx or UTF-8 CSV, formula-safe.

Small exports are written in the request; large ones run as a background job
(:mod:`feedback.jobs`: RQ, or a thread without Redis) that records its progress and heartbeat
on an :class:`ExportJob`, and the file is kept under ``EXPORT_DIR`` (shared storage when several
hosts serve) until it expires. Every export and every download is audited. Memory stays flat
whatever the size: rows are read in batches and written in openpyxl's write-only mode (or
streamed as CSV).
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl, urlencode

from flask import Flask, current_app
from flask_babel import force_locale
from sqlalchemy import Select, and_, func, select, update
from sqlalchemy.orm import selectinload
from werkzeug.datastructures import MultiDict

from feedback import jobs, labels
from feedback.audit.services import record
from feedback.codes.regions import region_label
from feedback.database import write_after_read
from feedback.extensions import db
from feedback.filing.kinds import KINDS, SENSITIVITY_LABELS
from feedback.filing.workflow import STATUS_LABELS
from feedback.formatting import CHINA
from feedback.i18n import lazy_gettext as _l
from feedback.models import (
    RECEIVED,
    ExportJob,
    ExportStatus,
    Submission,
    User,
    utcnow,
)
from feedback.reports import xlsx
from feedback.review import queue

log = logging.getLogger(__name__)

DIRECT_LIMIT = 5_000  # rows written inside the request; more go to the background
BATCH = 1_000
KEEP_FOR = timedelta(days=7)
FORMATS = ("xlsx", "csv")


@dataclass(frozen=True)
class Column:
    """An exportable column: its header and how to read it from a submission."""

    key: str
    header: Any  # a lazy string: the interface language on the page, Chinese in the file
    value: Callable[[Submission], xlsx.CellValue]
    default: bool = True


def _sections(submission: Submission) -> str:
    spec = KINDS[submission.kind]
    text = submission.sections
    return "\n".join(f"{s.label}：{text[s.key]}" for s in spec.sections if text.get(s.key))


def _local(moment: datetime | None) -> datetime | None:
    return moment.astimezone(CHINA).replace(tzinfo=None) if moment else None


COLUMNS: tuple[Column, ...] = (
    Column("reference", _l("编号"), lambda s: s.reference),
    Column("title", _l("标题"), lambda s: s.title),
    Column("kind", _l("类型"), lambda s: str(KINDS[s.kind].label)),
    Column("status", _l("状态"), lambda s: str(STATUS_LABELS[s.status])),
    Column("organisation", _l("单位"), lambda s: s.organisation.name),
    Column("org_kind", _l("单位类型"), lambda s: str(labels.ORG_KIND[s.organisation.kind])),
    Column(
        "region", _l("地区"), lambda s: region_label(s.region_code or s.organisation.region_code)
    ),
    Column("plan_items", _l("规划条目"), lambda s: "、".join(p.label for p in s.plan_items)),
    Column("tags", _l("标签"), lambda s: "、".join(t.name for t in s.tags)),
    Column("summary", _l("摘要"), lambda s: s.summary),
    Column("sections", _l("正文"), _sections),
    Column("abstract", _l("提炼要点"), lambda s: s.abstract),
    Column("submitted_at", _l("报送时间"), lambda s: _local(s.submitted_at)),
    Column("assignee", _l("审核人"), lambda s: s.assignee.name if s.assignee else ""),
    Column("sensitivity", _l("使用范围"), lambda s: str(SENSITIVITY_LABELS[s.sensitivity])),
    Column("contact", _l("联系人"), lambda s: s.contact_name, default=False),
    Column("contact_phone", _l("联系电话"), lambda s: s.contact_phone, default=False),
)
BY_KEY = {column.key: column for column in COLUMNS}
DEFAULT_COLUMNS = tuple(c.key for c in COLUMNS if c.default)


def chosen(keys: Sequence[str]) -> list[Column]:
    """The columns asked for, in the standard order (all defaults when none are valid)."""
    wanted = set(keys) & set(BY_KEY)
    return [c for c in COLUMNS if c.key in wanted] or [BY_KEY[k] for k in DEFAULT_COLUMNS]


# -- what is exported ----------------------------------------------------------------------------


def query_for(filters: queue.QueueFilters, user: User | None) -> Select[Any]:
    """The filtered submissions: as ``user`` may see them, or (no user: the command line) every
    submission that reached the federation."""
    if user is not None:
        return queue.filtered(filters, user)
    return select(Submission).where(
        Submission.status.in_(RECEIVED), *queue.conditions(filters, None)
    )


def count(query: Select[Any]) -> int:
    """How many rows ``query`` will export."""
    return int(db.session.scalar(query.with_only_columns(func.count()).order_by(None)) or 0)


def _rows(query: Select[Any], columns: list[Column]) -> Iterator[list[xlsx.CellValue]]:
    ordered = query.order_by(Submission.id).options(
        selectinload(Submission.organisation),
        selectinload(Submission.plan_items),
        selectinload(Submission.tags),
        selectinload(Submission.assignee),
    )
    # Batches of ids keep memory flat and work the same on both databases.
    last = 0
    while True:
        batch = list(db.session.scalars(ordered.where(Submission.id > last).limit(BATCH)))
        if not batch:
            return
        for submission in batch:
            yield [column.value(submission) for column in columns]
        last = batch[-1].id
        for submission in batch:  # organisations, plan items and tags are few: they stay
            db.session.expunge(submission)


def filters_of(query_string: str) -> queue.QueueFilters:
    """Queue filters from URL arguments (as an export job stores them)."""
    return queue.QueueFilters.from_args(MultiDict(parse_qsl(query_string)))


# -- writing -------------------------------------------------------------------------------------


def write(
    target: IO[bytes],
    file_format: str,
    query: Select[Any],
    columns: list[Column],
    *,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the export to ``target``; returns the number of records."""
    with force_locale("zh_CN"):
        headers = [str(c.header) for c in columns]
        if file_format == "csv":
            return _write_csv(target, headers, _rows(query, columns), progress)
        summary = xlsx.write_export(
            target, headers, _rows(query, columns), sheet="导出数据", progress=progress
        )
        return summary.records


def csv_text(value: xlsx.CellValue) -> str:
    """A CSV field: text led by a formula trigger gets an apostrophe (CSV has no quotePrefix)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    text = xlsx.excel_text(str(value))
    return "'" + text if xlsx.needs_quote_prefix(text) else text


def _write_csv(
    target: IO[bytes],
    headers: list[str],
    rows: Iterator[list[xlsx.CellValue]],
    progress: Callable[[int], None] | None,
) -> int:
    stream = io.TextIOWrapper(target, encoding="utf-8-sig", newline="", write_through=True)
    try:
        writer = csv.writer(stream)
        writer.writerow(headers)
        records = 0
        for row in rows:
            writer.writerow([csv_text(v) for v in row])
            records += 1
            if progress is not None and records % BATCH == 0:
                progress(records)
        stream.flush()
        return records
    finally:
        stream.detach()


def filename(file_format: str, at: datetime) -> str:
    """材料导出-20261128-2315.xlsx."""
    return f"材料导出-{at.astimezone(CHINA):%Y%m%d-%H%M}.{file_format}"


# -- background jobs ------------------------------------------------------------------------------


def export_dir(app: Flask | None = None) -> Path:
    """Where finished export files are kept."""
    config = (app or current_app).config
    folder = Path(config.get("EXPORT_DIR") or Path(config["UPLOAD_DIR"]).parent / "exports")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def create_job(
    user: User, file_format: str, filters: queue.QueueFilters, columns: list[Column], total: int
) -> ExportJob:
    """Record an export to run in the background (the caller commits, then starts it)."""
    job = ExportJob(
        user_id=user.id,
        file_format=file_format,
        query=urlencode(filters.to_args()),
        columns=[c.key for c in columns],
        rows_total=total,
    )
    db.session.add(job)
    db.session.flush()
    record("export_queued", actor=user, object_type="export", object_id=job.id, rows=total,
           query=job.query, format=file_format)  # fmt: skip
    return job


RUN_JOB = "feedback.reports.exports.run_job"
QUEUE_DOWN = (
    "后台任务队列暂时不可用，导出未能开始。请稍后在本页重新开始；问题持续时请联系系统管理员。"
)
INTERRUPTED = "导出在生成过程中中断（服务重启或后台进程停止），请重新开始。"


def start(job_id: int) -> threading.Thread | None:
    """Hand a committed job to the job queue (RQ, or a thread of this process without Redis).

    Raises :class:`feedback.jobs.QueueUnavailable` when the queue cannot take it; the job is
    then marked failed (and may be started again), and the caller tells the user.
    """
    try:
        return jobs.enqueue(RUN_JOB, job_id)
    except jobs.QueueUnavailable:
        _set(job_id, status=ExportStatus.FAILED, finished_at=utcnow(), error=QUEUE_DOWN)
        raise


def _set(job_id: int, **values: Any) -> None:
    # Progress is written on its own short transaction: the reading transaction stays open.
    with db.engine.begin() as connection:
        connection.execute(update(ExportJob).where(ExportJob.id == job_id).values(**values))


def _stale_condition(now: datetime) -> Any:
    """Queued or running, and not heard of within ``JOB_STALE_AFTER``."""
    return jobs.stale_condition(
        ExportJob.status,
        (ExportStatus.QUEUED, ExportStatus.RUNNING),
        func.coalesce(ExportJob.heartbeat_at, ExportJob.created_at),
        now,
    )


def claim(job_id: int) -> bool:
    """Mark a queued (or interrupted-while-running) job running for this process (see
    :func:`feedback.jobs.claim`)."""
    now = utcnow()
    return jobs.claim(
        ExportJob,
        job_id,
        ExportStatus.QUEUED,
        _stale_condition(now),
        status=ExportStatus.RUNNING,
        started_at=now,
        heartbeat_at=now,
        attempts=ExportJob.attempts + 1,
        rows_done=0,
    )


def run_job(job_id: int) -> None:
    """Write a job's file, recording progress; marks it done (with SHA-256) or failed.

    Runs inside an app context (RQ worker or fallback thread). Safe to retry: a job that is
    done, failed, or running elsewhere with a live heartbeat is left alone.
    """
    if not claim(job_id):
        log.info("export %s: already taken or finished, nothing to do", job_id)
        return
    folder = export_dir()
    partial = folder / f"{uuid.uuid4().hex}.part"
    try:
        job = db.session.get_one(ExportJob, job_id)
        user = db.session.get_one(User, job.user_id)
        query = query_for(filters_of(job.query), user)
        columns = chosen(job.columns)
        file_format = job.file_format

        def progress(done: int) -> None:
            _set(job_id, rows_done=done, heartbeat_at=utcnow())

        with partial.open("wb") as handle:
            records = write(handle, file_format, query, columns, progress=progress)
        final = folder / f"{uuid.uuid4().hex}.{file_format}"
        os.replace(partial, final)
        digest = hashlib.sha256(final.read_bytes()).hexdigest()
        now = utcnow()
        _set(job_id, status=ExportStatus.DONE, rows_done=records, rows_total=records,
             stored_name=final.name, filename=filename(file_format, now), sha256=digest,
             size=final.stat().st_size, finished_at=now, heartbeat_at=now,
             expires_at=now + KEEP_FOR)  # fmt: skip
    except Exception:
        log.exception("export %s failed", job_id)
        partial.unlink(missing_ok=True)
        _set(job_id, status=ExportStatus.FAILED, finished_at=utcnow(),
             error="导出失败，请稍后重试；问题持续时请联系系统管理员。")  # fmt: skip
    finally:
        db.session.remove()


def mark_interrupted(user: User) -> int:
    """Mark the user's queued or running exports without a recent heartbeat failed
    ("interrupted"): their process died (a restart, a recycled worker, a lost host). Written on
    the request's session and committed here; returns how many."""
    now = utcnow()
    condition = and_(_stale_condition(now), ExportJob.user_id == user.id)
    stale = db.session.scalars(select(ExportJob.id).where(condition)).all()
    if not stale:
        return 0
    write_after_read()
    result = db.session.execute(
        update(ExportJob)
        .where(ExportJob.id.in_(stale), condition)  # a heartbeat since the read keeps it running
        .values(status=ExportStatus.FAILED, finished_at=now, error=INTERRUPTED)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    log.warning("exports %s interrupted (no heartbeat since %s)", stale, now - jobs.stale_after())
    return int(getattr(result, "rowcount", 0))


def restart(job: ExportJob, user: User) -> None:
    """Queue a failed export again, with the same filter and columns (the caller commits, then
    calls :func:`start`)."""
    job.status = ExportStatus.QUEUED
    job.rows_done = 0
    job.error = None
    job.finished_at = None
    job.heartbeat_at = utcnow()
    record("export_restarted", actor=user, object_type="export", object_id=job.id,
           attempts=job.attempts)  # fmt: skip
    db.session.flush()


def jobs_of(user: User, limit: int = 50) -> list[ExportJob]:
    """The user's exports, newest first."""
    query = (
        select(ExportJob)
        .where(ExportJob.user_id == user.id)
        .order_by(ExportJob.created_at.desc(), ExportJob.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query))


def file_of(job: ExportJob) -> Path | None:
    """The finished file, if it is still there and not expired."""
    if job.status != ExportStatus.DONE or not job.stored_name:
        return None
    if job.expires_at is not None and job.expires_at < utcnow():
        return None
    path = export_dir() / job.stored_name
    return path if path.is_file() else None


def purge_expired(now: datetime | None = None) -> int:
    """Delete the files of expired exports (the job rows stay, as history)."""
    now = now or utcnow()
    removed = 0
    query = select(ExportJob).where(ExportJob.expires_at < now, ExportJob.stored_name.is_not(None))
    for job in db.session.scalars(query):
        path = export_dir() / (job.stored_name or "")
        if path.is_file():
            path.unlink()
            removed += 1
        job.stored_name = None
    db.session.flush()
    return removed
