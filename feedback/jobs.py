"""Background jobs: RQ on Redis when ``JOB_QUEUE_URL`` is set, else a thread of this process.

Either way a job is a module-level function named by its dotted path (only under ``feedback.``)
and called with plain arguments (ids) inside an application context. Its state — queued,
running, progress, heartbeat, done or failed with a message — is kept in the database row the
job works on (for example :class:`~feedback.models.ExportJob`), never only in process memory:
any process on any host can show progress, serve the result, or see that a job whose heartbeat
stopped was interrupted and offer to start it again. Jobs must therefore be safe to run twice
(see :func:`claim`): RQ may retry, and a user may restart an interrupted job while the old one
still sits in the queue.

The thread fallback keeps ``make run`` free of Redis; a thread dies with its process (a
restart, a gunicorn worker recycled), which the heartbeat makes visible.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import click
from flask import Flask, current_app, g, has_app_context
from flask.cli import with_appcontext
from sqlalchemy import ColumnElement, and_, or_, update

log = logging.getLogger(__name__)

QUEUE_NAME = "feedback"
DEFAULT_TIMEOUT = 3600  # seconds an RQ job may run (a 100k-row export takes a few minutes)
DEFAULT_STALE_AFTER = 600  # seconds without a heartbeat before a job counts as interrupted


class QueueUnavailable(Exception):
    """The job could not be handed to the queue (Redis unreachable, refused, misconfigured)."""


def _resolve(func_path: str) -> Callable[..., Any]:
    module_name, _, name = func_path.rpartition(".")
    if not module_name.startswith("feedback.") or not name or name.startswith("_"):
        raise ValueError(f"not a job function: {func_path!r}")
    function = getattr(importlib.import_module(module_name), name)
    if not callable(function):
        raise ValueError(f"not a job function: {func_path!r}")
    return function  # type: ignore[no-any-return]


def perform(func_path: str, *args: Any) -> None:
    """Run a job (what RQ and the fallback thread call) in an application context of its own,
    so it never shares the caller's database session; the current app's when there is one
    (``flask worker``), else a fresh one (a bare ``rq worker``)."""
    function = _resolve(func_path)
    if has_app_context():
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    else:
        from feedback import create_app

        app = create_app()
    with app.app_context():
        g.background_job = True  # SQLite: begin deferred, as in the thread (feedback.database)
        function(*args)


def _run_in_thread(app: Flask, func_path: str, args: tuple[Any, ...]) -> None:
    with app.app_context():
        try:
            perform(func_path, *args)
        except Exception:  # the job records its own failure; this only keeps the thread quiet
            log.exception("background job %s%r failed", func_path, args)


def uses_queue(app: Flask | None = None) -> bool:
    """Whether jobs go to RQ (``JOB_QUEUE_URL`` set) rather than a thread of this process."""
    return bool((app or current_app).config.get("JOB_QUEUE_URL"))


def queue(app: Flask | None = None) -> Any:
    """The RQ queue jobs go to (``JOB_QUEUE_URL``, ``JOB_QUEUE_NAME``)."""
    from redis import Redis
    from rq import Queue

    config = (app or current_app).config
    connection = Redis.from_url(config["JOB_QUEUE_URL"], socket_connect_timeout=3)
    return Queue(
        config.get("JOB_QUEUE_NAME") or QUEUE_NAME,
        connection=connection,
        default_timeout=int(config.get("JOB_TIMEOUT") or DEFAULT_TIMEOUT),
    )


def enqueue(func_path: str, *args: Any) -> threading.Thread | None:
    """Run ``func_path(*args)`` in the background; returns the thread in the fallback mode.

    Raises :class:`QueueUnavailable` when the queue cannot take the job, so the caller can mark
    its row failed and tell the user, rather than answer 500.
    """
    _resolve(func_path)  # refuse a bad path here, not later in a worker
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    if not uses_queue(app):
        thread = threading.Thread(
            target=_run_in_thread, args=(app, func_path, args), name=f"job-{func_path}"
        )
        thread.daemon = True
        thread.start()
        return thread
    from redis.exceptions import RedisError

    try:
        queue(app).enqueue(
            "feedback.jobs.perform",
            func_path,
            *args,
            result_ttl=3600,
            failure_ttl=7 * 24 * 3600,
            description=f"{func_path}{args!r}",
        )
    except (RedisError, OSError) as error:
        log.exception("could not enqueue %s%r", func_path, args)
        raise QueueUnavailable(str(error)) from error
    return None


def stale_after(app: Flask | None = None) -> timedelta:
    """How long a job may go without a heartbeat before it counts as interrupted."""
    seconds = (app or current_app).config.get("JOB_STALE_AFTER") or DEFAULT_STALE_AFTER
    return timedelta(seconds=int(seconds))


def is_stale(last_sign_of_life: datetime | None, now: datetime) -> bool:
    """Whether a queued or running job last heard of at ``last_sign_of_life`` was interrupted."""
    return last_sign_of_life is None or last_sign_of_life < now - stale_after()


def stale_condition(
    status: Any, live: tuple[Any, ...], last_sign_of_life: Any, now: datetime
) -> ColumnElement[bool]:
    """:func:`is_stale` in SQL, for a job row whose ``status`` is one of the ``live`` ones."""
    return and_(
        status.in_(live),
        or_(last_sign_of_life.is_(None), last_sign_of_life < now - stale_after()),
    )


def claim(model: Any, row_id: int, queued: Any, stale: ColumnElement[bool], **values: Any) -> bool:
    """Take the job row ``row_id`` of ``model`` for this process: a conditional UPDATE (queued,
    or ``stale``: its process died) setting ``values``, on a transaction of its own. False when
    another process has it or it is finished, so a job delivered twice runs once."""
    from feedback.extensions import db

    with db.engine.begin() as connection:
        result = connection.execute(
            update(model)
            .where(model.id == row_id, or_(model.status == queued, stale))
            .values(**values)
        )
    return bool(result.rowcount)


@click.command("worker")
@click.option("--burst", is_flag=True, help="Exit when the queue is empty (tests, one-off runs).")
@with_appcontext
def worker(burst: bool) -> None:
    """Run background jobs from Redis (JOB_QUEUE_URL) inside this app's context.

    A SimpleWorker runs each job in this process (no fork): the job opens its own database
    connections from the pool, and a crash ends the process, which systemd restarts; the job's
    heartbeat then shows it as interrupted. Run several workers for parallel jobs.
    """
    from rq import SimpleWorker

    if not uses_queue():
        raise click.ClickException(
            "未设置 FEEDBACK_JOB_QUEUE_URL：后台任务在网站进程内运行，无需 worker。"
        )
    job_queue = queue()
    SimpleWorker([job_queue], connection=job_queue.connection).work(burst=burst)
