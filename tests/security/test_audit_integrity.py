"""Lockout across processes, and the audit row as part of every action (SECURITY.md rows 3, 35).

Covered elsewhere and not repeated: five failures lock an account and the lock lifts
(tests/auth/test_login.py), five wrong codes lock it (tests/auth/test_mfa.py), the chain's
tamper detection names the first broken record (tests/audit/test_chain.py, through the CLI and
the auditor's page in tests/audit/test_views.py), and a failed audit write rolls back creating
an organisation (tests/audit/test_chain.py). Here: the lock is shared by two application
instances and lasts exactly 30 minutes; a failed audit write rolls back business actions too.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from freezegun import freeze_time
from sqlalchemy import event, func, select

from feedback.extensions import db
from feedback.models import AuditRecord, Comment, Role, Status, Submission, User
from tests.conftest import IsolatedClient, _make_app, csrf_token, login
from tests.factories import PASSWORD, make_submission, make_user

WRONG = "Wrong-Passw0rd!"


def test_two_processes_share_the_failure_count_and_the_lock(
    app: Flask, database_url: str, tmp_path: Path
) -> None:
    """Failures split between two workers still lock after five (the count is in the DB)."""
    other_worker = _make_app(database_url, tmp_path / "second")
    other_worker.test_client_class = IsolatedClient
    user = make_user()
    first, second = app.test_client(), other_worker.test_client()
    try:
        with freeze_time(datetime.now(UTC)) as clock:
            for attempt in range(5):
                login(first if attempt % 2 else second, user.email, WRONG)
            assert login(first, user.email, PASSWORD).status_code == 200  # locked here
            assert login(second, user.email, PASSWORD).status_code == 200  # and there
            clock.tick(timedelta(minutes=29, seconds=59))
            assert login(second, user.email, PASSWORD).status_code == 200
            clock.tick(timedelta(seconds=2))
            assert login(first, user.email, PASSWORD).status_code == 302
    finally:
        with other_worker.app_context():
            db.engine.dispose()  # its pooled connections, before the database is reset


def _staff_on(app: Flask, role: Role) -> tuple[FlaskClient, User]:
    user = make_user(role)
    client = app.test_client()
    login(client, user.email, PASSWORD)
    return client, user


def _decide(app: Flask) -> tuple[FlaskClient, str, dict[str, str], Callable[[], bool]]:
    submission = make_submission(make_user(), submit=True)
    client, _user = _staff_on(app, Role.REVIEWER)

    def unchanged() -> bool:
        db.session.expire_all()
        found = db.session.get(Submission, submission.id)
        return found is not None and found.status == Status.SUBMITTED

    return client, f"/review/{submission.id}/decide", {"action": "start_review"}, unchanged


def _comment(app: Flask) -> tuple[FlaskClient, str, dict[str, str], Callable[[], bool]]:
    submission = make_submission(make_user(), submit=True)
    client, _user = _staff_on(app, Role.REVIEWER)
    form = {"body": "请补充气体分析记录。", "visibility": "to_submitter"}

    def unchanged() -> bool:
        return db.session.scalar(select(func.count()).select_from(Comment)) == 0

    return client, f"/review/{submission.id}/comments", form, unchanged


def _deactivate(app: Flask) -> tuple[FlaskClient, str, dict[str, str], Callable[[], bool]]:
    target = make_user()
    client, _user = _staff_on(app, Role.ADMIN)

    def unchanged() -> bool:
        db.session.expire_all()
        found = db.session.get(User, target.id)
        return found is not None and found.active

    return client, f"/admin/users/{target.id}/deactivate", {}, unchanged


@pytest.mark.parametrize("action", [_decide, _comment, _deactivate])
def test_a_failed_audit_write_rolls_the_action_back(
    app: Flask,
    action: Callable[[Flask], tuple[FlaskClient, str, dict[str, str], Callable[[], bool]]],
) -> None:
    client, url, form, unchanged = action(app)
    token = csrf_token(client, "/notifications")
    before = db.session.scalar(select(func.count()).select_from(AuditRecord))

    def refuse(*_args: object) -> None:
        raise RuntimeError("audit store unavailable")

    event.listen(AuditRecord, "before_insert", refuse)
    try:
        response = client.post(url, data={**form, "csrf_token": token})
    finally:
        event.remove(AuditRecord, "before_insert", refuse)
    assert response.status_code == 500
    assert unchanged()
    assert db.session.scalar(select(func.count()).select_from(AuditRecord)) == before
