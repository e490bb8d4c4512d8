"""Large exports as background jobs: through RQ, seen from another app, interrupted, restarted,
and a queue that is down."""

from __future__ import annotations

import hashlib
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from feedback import create_app
from feedback.extensions import db
from feedback.models import AuditRecord, ExportJob, ExportStatus, Role, User, utcnow
from feedback.reports import exports
from tests.conftest import REDIS_TEST_URL, IsolatedClient, login, post_form
from tests.factories import PASSWORD, make_submission, make_user
from tests.test_jobs import work


@pytest.fixture(autouse=True)
def small_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exports, "DIRECT_LIMIT", 2)  # three rows count as "large" here
    monkeypatch.setattr(exports, "BATCH", 1)  # progress after every row


def _reviewer(client: FlaskClient) -> User:
    author = make_user()
    for n in range(3):
        make_submission(author, submit=True, title=f"后台导出材料{n}")
    user = make_user(Role.REVIEWER)
    login(client, user.email, PASSWORD)
    return user


def _start_export(client: FlaskClient) -> int:
    response = post_form(client, "/exports/new", {"format": "csv"}, page="/exports/new")
    assert response.status_code == 303, response.get_data(as_text=True)
    return int(response.headers["Location"].rsplit("/", 1)[1])


def _job(job_id: int) -> ExportJob:
    db.session.expire_all()
    job = db.session.get_one(ExportJob, job_id)
    db.session.commit()  # leave no read transaction open (SQLite)
    return job


def _second_app(app: Flask, tmp_path: Path) -> Flask:
    """Another application object on the same database and shared storage: another host."""
    other = create_app("testing", {"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                                   "UPLOAD_DIR": app.config["UPLOAD_DIR"]})  # fmt: skip
    other.test_client_class = IsolatedClient
    return other


def test_an_export_through_rq_is_followed_and_downloaded_from_another_host(
    app: Flask, client: FlaskClient, job_queue: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Host A queues the export, a worker runs it, host B shows its progress while it runs and
    serves the file: nothing lives in A's memory."""
    user = _reviewer(client)
    job_id = _start_export(client)
    assert _job(job_id).status == ExportStatus.QUEUED  # web process only queued it
    other = _second_app(app, tmp_path)
    other_client = other.test_client()
    with other.app_context():
        login(other_client, user.email, PASSWORD)
        db.session.remove()
    assert other_client.get(f"/exports/{job_id}/progress").get_json()["status"] == "queued"

    seen: list[dict[str, Any]] = []
    real_set = exports._set

    def spying_set(job: int, **values: Any) -> None:
        real_set(job, **values)
        if "rows_done" in values and "status" not in values:  # a progress write, mid-run
            seen.append(other_client.get(f"/exports/{job_id}/progress").get_json())

    monkeypatch.setattr(exports, "_set", spying_set)
    work(job_queue)

    assert seen and seen[0]["status"] == "running" and seen[0]["rows_done"] == 1, seen
    state = other_client.get(f"/exports/{job_id}/progress").get_json()
    assert state["status"] == "done", state
    download = other_client.get(f"/exports/{job_id}/download")
    assert download.status_code == 200
    content = download.data
    download.close()
    assert content.decode("utf-8-sig").count("后台导出材料") == 3
    assert hashlib.sha256(content).hexdigest() == _job(job_id).sha256
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_queue_that_is_down_gives_a_clear_message_and_a_way_to_start_again(
    app: Flask, client: FlaskClient, job_queue: Any
) -> None:
    _reviewer(client)
    app.config["JOB_QUEUE_URL"] = "redis://127.0.0.1:1/8"  # nothing listens on port 1
    response = post_form(client, "/exports/new", {"format": "csv"}, page="/exports/new")
    assert response.status_code == 303
    page = client.get(response.headers["Location"])
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "后台任务队列暂时不可用" in body and "重新开始导出" in body
    job_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert _job(job_id).status == ExportStatus.FAILED

    # Redis is back: starting again queues the same export, and a worker finishes it.
    app.config["JOB_QUEUE_URL"] = REDIS_TEST_URL
    again = post_form(client, f"/exports/{job_id}/restart", {}, page=f"/exports/{job_id}")
    assert again.status_code == 303
    assert _job(job_id).status == ExportStatus.QUEUED
    work(job_queue)
    job = _job(job_id)
    assert job.status == ExportStatus.DONE and job.rows_done == 3 and job.error is None
    actions = db.session.scalars(
        select(AuditRecord.action).where(AuditRecord.object_type == "export")
    ).all()
    assert "export_restarted" in actions


def test_a_job_whose_process_died_shows_as_interrupted_and_can_be_restarted(
    app: Flask, client: FlaskClient
) -> None:
    user = _reviewer(client)
    now = utcnow()
    hour_ago = now - timedelta(hours=1)
    stalled = ExportJob(user_id=user.id, file_format="csv", query="", columns=["reference"],
                        rows_total=3, rows_done=1, status=ExportStatus.RUNNING,
                        started_at=hour_ago, heartbeat_at=hour_ago)  # fmt: skip
    alive = ExportJob(user_id=user.id, file_format="csv", query="", columns=["reference"],
                      rows_total=3, rows_done=1, status=ExportStatus.RUNNING, started_at=now,
                      heartbeat_at=now)  # fmt: skip
    db.session.add_all([stalled, alive])
    db.session.commit()
    stalled_id, alive_id = stalled.id, alive.id

    assert client.get(f"/exports/{stalled_id}/progress").get_json()["status"] == "failed"
    assert client.get(f"/exports/{alive_id}/progress").get_json()["status"] == "running"
    body = client.get(f"/exports/{stalled_id}").get_data(as_text=True)
    assert "中断" in body and "重新开始导出" in body
    assert "重新开始导出" not in client.get(f"/exports/{alive_id}").get_data(as_text=True)
    # Restarting a live job is refused; it keeps running where it is.
    post_form(client, f"/exports/{alive_id}/restart", {}, page=f"/exports/{stalled_id}")
    assert _job(alive_id).status == ExportStatus.RUNNING

    response = post_form(
        client, f"/exports/{stalled_id}/restart", {}, page=f"/exports/{stalled_id}"
    )
    assert response.status_code == 303
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and _job(stalled_id).status != ExportStatus.DONE:
        time.sleep(0.1)
    job = _job(stalled_id)
    assert job.status == ExportStatus.DONE, job.error
    assert job.attempts == 1 and job.rows_done == 3


def test_only_the_owner_may_restart_an_export(app: Flask, client: FlaskClient) -> None:
    owner = make_user(Role.REVIEWER)
    job = ExportJob(user_id=owner.id, file_format="csv", query="", columns=["reference"],
                    rows_total=3, status=ExportStatus.FAILED, error="x")  # fmt: skip
    db.session.add(job)
    db.session.commit()
    job_id = job.id
    login(client, make_user(Role.REVIEWER).email, PASSWORD)
    response = post_form(client, f"/exports/{job_id}/restart", {}, page="/exports/")
    assert response.status_code == 404
    assert _job(job_id).status == ExportStatus.FAILED
