"""SQLite under several worker processes: concurrent filing and reviewing never hit a lock error.

Each process stands for a gunicorn worker: its own application, engine and connections to one
database file. Submitters file and submit reports while reviewers take them through the queue
(start review, comment, accept), all at once for a few seconds. Every request must succeed (in
testing, an exception such as "database is locked" propagates out of the request and is
recorded), and every write must be in the database afterwards.
"""

from __future__ import annotations

import importlib
import multiprocessing
import re
import shutil
import sqlite3
import time
import traceback
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select

from feedback import create_app
from feedback.extensions import db
from feedback.models import Comment, Role, Status, Submission
from tests.conftest import csrf_token, post_form
from tests.factories import PASSWORD, enrol_mfa, make_submission, make_user, plan_item

SECONDS = 4.0
SUBMITTERS = 3
REVIEWERS = 2
# SECURITY.md row 45: 4 processes × 100 writes produce 0 "database is locked" errors.
PROCESSES = 4
WRITES = 100
_QUEUE_LINK = re.compile(r'href="/review/(\d+)"')


def _client(url: str, uploads: str) -> FlaskClient:
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url, "UPLOAD_DIR": uploads})
    return app.test_client()


def _log_in(client: FlaskClient, email: str) -> None:
    response = post_form(client, "/auth/login", {"email": email, "password": PASSWORD})
    assert response.status_code == 302, response.status_code


def _submitter(url: str, uploads: str, email: str, plan_id: int, n: int) -> dict[str, Any]:
    client = _client(url, uploads)
    assert (
        post_form(client, "/auth/login", {"email": email, "password": PASSWORD}).status_code == 302
    )
    statuses: Counter[int] = Counter()
    filed = 0
    deadline = time.monotonic() + SECONDS
    while time.monotonic() < deadline:
        # The form is fetched each time: reads interleave with everyone's writes.
        data = {
            "csrf_token": csrf_token(client, "/submissions/new?kind=problem"),
            "idempotency_key": f"p{n}-{filed}",
            "title": f"并发报送测试：第{n}号园区第{filed}份材料",
            "summary": "储罐区可燃气体检测报警仪未按期校准。",
            "description": "专项检查发现储罐区可燃气体检测报警仪超过一年未校准，需要整改。",
            "plan_item_ids": [str(plan_id)],
            "region_code": "320500",
            "contact_name": "张工",
            "contact_phone": "138 1234 5678",
            "sensitivity": "ministry",
            "action": "submit",
        }
        statuses[client.post("/submissions/new/problem", data=data).status_code] += 1
        filed += 1
    return {"statuses": statuses, "filed": filed}


def _reviewer(url: str, uploads: str, email: str, secret: str, n: int) -> dict[str, Any]:
    client = _client(url, uploads)
    assert (
        post_form(client, "/auth/login", {"email": email, "password": PASSWORD}).status_code == 302
    )
    assert post_form(client, "/auth/mfa", {"code": pyotp.TOTP(secret).now()}).status_code == 302
    token = csrf_token(client, "/review/")
    statuses: Counter[int] = Counter()
    accepted: list[int] = []
    deadline = time.monotonic() + SECONDS
    while time.monotonic() < deadline:
        page = client.get("/review/?status=submitted").get_data(as_text=True)
        mine = [int(i) for i in _QUEUE_LINK.findall(page) if int(i) % REVIEWERS == n]
        if not mine:
            time.sleep(0.05)
            continue
        sid = mine[0]
        for path, data in (
            ("decide", {"action": "start_review"}),
            ("comments", {"visibility": "internal", "body": f"第{n}号审核员：已核对"}),
            ("decide", {"action": "accept"}),
        ):
            response = client.post(f"/review/{sid}/{path}", data={**data, "csrf_token": token})
            statuses[response.status_code] += 1
        accepted.append(sid)
    return {"statuses": statuses, "accepted": accepted}


def _commenter(url: str, uploads: str, email: str, secret: str, sid: int) -> dict[str, Any]:
    client = _client(url, uploads)
    _log_in(client, email)
    assert post_form(client, "/auth/mfa", {"code": pyotp.TOTP(secret).now()}).status_code == 302
    token = csrf_token(client, "/review/")
    statuses: Counter[int] = Counter()
    for number in range(WRITES):
        data = {
            "visibility": "internal",
            "body": f"{email} 的第 {number} 条意见",
            "csrf_token": token,
        }
        statuses[client.post(f"/review/{sid}/comments", data=data).status_code] += 1
    return {"statuses": statuses}


def accepted_ids(outcomes: list[dict[str, Any]]) -> list[int]:
    return [sid for o in outcomes for sid in o.get("accepted", [])]


def _worker(job: tuple[Any, ...], start: Any, results: Any) -> None:
    function, *args = job
    start.wait()
    try:
        results.put(function(*args))
    except BaseException:
        results.put({"error": traceback.format_exc()})


def _run(jobs: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """Each job in a process of its own, started together; their results (no error allowed)."""
    context = multiprocessing.get_context("fork")
    start = context.Barrier(len(jobs))
    results = context.Queue()
    workers = [context.Process(target=_worker, args=(job, start, results)) for job in jobs]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=60) for _worker in workers]
    for worker in workers:
        worker.join(timeout=10)
    errors = [o["error"] for o in outcomes if "error" in o]
    assert not errors, errors[0]
    return outcomes


def _shared_app(tmp_path: Path, sqlite_template: Path) -> tuple[Flask, str, str]:
    path = tmp_path / "shared.sqlite3"
    shutil.copy(sqlite_template, path)
    url, uploads = f"sqlite:///{path}", str(tmp_path / "uploads")
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url, "UPLOAD_DIR": uploads})
    return app, url, uploads


def test_parallel_filing_and_reviewing_on_sqlite(tmp_path: Path, sqlite_template: Path) -> None:
    app, url, uploads = _shared_app(tmp_path, sqlite_template)
    jobs: list[tuple[Any, ...]] = []
    with app.app_context():
        plan_id = plan_item("S3").id
        for n in range(SUBMITTERS):
            jobs.append((_submitter, url, uploads, make_user(mfa=False).email, plan_id, n))
        for n in range(REVIEWERS):
            reviewer = make_user(Role.REVIEWER, mfa=False)
            jobs.append((_reviewer, url, uploads, reviewer.email, enrol_mfa(reviewer), n))
        db.session.remove()
        db.engine.dispose()  # no connection of the parent's may cross the fork

    outcomes = _run(jobs)
    statuses: Counter[int] = sum((o["statuses"] for o in outcomes), Counter())
    assert set(statuses) == {303}, statuses  # every write redirected: no 4xx, no 5xx
    filed = sum(o.get("filed", 0) for o in outcomes)
    accepted = accepted_ids(outcomes)
    assert filed >= SUBMITTERS and accepted, (filed, accepted)
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(Submission))
        assert count == filed
        rows = db.session.scalars(select(Submission.id).where(Submission.status == Status.ACCEPTED))
        assert sorted(rows) == sorted(accepted)
        assert db.session.scalar(select(func.count()).select_from(Comment)) == len(accepted)
        db.session.remove()
        db.engine.dispose()


def test_four_processes_times_a_hundred_writes(tmp_path: Path, sqlite_template: Path) -> None:
    app, url, uploads = _shared_app(tmp_path, sqlite_template)
    with app.app_context():
        sid = make_submission(make_user(), submit=True).id
        jobs: list[tuple[Any, ...]] = []
        for _n in range(PROCESSES):
            reviewer = make_user(Role.REVIEWER, mfa=False)
            jobs.append((_commenter, url, uploads, reviewer.email, enrol_mfa(reviewer), sid))
        db.session.remove()
        db.engine.dispose()

    outcomes = _run(jobs)
    statuses: Counter[int] = sum((o["statuses"] for o in outcomes), Counter())
    assert statuses == Counter({303: PROCESSES * WRITES})
    with app.app_context():
        comments = db.session.scalar(select(func.count()).select_from(Comment))
        assert comments == PROCESSES * WRITES
        db.session.remove()
        db.engine.dispose()


def _write_lock_is_free() -> str:
    """Whether another process could write now: 'free', or SQLite's complaint."""
    probe = sqlite3.connect(db.engine.url.database or "", timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return "free"
    except sqlite3.OperationalError as error:
        return str(error)
    finally:
        probe.close()


@pytest.mark.parametrize(
    ("target", "attribute", "command"),
    [
        ("feedback.reports.exports", "write", ["export-submissions", "--out", "{tmp}/all.csv"]),
        ("feedback.audit.chain", "compute_hash", ["audit-verify"]),  # for each record
        ("feedback.reports.compile", "build_workbook", ["build-report", "--id", "{report}",
                                                        "--out", "{tmp}/r.xlsx"]),
    ],
)  # fmt: skip
def test_long_reading_commands_leave_the_write_lock_free(
    app: Flask,
    runner: FlaskCliRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    target: str,
    attribute: str,
    command: list[str],
) -> None:
    """An export, a verification or a workbook takes minutes: the web's writers must not wait."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL readers never block writers")
    from feedback.reports import services as reports

    make_submission(make_user(), submit=True)
    report = reports.create(
        make_user(Role.COMPILER),
        reports.ReportInput(title="2026年第四季度汇总", period_label="2026年第四季度",
                            period_start=date(2026, 10, 1), period_end=date(2026, 12, 31)),
    )  # fmt: skip
    db.session.commit()
    module = importlib.import_module(target)
    original = getattr(module, attribute)
    seen: list[str] = []

    def while_reading(*args: Any, **kwargs: Any) -> Any:
        seen.append(_write_lock_is_free())
        return original(*args, **kwargs)

    monkeypatch.setattr(module, attribute, while_reading)
    if target == "feedback.reports.compile":  # the command imports the name inside itself
        monkeypatch.setattr("feedback.reports.compile.build_workbook", while_reading)
    args = [a.format(tmp=tmp_path, report=report.id) for a in command]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    assert seen and set(seen) == {"free"}, seen
