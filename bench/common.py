"""What the benchmarks share: a fresh database, the demo seed, a logged-in client, percentiles."""

from __future__ import annotations

import os
import platform
import re
import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, inspect, select, text

from feedback import create_app
from feedback.extensions import db

TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
RESULTS = Path(os.environ.get("FEEDBACK_BENCH_RESULTS") or Path(__file__).with_name("RESULTS.md"))


def add_section(section: str) -> None:
    """Append a dated section to ``bench/RESULTS.md`` (earlier ones are kept for comparison)."""
    with RESULTS.open("a", encoding="utf-8") as results:
        results.write("\n" + section.rstrip("\n") + "\n")


def percentile(samples: list[float], q: float) -> float:
    """The ``q`` quantile (0–1) of ``samples``, nearest rank."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def fresh_postgres(url: str) -> None:
    """Refuse a database that holds tables, unless told to empty it."""
    engine = create_engine(url)
    with engine.begin() as connection:
        tables = inspect(connection).get_table_names()
        if tables and os.environ.get("FEEDBACK_BENCH_RESET") != "1":
            sys.exit(
                f"{engine.url.database} has {len(tables)} tables; use an empty scratch database "
                "or set FEEDBACK_BENCH_RESET=1 to drop its public schema"
            )
        if tables:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def make_app(folder: Path, name: str = "bench", *, reuse: bool = False) -> Flask:
    """An app on ``FEEDBACK_BENCH_DATABASE_URL`` (emptied first, unless ``reuse``: a database
    an earlier run seeded), or SQLite in ``folder``."""
    url = os.environ.get("FEEDBACK_BENCH_DATABASE_URL") or f"sqlite:///{folder / name}.sqlite3"
    if url.startswith("postgresql") and not reuse:
        fresh_postgres(url)
    return create_app(
        "development",
        {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "b" * 40, "UPLOAD_DIR": str(folder)},
    )


@dataclass
class Seeded:
    """What ``seed-demo`` made, and a staff login to use."""

    reviewer_email: str
    password: str
    seconds: float
    what: str


def seed(app: Flask, submissions: int) -> Seeded:
    """``init`` then ``seed-demo --seed 1 --submissions N``, timed, through the real CLI."""
    runner = app.test_cli_runner()
    result = runner.invoke(args=["init"])
    assert result.exit_code == 0, result.output
    started = time.perf_counter()
    result = runner.invoke(args=["seed-demo", "--seed", "1", "--submissions", str(submissions)])
    seconds = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    password = re.search(r"密码（本次随机生成）：(\S+)", result.output)
    reviewer = re.search(r"reviewer\s+(\S+@\S+)", result.output)
    counts = re.search(r"新增单位 (\d+) 个，用户 (\d+) 个，材料 (\d+) 份", result.output)
    assert password and reviewer and counts, result.output
    what = f"{counts[1]} organisations, {counts[2]} users, {counts[3]} submissions"
    return Seeded(reviewer.group(1), password.group(1), seconds, what)


def fresh_totp(app: Flask, email: str) -> str:
    """The TOTP secret of ``email``, given one if they have none; its last used step forgotten.

    Staff must pass a second factor; forgetting the last step lets the current code be used again
    (a code is accepted once per 30-second step), so a benchmark can log in as often as it needs.
    """
    from feedback.auth.mfa import new_secret
    from feedback.models import User, utcnow

    with app.app_context():
        user = db.session.scalars(select(User).where(User.email == email)).one()
        if user.mfa_secret is None:
            user.mfa_secret = new_secret()
            user.mfa_enabled_at = utcnow()
        user.mfa_last_step = None
        secret = user.mfa_secret
        db.session.commit()
        db.session.remove()
    return secret


def logged_in_client(app: Flask, email: str, password: str) -> FlaskClient:
    """A test client with a session for ``email``.

    Staff must have a second factor (TOTP): one is given to the user directly here if they have
    none, and the code step of the login is completed with its current code.
    """
    import pyotp

    secret = fresh_totp(app, email)
    client = app.test_client()

    def post(path: str, data: dict[str, str]) -> Any:
        token = TOKEN.search(client.get(path).get_data(as_text=True))
        assert token, path
        return client.post(path, data={**data, "csrf_token": token[1]})

    login = post("/auth/login", {"email": email, "password": password})
    assert login.status_code == 302, login.get_data(as_text=True)
    if login.headers["Location"] == "/auth/mfa":
        second = post("/auth/mfa", {"code": pyotp.TOTP(secret).now()})
        assert second.status_code == 302, second.get_data(as_text=True)
    return client


def machine(database: str) -> str:
    """CPU, memory and versions, for the results file (call inside an app context)."""
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split("MemTotal:")[1].split()[0])
        memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    facts = (
        f"{platform.machine()}, {os.cpu_count()} cores{memory}, Python {sys.version.split()[0]}, "
        f"SQLite {sqlite3.sqlite_version}"
    )
    if database == "postgresql":
        version = db.session.scalar(text("SHOW server_version"))
        facts += f", PostgreSQL {version}"
    return facts


def busiest_park_submitter() -> str:
    """The submitter of the park with the most submissions (the heaviest list page)."""
    from sqlalchemy import func

    from feedback.models import Role, Submission, User, UserRole

    org_id = db.session.scalar(
        select(Submission.organisation_id)
        .group_by(Submission.organisation_id)
        .order_by(func.count().desc())
        .limit(1)
    )
    email = db.session.scalar(
        select(User.email)
        .join(UserRole)
        .where(User.organisation_id == org_id, UserRole.role == Role.SUBMITTER)
        .limit(1)
    )
    assert email
    return email
