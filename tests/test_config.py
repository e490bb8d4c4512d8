"""Configuration: production refuses unsafe settings; SQLite connections are set up safely."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text

from feedback import create_app
from feedback.config import ConfigError
from feedback.extensions import db

GOOD_KEY = "k" * 40
GOOD_FIELD_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="  # 32 bytes, base64url


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("FEEDBACK_SECRET_KEY", "FEEDBACK_DATABASE_URL", "FEEDBACK_TRUSTED_HOSTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FEEDBACK_DATABASE_URL", f"sqlite:///{tmp_path / 'x.sqlite3'}")
    monkeypatch.setenv("FEEDBACK_FIELD_KEYS", GOOD_FIELD_KEY)


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "FEEDBACK_SECRET_KEY"),
        ({"FEEDBACK_SECRET_KEY": "short"}, "32"),
        ({"FEEDBACK_SECRET_KEY": GOOD_KEY}, "TRUSTED_HOSTS"),
        (
            {
                "FEEDBACK_SECRET_KEY": GOOD_KEY,
                "FEEDBACK_TRUSTED_HOSTS": "a.cn",
                "FEEDBACK_FIELD_KEYS": "",
            },
            "生产环境必须设置 FEEDBACK_FIELD_KEYS",
        ),
        (
            {
                "FEEDBACK_SECRET_KEY": GOOD_KEY,
                "FEEDBACK_TRUSTED_HOSTS": "a.cn",
                "FEEDBACK_FIELD_KEYS": f"{GOOD_FIELD_KEY},short",
            },
            "第 2 个密钥无效",
        ),
    ],
)
def test_production_refuses_to_start_unsafely(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match=message):
        create_app("production")


@pytest.mark.usefixtures("clean_env")
def test_production_refuses_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDBACK_SECRET_KEY", GOOD_KEY)
    monkeypatch.setenv("FEEDBACK_TRUSTED_HOSTS", "feedback.cpcif.org.cn")
    with pytest.raises(ConfigError, match="DEBUG"):
        create_app("production", {"DEBUG": True})


@pytest.mark.usefixtures("clean_env")
def test_production_starts_with_safe_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDBACK_SECRET_KEY", GOOD_KEY)
    monkeypatch.setenv("FEEDBACK_TRUSTED_HOSTS", "feedback.cpcif.org.cn")
    app = create_app("production")
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["TRUSTED_HOSTS"] == ["feedback.cpcif.org.cn"]
    response = app.test_client().get("/healthz", base_url="https://evil.example")
    assert response.status_code == 400  # unknown Host header


@pytest.mark.usefixtures("clean_env")
def test_production_trusts_one_proxy_hop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDBACK_SECRET_KEY", GOOD_KEY)
    monkeypatch.setenv("FEEDBACK_TRUSTED_HOSTS", "localhost")
    app = create_app("production")
    seen: list[str | None] = []

    @app.route("/ip-probe")
    def probe() -> str:
        from flask import request

        seen.append(request.remote_addr)
        return ""

    from feedback.security import PUBLIC_ENDPOINTS

    app.before_request_funcs[None].clear()  # only the proxy handling is under test here
    assert "probe" not in PUBLIC_ENDPOINTS
    app.test_client().get("/ip-probe", headers={"X-Forwarded-For": "6.6.6.6, 10.1.2.3"})
    assert seen == ["10.1.2.3"]


@pytest.mark.usefixtures("clean_env")
def test_wsgi_entry_point_defaults_to_production(monkeypatch: pytest.MonkeyPatch) -> None:
    """A gunicorn started without configuration refuses to serve with development settings."""
    import runpy

    monkeypatch.delenv("FEEDBACK_ENV", raising=False)
    wsgi = str(Path(__file__).resolve().parent.parent / "wsgi.py")
    with pytest.raises(ConfigError, match="FEEDBACK_SECRET_KEY"):
        runpy.run_path(wsgi)
    monkeypatch.setenv("FEEDBACK_SECRET_KEY", GOOD_KEY)
    monkeypatch.setenv("FEEDBACK_TRUSTED_HOSTS", "feedback.cpcif.org.cn")
    assert runpy.run_path(wsgi)["app"].config["ENV_NAME"] == "production"
    monkeypatch.setenv("FEEDBACK_ENV", "development")
    assert runpy.run_path(wsgi)["app"].config["ENV_NAME"] == "development"


def test_make_run_opts_into_development() -> None:
    makefile = (Path(__file__).resolve().parent.parent / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "FEEDBACK_ENV=development" in recipe and "gunicorn" in recipe


def test_development_key_is_random_kept_in_instance_and_shared(tmp_path: Path) -> None:
    from feedback.config import instance_secret_key

    first = instance_secret_key(tmp_path / "a")
    assert len(first) == 64
    assert instance_secret_key(tmp_path / "a") == first  # every worker process gets the same
    assert instance_secret_key(tmp_path / "b") != first
    assert (tmp_path / "a" / "secret_key").stat().st_mode & 0o777 == 0o600


def test_sqlite_connections_are_configured(app: Flask) -> None:
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite pragmas")
    with db.engine.connect() as connection:
        values = {
            name: connection.execute(text(f"PRAGMA {name}")).scalar()
            for name in (
                "journal_mode",
                "foreign_keys",
                "secure_delete",
                "synchronous",
                "busy_timeout",
            )
        }
    assert values["journal_mode"] == "wal"
    assert values["foreign_keys"] == 1
    assert values["secure_delete"] == 1
    assert values["synchronous"] == 1  # NORMAL
    assert int(values["busy_timeout"] or 0) >= 5000


def test_foreign_keys_are_enforced(app: Flask) -> None:
    from sqlalchemy.exc import IntegrityError

    orphan = text("INSERT INTO user_role (user_id, role) VALUES (999999, 'submitter')")
    with pytest.raises(IntegrityError):
        db.session.execute(orphan)
    db.session.rollback()


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A throwaway redis-server on a free loopback port (skipped where Redis is not installed)."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    pytest.importorskip("redis")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [
        server,
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_login_throttle_is_shared_by_workers_through_redis(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    """The per-IP login limit held in Redis is one budget for every worker (SECURITY.md row 3).

    With ``FEEDBACK_RATELIMIT_STORAGE_URI=redis://…`` as the deployment guide says, two app
    instances (two gunicorn workers, or two hosts) count the same client together.
    """
    overrides = {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "UPLOAD_DIR": str(tmp_path / "uploads"),
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": redis_url,
        "RATELIMIT_LOGIN": "3 per minute",
        "WTF_CSRF_ENABLED": False,
    }
    workers = [create_app("testing", overrides), create_app("testing", overrides)]
    form = {"email": "nobody@example.cn", "password": "wrong-password-1"}
    statuses = [
        workers[n % 2].test_client().post("/auth/login", data=form).status_code for n in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    for worker in workers:
        with worker.app_context():
            db.engine.dispose()


@pytest.mark.usefixtures("clean_env")
def test_login_rate_limit_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDBACK_SECRET_KEY", GOOD_KEY)
    assert create_app("development").config["RATELIMIT_LOGIN"] == "20 per minute"
    monkeypatch.setenv("FEEDBACK_RATELIMIT_LOGIN", "1000 per minute")
    assert create_app("development").config["RATELIMIT_LOGIN"] == "1000 per minute"


@pytest.mark.parametrize("place", ["upload", "database"])
def test_production_refuses_data_under_the_web_root(
    monkeypatch: pytest.MonkeyPatch, place: str
) -> None:
    monkeypatch.setenv("FEEDBACK_SECRET_KEY", GOOD_KEY)
    monkeypatch.setenv("FEEDBACK_TRUSTED_HOSTS", "feedback.cpcif.org.cn")
    static = Path(__file__).resolve().parent.parent / "static"
    if place == "upload":
        monkeypatch.setenv("FEEDBACK_UPLOAD_DIR", str(static / "uploads"))
        name = "FEEDBACK_UPLOAD_DIR"
    else:
        monkeypatch.setenv("FEEDBACK_DATABASE_URL", f"sqlite:///{static / 'x' / '..' / 'f.db'}")
        name = "FEEDBACK_DATABASE_URL"
    with pytest.raises(ConfigError, match=f"{name} .*静态目录"):
        create_app("production")


@pytest.mark.usefixtures("clean_env")
def test_production_takes_secret_key_fallbacks_and_refuses_short_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FEEDBACK_SECRET_KEY", GOOD_KEY)
    monkeypatch.setenv("FEEDBACK_TRUSTED_HOSTS", "feedback.cpcif.org.cn")
    monkeypatch.setenv("FEEDBACK_SECRET_KEY_FALLBACKS", f"{'a' * 40}, {'b' * 40}")
    assert create_app("production").config["SECRET_KEY_FALLBACKS"] == ["a" * 40, "b" * 40]
    monkeypatch.setenv("FEEDBACK_SECRET_KEY_FALLBACKS", f"{'a' * 40},short")
    with pytest.raises(ConfigError, match="FEEDBACK_SECRET_KEY_FALLBACKS"):
        create_app("production")


def test_sessions_survive_a_secret_key_rotation_through_the_fallbacks(app: Flask) -> None:
    from tests.conftest import login
    from tests.factories import PASSWORD, make_user

    make_user(email="rotate@park.cn")
    client = app.test_client()
    assert login(client, "rotate@park.cn", PASSWORD).status_code == 302
    assert client.get("/").status_code == 200
    old = app.config["SECRET_KEY"]

    app.config["SECRET_KEY"] = "a-brand-new-secret-key-of-sufficient-length-0123"
    assert client.get("/").status_code == 302  # without the old key the session is gone

    app.config["SECRET_KEY_FALLBACKS"] = [old]
    assert client.get("/").status_code == 200


@pytest.mark.usefixtures("clean_env")
def test_production_session_cookie_is_a_host_cookie(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    import re
    from http.cookies import SimpleCookie

    from tests.conftest import IsolatedClient
    from tests.factories import PASSWORD, make_user

    user = make_user()
    monkeypatch.setenv("FEEDBACK_SECRET_KEY", GOOD_KEY)
    monkeypatch.setenv("FEEDBACK_TRUSTED_HOSTS", "feedback.cpcif.org.cn")
    monkeypatch.setenv("FEEDBACK_DATABASE_URL", app.config["SQLALCHEMY_DATABASE_URI"])
    production = create_app("production")
    production.test_client_class = IsolatedClient
    client = production.test_client()
    site = "https://feedback.cpcif.org.cn"
    try:
        page = client.get("/auth/login", base_url=site).get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
        assert token, page
        response = client.post(
            "/auth/login",
            base_url=site,
            headers={"Referer": f"{site}/auth/login"},
            data={"csrf_token": token.group(1), "email": user.email, "password": PASSWORD},
        )
        assert response.status_code == 302 and response.headers["Location"] == "/"
        [header] = [h for h in response.headers.getlist("Set-Cookie") if "session" in h]
        cookie = SimpleCookie()
        cookie.load(header)
        [(name, morsel)] = cookie.items()
        assert name == "__Host-feedback_session"
        assert morsel["secure"] and morsel["httponly"] and morsel["samesite"] == "Lax"
        assert morsel["path"] == "/" and not morsel["domain"]
        # The session is read back under that name.
        assert client.get("/", base_url=site).status_code == 200
    finally:
        with production.app_context():
            db.engine.dispose()
    development = create_app("development")
    assert development.config["SESSION_COOKIE_NAME"] == "feedback_session"  # plain HTTP works


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize(
    "setting", [{"SESSION_COOKIE_DOMAIN": "cpcif.org.cn"}, {"SESSION_COOKIE_PATH": "/app"}]
)
def test_production_refuses_a_host_cookie_with_domain_or_path(
    monkeypatch: pytest.MonkeyPatch, setting: dict[str, str]
) -> None:
    monkeypatch.setenv("FEEDBACK_SECRET_KEY", GOOD_KEY)
    monkeypatch.setenv("FEEDBACK_TRUSTED_HOSTS", "feedback.cpcif.org.cn")
    with pytest.raises(ConfigError, match="__Host-"):
        create_app("production", setting)
