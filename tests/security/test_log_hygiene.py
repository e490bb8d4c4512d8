"""Log hygiene (SECURITY.md row 33): no secret and no submission text ever reaches a log."""

from __future__ import annotations

import io
import logging

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from feedback.extensions import db
from feedback.models import Role
from tests.api.conftest import bearer, token_for
from tests.conftest import csrf_token, post_form
from tests.factories import PASSWORD, make_user, totp_code
from tests.filing.test_views import PDF, _form

DESCRIPTION = (
    "日志卫生检验：储罐区第七号罐的呼吸阀连续三周未做校验，"
    "现场负责人称“等大修时一并处理”，这段原文不得出现在任何日志里。"
)


def test_logs_hold_no_password_code_cookie_token_or_report_text(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    @app.route("/_log_hygiene_boom", methods=["POST"])
    def boom() -> str:
        # A database error whose statement carries the report's text as a parameter.
        db.session.execute(text("INSERT INTO no_such_table VALUES (:v)"), {"v": DESCRIPTION})
        return ""

    caplog.set_level(logging.DEBUG)
    reviewer = make_user(Role.REVIEWER, email="log.reviewer@cpcif.org.cn")
    submitter = make_user(email="log.submitter@park.cn")
    token = token_for(submitter, "read")
    secrets_seen: list[str] = [PASSWORD, token]

    # A staff login with password and TOTP code.
    response = post_form(
        client, "/auth/login", {"email": "log.reviewer@cpcif.org.cn", "password": PASSWORD}
    )
    assert response.headers["Location"] == "/auth/mfa"
    code = totp_code(reviewer.email)
    secrets_seen.append(code)
    response = post_form(client, "/auth/mfa", {"code": code})
    assert response.status_code == 302
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    secrets_seen.append(cookie.value)
    client.post("/auth/logout", data={"csrf_token": csrf_token(client, "/")})

    # A wrong password for good measure (failures are where secrets tend to be logged).
    post_form(
        client, "/auth/login", {"email": "log.submitter@park.cn", "password": "Wr0ng-" + PASSWORD}
    )

    # An API call with a bearer token.
    assert client.get("/api/v1/organisations", headers=bearer(token)).status_code == 200

    # A filing with an attachment, by the submitter.
    post_form(client, "/auth/login", {"email": "log.submitter@park.cn", "password": PASSWORD})
    data = _form(
        client,
        "/submissions/new?kind=problem",
        description=DESCRIPTION,
        attachments=[(io.BytesIO(PDF), "报告.pdf")],
        action="submit",
    )
    secrets_seen.append(data["csrf_token"])
    response = client.post(
        "/submissions/new/problem", data=data, content_type="multipart/form-data"
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    secrets_seen.append(cookie.value)

    # A server error with the report's text inside the failing statement.
    response = client.post("/_log_hygiene_boom", data={"csrf_token": csrf_token(client, "/")})
    assert response.status_code == 500
    assert "unhandled error" in caplog.text  # the error was logged, with its incident id

    logged = caplog.text + "\n".join(str(r.args) for r in caplog.records)
    for secret in secrets_seen:
        assert secret not in logged
    assert DESCRIPTION not in logged
    assert DESCRIPTION[:20] not in logged
