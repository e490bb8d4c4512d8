"""The export allowance (SECURITY.md row 17): 10 exports per person per hour, web and API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from freezegun import freeze_time
from sqlalchemy import func, select

from feedback.extensions import db
from feedback.models import AuditRecord, Role, User, utcnow
from tests.api.conftest import bearer, token_for
from tests.conftest import IsolatedClient, _make_app, csrf_token, login
from tests.factories import PASSWORD, make_submission, make_user


@pytest.fixture
def limited(app: Flask, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Flask]:
    """A second app on the test's database with rate limits on (tests turn them off)."""
    limits: dict[str, Any] = getattr(request, "param", {})
    other = _make_app(
        app.config["SQLALCHEMY_DATABASE_URI"], tmp_path, RATELIMIT_ENABLED=True, **limits
    )
    other.test_client_class = IsolatedClient
    yield other
    with other.app_context():
        db.engine.dispose()


def _exports() -> int | None:
    return db.session.scalar(
        select(func.count()).select_from(AuditRecord).where(AuditRecord.action == "export")
    )


def _staff(app: Flask, user: User | None = None) -> tuple[FlaskClient, str]:
    """``user`` (default: a new reviewer) logged in on ``app``; the export form's CSRF token."""
    client = app.test_client()
    login(client, (user or make_user(Role.REVIEWER)).email, PASSWORD)
    return client, csrf_token(client, "/exports/new")


def test_the_eleventh_export_in_an_hour_is_refused_in_chinese(limited: Flask) -> None:
    assert limited.config["RATELIMIT_EXPORT"] == "10 per hour"
    make_submission(make_user(), submit=True)
    first = make_user(Role.REVIEWER)
    client, token = _staff(limited, first)
    form = {"csrf_token": token, "format": "csv", "columns": ["reference", "title"]}
    statuses = [client.post("/exports/new", data=form).status_code for _ in range(10)]
    refused = client.post("/exports/new", data=form)
    other, other_token = _staff(limited)
    someone_else = other.post("/exports/new", data={**form, "csrf_token": other_token})
    assert statuses == [200] * 10
    assert refused.status_code == 429
    page = refused.get_data(as_text=True)
    assert "导出过于频繁" in page and "10 次" in page and "分钟后再试" in page
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    assert refused.headers["Content-Type"].startswith("text/html")
    assert someone_else.status_code == 200  # the allowance is per person
    assert _exports() == 11  # ten of the first person, one of the second; none refused
    with freeze_time(utcnow() + timedelta(minutes=61)):  # an hour later (and logged in again)
        later, later_token = _staff(limited, first)
        assert (
            later.post("/exports/new", data={**form, "csrf_token": later_token}).status_code == 200
        )


@pytest.mark.parametrize("limited", [{"RATELIMIT_EXPORT": "2 per hour"}], indirect=True)
def test_web_and_api_exports_share_one_allowance(limited: Flask) -> None:
    make_submission(make_user(), submit=True)
    staff = make_user(Role.REVIEWER)
    api = bearer(token_for(staff, "read"))
    client = limited.test_client()
    login(client, staff.email, PASSWORD)
    form = {"csrf_token": csrf_token(client, "/exports/new"), "format": "xlsx"}
    assert client.post("/exports/new", data=form).status_code == 200
    assert client.get("/api/v1/exports/submissions.csv", headers=api).status_code == 200
    refused = client.get("/api/v1/exports/submissions.xlsx", headers=api)
    assert refused.status_code == 429
    assert refused.content_type == "application/problem+json"
    assert "导出过于频繁" in refused.get_json()["detail"]
    assert int(refused.headers["Retry-After"]) > 0
    assert client.post("/exports/new", data=form).status_code == 429
    assert _exports() == 2


@pytest.mark.parametrize("limited", [{"RATELIMIT_EXPORT": "2 per hour"}], indirect=True)
def test_audit_csv_exports_are_counted(limited: Flask) -> None:
    auditor = make_user(Role.AUDITOR)
    client = limited.test_client()
    login(client, auditor.email, PASSWORD)
    statuses = []
    for _ in range(3):
        response = client.get("/audit/export.csv")
        statuses.append(response.status_code)
        response.close()  # send_file streams from an open file
    assert statuses == [200, 200, 429]
    refused = client.get("/audit/export.csv").get_data(as_text=True)
    assert "导出过于频繁" in refused and "2 次" in refused
    audited = select(func.count()).where(AuditRecord.action == "audit_export")
    assert db.session.scalar(audited) == 2


def test_exports_are_not_counted_when_rate_limits_are_off(client: FlaskClient) -> None:
    make_submission(make_user(), submit=True)
    staff = make_user(Role.REVIEWER)
    login(client, staff.email, PASSWORD)
    form = {"csrf_token": csrf_token(client, "/exports/new"), "format": "csv"}
    assert {client.post("/exports/new", data=form).status_code for _ in range(12)} == {200}
