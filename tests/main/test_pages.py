"""Health checks, the login wall, error pages, security headers and the language switch."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.datastructures import MultiDict
from werkzeug.routing import Rule
from werkzeug.test import TestResponse, encode_multipart

from feedback.api.core import PUBLIC_ENDPOINTS as API_PUBLIC_ENDPOINTS
from feedback.models import Role
from feedback.paging import int_arg, page_arg, register_converters
from feedback.security import PUBLIC_ENDPOINTS
from tests.conftest import csrf_token, login, post_form
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
    assert response.get_json() == {"status": "unavailable", "failed": ["database"]}


def test_readyz_reports_migrations_behind_the_code(app: Flask) -> None:
    from sqlalchemy import text

    from feedback.extensions import db

    head = db.session.scalar(text("SELECT version_num FROM alembic_version"))
    db.session.execute(text("UPDATE alembic_version SET version_num = 'cd6e7f8a9b0d'"))
    db.session.commit()
    try:
        response = app.test_client().get("/readyz")
    finally:  # PostgreSQL keeps alembic_version between tests
        db.session.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
        db.session.commit()
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "failed": ["migrations"]}
    assert app.test_client().get("/readyz").status_code == 200


def test_readyz_reports_an_unwritable_upload_folder(app: Flask, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_bytes(b"")
    app.config["UPLOAD_DIR"] = str(blocker / "uploads")  # even root cannot create it
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    # The disk check looks under the same missing folder, so it cannot answer either.
    assert response.get_json() == {"status": "unavailable", "failed": ["upload_dir", "disk"]}


def test_readyz_creates_the_upload_folder_and_leaves_nothing(app: Flask, tmp_path: Path) -> None:
    folder = tmp_path / "fresh-uploads"
    app.config["UPLOAD_DIR"] = str(folder)
    assert app.test_client().get("/readyz").status_code == 200
    assert folder.is_dir() and list(folder.iterdir()) == []


def test_readyz_reports_low_free_disk(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil
    from types import SimpleNamespace

    mb = 1024 * 1024
    app.config["READYZ_MIN_FREE_MB"] = 500

    def usage(free_mb: int) -> object:
        return lambda _path: SimpleNamespace(total=100_000 * mb, used=0, free=free_mb * mb)

    monkeypatch.setattr(shutil, "disk_usage", usage(499))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "failed": ["disk"]}
    monkeypatch.setattr(shutil, "disk_usage", usage(500))
    assert app.test_client().get("/readyz").status_code == 200


def test_readyz_pings_clamd_when_scanning_is_configured(app: Flask, tmp_path: Path) -> None:
    import socket
    import threading

    from feedback.filing import scanning

    path = str(tmp_path / "clamd.sock")
    scanning.install_scanner(app, scanning.ClamdScanner(path, timeout=2))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "failed": ["scanner"]}

    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen()
    pings: list[bytes] = []

    def answer() -> None:
        connection, _address = server.accept()
        with connection:
            pings.append(connection.recv(64))
            connection.sendall(b"PONG\0")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        assert app.test_client().get("/readyz").get_json() == {"status": "ready"}
    finally:
        thread.join(timeout=5)
        server.close()
    assert pings == [b"zPING\0"]


def _example_url(app: Flask, rule: Rule) -> str:
    """A URL that matches ``rule``: 1 for numbers, the first choice of an any() converter."""
    values: dict[str, object] = {}
    for name, converter in rule._converters.items():
        choices = getattr(converter, "items", None)
        values[name] = sorted(choices)[0] if choices else 1
    return app.url_map.bind("localhost").build(rule.endpoint, values)


def test_every_route_requires_login_except_the_allowlist(app: Flask) -> None:
    client = app.test_client()
    # A valid anonymous CSRF token, so that a POST reaches the login wall instead of being
    # refused by CSRF protection first (a 400 would hide a route that skips the wall).
    token = csrf_token(client, "/auth/login")
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ENDPOINTS | API_PUBLIC_ENDPOINTS:
            continue
        url = _example_url(app, rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            data = None if method == "GET" else {"csrf_token": token}
            response = client.open(url, method=method, data=data)
            if rule.endpoint.startswith("api."):
                # The API's own wall: a bearer token or 401, never the login page.
                assert response.status_code == 401, (rule.rule, method, response.status_code)
            else:
                assert response.status_code == 302, (rule.rule, method, response.status_code)
                assert "/auth/login" in response.headers["Location"], (rule.rule, method)
            checked += 1
    assert checked >= 15


def test_forbidden_page_names_who_grants_access(client: FlaskClient) -> None:
    user = make_user()
    login(client, user.email, PASSWORD)
    response = client.get("/admin/users")
    body = response.get_data(as_text=True)
    assert response.status_code == 403
    assert "联合会系统管理员" in body and "本单位管理员" not in body


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


def test_form_field_size_and_part_count_are_limited(client: FlaskClient) -> None:
    """MAX_FORM_MEMORY_SIZE and MAX_FORM_PARTS (Flask 3.1): a multipart text field or form too
    large to be a real one is refused with the friendly 413 before it is read into memory.
    (Werkzeug applies neither to url-encoded bodies, which MAX_CONTENT_LENGTH bounds.)"""
    config = client.application.config
    assert (config["MAX_FORM_MEMORY_SIZE"], config["MAX_FORM_PARTS"]) == (512 * 1024, 500)
    longest = "长" * 10_000  # the longest text any form takes, 30 KB in UTF-8

    def post(data: dict[str, str]) -> TestResponse:
        # Encoded in memory: the test client would spool this body to a file it never closes.
        boundary, body = encode_multipart(MultiDict(data))
        multipart = f"multipart/form-data; boundary={boundary}"
        return client.post("/auth/login", data=body, content_type=multipart)

    too_long = post({"email": "x" * (512 * 1024 + 1)})
    too_many = post({f"f{n}": "1" for n in range(501)})
    fits = post({"email": longest, **{f"f{n}": "1" for n in range(499)}})

    assert too_long.status_code == 413 and "文件过大" in too_long.get_data(as_text=True)
    assert too_many.status_code == 413
    assert fits.status_code == 400  # read, then refused for its missing CSRF token


# -- oversized numbers in URLs ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", 1),
        ("3", 3),
        ("0", 1),
        ("-2", 1),
        ("abc", 1),
        ("1e3", 1),
        ("٣", 1),  # a non-ASCII digit
        ("99999999999999999999", 1),
        ("100001", 100_000),
        ("9" * 5000, 1),
    ],
)
def test_page_arg_clamps_and_ignores_junk(app: Flask, raw: str, expected: int) -> None:
    with app.test_request_context("/", query_string={"page": raw}):
        assert page_arg() == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", None),
        ("7", 7),
        ("2147483647", 2**31 - 1),
        ("2147483648", None),
        ("99999999999999999999", None),
        ("-1", None),
        ("1.5", None),
        ("x", None),
        (" 7", None),
    ],
)
def test_int_arg_is_digits_only_and_bounded(app: Flask, raw: str, expected: int | None) -> None:
    with app.test_request_context("/", query_string={"org": raw}):
        assert int_arg("org") == expected


def test_bounded_int_converter() -> None:
    app = Flask(__name__)
    register_converters(app)

    @app.route("/things/<int:thing_id>")
    def thing(thing_id: int) -> str:
        return str(thing_id)

    client = app.test_client()
    assert client.get("/things/2147483647").get_data(as_text=True) == "2147483647"
    for too_big in ("2147483648", "99999999999999999999", "9" * 5000):
        assert client.get(f"/things/{too_big}").status_code == 404


def test_oversized_id_in_a_url_is_not_found(client: FlaskClient) -> None:
    # Needs register_converters() in the application factory.
    user = make_user(Role.ADMIN)
    login(client, user.email, PASSWORD)
    assert client.get("/organisations/99999999999999999999").status_code == 404
