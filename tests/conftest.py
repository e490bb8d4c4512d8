"""Fixtures: a fresh app and database per test, on SQLite and (when configured) PostgreSQL.

The SQLite template is built once per run by the real migrations and copied per test; PostgreSQL
is migrated once per run and its tables truncated before each test.
"""

from __future__ import annotations

import contextvars
import logging
import os
import re
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, has_app_context
from flask.testing import FlaskClient, FlaskCliRunner
from flask_migrate import upgrade
from sqlalchemy import create_engine, event, text

from feedback import create_app
from feedback.extensions import db

PG_URL = os.environ.get("FEEDBACK_TEST_DATABASE_URL", "")
BACKENDS = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]


@pytest.fixture(autouse=True)
def _app_log_handler_removed() -> Iterator[None]:
    """An app made with LOG_FORMAT set (production, say) puts its handler on the root logger;
    it goes with the test, and the root level comes back, so no test sees another's logging."""
    from feedback.logs import remove_handlers

    level = logging.getLogger().level
    yield
    remove_handlers()
    logging.getLogger().setLevel(level)


def _make_app(url: str, tmp_path: Path, **overrides: Any) -> Flask:
    config = {
        "SQLALCHEMY_DATABASE_URI": url,
        "UPLOAD_DIR": str(tmp_path / "uploads"),
        **overrides,
    }
    return create_app("testing", config)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database file, self-contained (no WAL), to copy per test."""
    folder = tmp_path_factory.mktemp("template")
    path = folder / "template.sqlite3"
    app = _make_app(f"sqlite:///{path}", folder)
    with app.app_context():
        upgrade()
        db.engine.dispose()
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.execute("PRAGMA journal_mode=DELETE")
    return path


@pytest.fixture(scope="session")
def postgres_migrated(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The PostgreSQL test database, emptied and migrated once per run."""
    engine = create_engine(PG_URL)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    app = _make_app(PG_URL, tmp_path_factory.mktemp("pg"))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return PG_URL


def _truncate_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        tables = connection.scalars(
            text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version'"
            )
        ).all()
        if tables:
            names = ", ".join(f'"{name}"' for name in tables)
            # The audit tables refuse TRUNCATE (append-only triggers); replica mode, for the
            # superuser running the tests only, skips triggers in this transaction.
            connection.execute(text("SET LOCAL session_replication_role = replica"))
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, migrated, empty database for this test."""
    if request.param == "sqlite":
        path = tmp_path / "feedback.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_migrated")
    _truncate_postgres(url)
    return url


class IsolatedClient(FlaskClient):
    """Runs each request in its own context, as in production.

    The test keeps an application context pushed for its own database work; without this, Flask
    would reuse it for every request, sharing ``g`` and the database session between requests.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        # End the test's own transaction first: on SQLite it may hold the write lock, and
        # afterwards the test reads what the request wrote rather than a stale snapshot.
        if has_app_context():  # not while following a redirect inside the request's context
            db.session.commit()
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """A fresh application per test, with an application context pushed."""
    application = _make_app(database_url, tmp_path)
    application.test_client_class = IsolatedClient
    with application.app_context():
        yield application
        # Background jobs of the thread fallback (an import's similarity job, say) finish on
        # this test's database before it goes, not on the next test's.
        for thread in threading.enumerate():
            if thread.name.startswith("job-"):
                thread.join(timeout=30)
        db.session.remove()
        db.engine.dispose()


REDIS_TEST_URL = os.environ.get("FEEDBACK_TEST_REDIS_URL", "redis://127.0.0.1:6379/8")


@pytest.fixture
def job_queue(app: Flask) -> Iterator[Any]:
    """Background jobs on RQ for this test: Redis DB 8, a queue of the test's own (emptied
    afterwards). Skips when Redis is unreachable (CI has it)."""
    import uuid

    from redis import Redis
    from redis.exceptions import RedisError

    from feedback import jobs

    try:
        Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=1).ping()
    except RedisError:
        pytest.skip(f"Redis unreachable at {REDIS_TEST_URL}")
    app.config["JOB_QUEUE_URL"] = REDIS_TEST_URL
    app.config["JOB_QUEUE_NAME"] = f"test-{uuid.uuid4().hex}"
    queue = jobs.queue(app)
    yield queue
    queue.delete(delete_jobs=True)
    queue.connection.close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class IsolatedRunner(FlaskCliRunner):
    """Ends the test's own transaction before a command runs (see :class:`IsolatedClient`)."""

    def invoke(self, *args: Any, **kwargs: Any) -> Any:
        db.session.commit()
        return super().invoke(*args, **kwargs)


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    app.test_cli_runner_class = IsolatedRunner
    return app.test_cli_runner()


_CSRF = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|'
    r'name="csrf_token" value="([^"]+)"'
)


def csrf_token(client: FlaskClient, page: str) -> str:
    """The CSRF token of the form on ``page`` (fetched as the client's session sees it)."""
    response = client.get(page)
    match = _CSRF.search(response.get_data(as_text=True))
    assert match, f"no CSRF token on {page} ({response.status_code})"
    return match.group(1) or match.group(2)


def post_form(
    client: FlaskClient,
    url: str,
    data: dict[str, Any],
    *,
    page: str | None = None,
    follow_redirects: bool = False,
) -> Any:
    """POST ``data`` to ``url`` with the CSRF token of the form on ``page`` (default ``url``)."""
    token = csrf_token(client, page or url)
    return client.post(url, data={**data, "csrf_token": token}, follow_redirects=follow_redirects)


def login(client: FlaskClient, email: str, password: str, *, code: str | None = None) -> Any:
    """Log in through the login form; returns the last response (not followed).

    When the password is right and the user has a second factor, the code step is completed
    too, with ``code`` or else the authenticator's current code (see ``factories.totp_code``).
    """
    response = post_form(client, "/auth/login", {"email": email, "password": password})
    if response.status_code == 302 and response.headers["Location"] == "/auth/mfa":
        from tests.factories import totp_code

        code = code if code is not None else totp_code(email)
        response = post_form(client, "/auth/mfa", {"code": code})
    return response


@contextmanager
def transaction_begins() -> Iterator[list[str]]:
    """The BEGIN statements (``BEGIN`` or ``BEGIN IMMEDIATE`` on SQLite) run inside the block."""
    begins: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.startswith("BEGIN"):
            begins.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield begins
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
