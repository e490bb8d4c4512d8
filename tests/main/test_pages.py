"""Health checks, the login wall, error pages, security headers and the language switch."""

from __future__ import annotations

import logging
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule

from feedback.models import Role
from feedback.security import PUBLIC_ENDPOINTS
from tests.conftest import login, post_form
from tests.factories import PASSWORD, make_user


def test_healthz_and_readyz(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    response = client.get("/readyz")
    assert response.status_code == 200 and response.get_json() == {"status": "ready"}


def test_readyz_reports_an_unreachable_database(app: Flask, tmp_path: object) -> None:
    from sqlalchemy import create_engine

    from feedback.extensions import db

    with app.app_context():
        original = db.engines[None]
        db._app_engines[app][None] = create_engine("sqlite:////nonexistent/dir/x.sqlite3")
        try:
            response = app.test_client().get("/readyz")
        finally:
            db._app_engines[app][None] = original
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable"}


def _example_url(app: Flask, rule: Rule) -> str:
    """A URL that matches ``rule``: 1 for numbers, the first choice of an any() converter."""
    values: dict[str, object] = {}
    for name, converter in rule._converters.items():
        choices = getattr(converter, "items", None)
        values[name] = sorted(choices)[0] if choices else 1
    return app.url_map.bind("localhost").build(rule.endpoint, values)


def test_every_route_requires_login_except_the_allowlist(app: Flask) -> None:
    client = app.test_client()
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        url = _example_url(app, rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method)
            # GET: redirect to login; POST without a session: CSRF refuses first (400).
            assert response.status_code in (302, 400), (rule.rule, method, response.status_code)
            if response.status_code == 302:
                assert "/auth/login" in response.headers["Location"]
            checked += 1
    assert checked >= 15


def test_not_found_page_is_chinese_and_hides_internals(client: FlaskClient) -> None:
    response = client.get("/no/such/page")
    body = response.get_data(as_text=True)
    assert response.status_code == 404 and "页面不存在" in body


def test_server_error_shows_an_incident_id_and_no_traceback(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    @app.route("/boom")
    def boom() -> str:
        raise RuntimeError("secret internals sqlalchemy")

    app.view_functions["boom"] = boom
    user = make_user()
    client = app.test_client()
    login(client, user.email, PASSWORD)
    assert "boom" not in PUBLIC_ENDPOINTS
    with caplog.at_level(logging.ERROR):
        response = client.get("/boom")
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Traceback" not in body and "sqlalchemy" not in body and "secret" not in body
    incident = re.search(r"问题编号：([0-9a-f]{12})", body)
    assert incident and incident.group(1) in caplog.text


@pytest.mark.parametrize("path", ["/auth/login", "/healthz", "/no/such/page"])
def test_security_headers_on_every_response(client: FlaskClient, path: str) -> None:
    headers = client.get(path).headers
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "unsafe-inline" not in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_authenticated_pages_are_not_cached_and_hsts_on_https(client: FlaskClient) -> None:
    user = make_user()
    login(client, user.email, PASSWORD)
    assert client.get("/").headers["Cache-Control"] == "no-store"
    https = client.get("/auth/login", base_url="https://localhost")
    assert https.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_templates_contain_no_inline_script() -> None:
    from pathlib import Path

    for path in Path("templates").rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), path
        assert not re.search(r"\son[a-z]+=", text), path
        assert "|safe" not in text, path


def test_static_assets_are_vendored_not_from_a_cdn() -> None:
    from pathlib import Path

    for path in Path("templates").rglob("*.html"):
        assert not re.search(r"(src|href)=\"https?://", path.read_text(encoding="utf-8")), path


def test_language_switch_to_english(client: FlaskClient) -> None:
    user = make_user(Role.ADMIN)
    login(client, user.email, PASSWORD)
    post_form(client, "/language", {"lang": "en", "next": "/"}, page="/")
    page = client.get("/").get_data(as_text=True)
    assert '<html lang="en">' in page
    assert "Dashboard" in page and "工作台" not in page
    post_form(client, "/language", {"lang": "zh_CN", "next": "/"}, page="/")
    assert "工作台" in client.get("/").get_data(as_text=True)


def test_dashboard_shows_platform_counts_to_staff_only(client: FlaskClient) -> None:
    submitter = make_user()
    login(client, submitter.email, PASSWORD)
    assert "在用单位" not in client.get("/").get_data(as_text=True)
    admin = make_user(Role.ADMIN)
    other = client.application.test_client()
    login(other, admin.email, PASSWORD)
    assert "在用单位" in other.get("/").get_data(as_text=True)


def test_oversized_request_gets_a_friendly_413(client: FlaskClient) -> None:
    client.application.config["MAX_CONTENT_LENGTH"] = 1024
    response = client.post("/auth/login", data={"email": "x" * 4096, "password": "y"})
    body = response.get_data(as_text=True)
    assert response.status_code == 413
    assert "文件过大" in body and "20 MB" in body
