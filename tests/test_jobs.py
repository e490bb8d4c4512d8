"""The job layer: what may be run, the thread fallback, RQ on Redis, the worker command."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from rq import SimpleWorker
from sqlalchemy import select

from feedback import jobs
from feedback.extensions import db
from feedback.models import ExportJob, ExportStatus, Role
from tests.factories import make_submission, make_user


def _queued_export(rows: int = 3) -> int:
    """A committed export job of ``rows`` submissions, not yet started."""
    author = make_user()
    for n in range(rows):
        make_submission(author, submit=True, title=f"后台任务测试材料{n}")
    owner = make_user(Role.REVIEWER)
    job = ExportJob(user_id=owner.id, file_format="csv", query="", columns=["reference"],
                    rows_total=rows)  # fmt: skip
    db.session.add(job)
    db.session.flush()
    job_id = job.id
    db.session.commit()  # and no read transaction left open: SQLite would block the job's writes
    return job_id


def work(job_queue: Any) -> None:
    """Run the queued jobs in this process, as ``flask worker --burst`` would."""
    db.session.commit()  # no read transaction left open: SQLite would block the job's writes
    SimpleWorker([job_queue], connection=job_queue.connection).work(burst=True)


def _job(job_id: int) -> ExportJob:
    db.session.expire_all()
    return db.session.get_one(ExportJob, job_id)


@pytest.mark.parametrize(
    "path", ["os.system", "tests.factories.make_user", "feedback.jobs._resolve", "feedback"]
)
def test_only_public_functions_of_the_app_can_be_queued(app: Flask, path: str) -> None:
    with pytest.raises(ValueError, match="not a job function"):
        jobs.enqueue(path, 1)


def test_without_a_queue_url_the_job_runs_in_a_thread_of_this_process(app: Flask) -> None:
    job_id = _queued_export()
    assert not jobs.uses_queue(app)
    thread = jobs.enqueue("feedback.reports.exports.run_job", job_id)
    assert thread is not None
    thread.join(timeout=30)
    job = _job(job_id)
    assert job.status == ExportStatus.DONE, job.error
    assert job.rows_done == 3 and job.attempts == 1
    assert job.started_at is not None and job.heartbeat_at is not None


def test_with_a_queue_url_the_job_waits_in_redis_for_a_worker(app: Flask, job_queue: Any) -> None:
    job_id = _queued_export()
    assert jobs.enqueue("feedback.reports.exports.run_job", job_id) is None
    assert job_queue.count == 1
    assert _job(job_id).status == ExportStatus.QUEUED  # nothing ran in this process
    work(job_queue)
    assert job_queue.count == 0
    job = _job(job_id)
    assert job.status == ExportStatus.DONE, job.error
    assert job.rows_done == 3


def test_the_worker_command_runs_queued_jobs_in_the_app_context(app: Flask, job_queue: Any) -> None:
    job_id = _queued_export()
    jobs.enqueue("feedback.reports.exports.run_job", job_id)
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["worker", "--burst"])
    assert result.exit_code == 0, result.output
    assert _job(job_id).status == ExportStatus.DONE


def test_the_worker_command_refuses_to_start_without_a_queue(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["worker", "--burst"])
    assert result.exit_code == 1
    assert "FEEDBACK_JOB_QUEUE_URL" in result.output


def test_an_unreachable_queue_is_reported_as_queue_unavailable(app: Flask) -> None:
    app.config["JOB_QUEUE_URL"] = "redis://127.0.0.1:1/8"  # nothing listens on port 1
    with pytest.raises(jobs.QueueUnavailable):
        jobs.enqueue("feedback.reports.exports.run_job", 1)


def test_a_job_delivered_twice_runs_once(app: Flask, job_queue: Any) -> None:
    """RQ retries, or a restart while the old entry still waits: the second delivery finds the
    job finished (or running elsewhere with a live heartbeat) and leaves it alone."""
    job_id = _queued_export()
    jobs.enqueue("feedback.reports.exports.run_job", job_id)
    jobs.enqueue("feedback.reports.exports.run_job", job_id)
    work(job_queue)
    job = _job(job_id)
    assert job.status == ExportStatus.DONE and job.attempts == 1
    assert db.session.scalars(select(ExportJob.id)).all() == [job_id]
