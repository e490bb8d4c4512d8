"""Benchmarks: seed a fresh database, time the pages people use, record the results.

Run with ``python -m bench.run`` (or ``FEEDBACK_BENCH_INPROCESS=1 make bench``, after the gunicorn
load test of ``bench/load_bench.py``). Uses SQLite in a temporary folder by default, PostgreSQL when
``FEEDBACK_BENCH_DATABASE_URL`` is set. Times are measured inside the app (Flask test client, no
network), so they show what the server spends per request. Results are appended to
``bench/RESULTS.md`` with the machine's facts, keeping earlier runs for comparison.
"""

from __future__ import annotations

import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.common import (
    add_section,
    busiest_park_submitter,
    logged_in_client,
    make_app,
    percentile,
    seed,
)
from feedback.extensions import db

REQUESTS = int(os.environ.get("FEEDBACK_BENCH_REQUESTS", "300"))
SUBMISSIONS = int(os.environ.get("FEEDBACK_BENCH_SUBMISSIONS", "100000"))


def _time_page(client: object, path: str) -> dict[str, float]:
    samples = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        response = client.get(path)  # type: ignore[attr-defined]
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return {
        "p50": statistics.median(samples),
        "p95": percentile(samples, 0.95),
        "p99": percentile(samples, 0.99),
        "rps": 1000 / statistics.mean(samples),
    }


def main() -> None:
    """Run every benchmark and append the results."""
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(Path(tmp))
        with app.app_context():
            seeded = seed(app, SUBMISSIONS)
            email, password = seeded.reviewer_email, seeded.password
            database = db.engine.dialect.name
            park_email = busiest_park_submitter()
            from sqlalchemy import select

            from feedback.models import Submission, User

            park_user = db.session.scalars(select(User).where(User.email == park_email)).one()
            detail_id = db.session.scalar(
                select(Submission.id)
                .where(Submission.organisation_id == park_user.organisation_id)
                .limit(1)
            )
            db.session.remove()
        client = logged_in_client(app, email, password)
        park = logged_in_client(app, park_email, password)
        pages = {
            "login page (anonymous)": ("/auth/login", app.test_client()),
            "reviewer dashboard": ("/", client),
            "organisation profile with members": ("/organisations/1", client),
            "park home (campaigns, counts)": ("/", park),
            "park submissions list, page 1": ("/submissions/", park),
            "park submissions list, search 停车": ("/submissions/?q=停车", park),
            "submission detail with history": (f"/submissions/{detail_id}", park),
        }
        rows = {name: _time_page(c, path) for name, (path, c) in pages.items()}
    _record(database, f"{seeded.what}: {seeded.seconds:.2f} s", rows)


def _record(database: str, seeding: str, rows: dict[str, dict[str, float]]) -> None:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"## {now} · {database}",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
        f"SQLite {sqlite3.sqlite_version}. Server-side (Flask test client), {REQUESTS} requests "
        "per page, one client.",
        "",
        f"- `seed-demo`, one transaction ({seeding})",
        "",
        "| page | p50 ms | p95 ms | p99 ms | requests/s (one client) |",
        "| --- | --- | --- | --- | --- |",
        *(
            f"| {name} | {r['p50']:.2f} | {r['p95']:.2f} | {r['p99']:.2f} | {r['rps']:.0f} |"
            for name, r in rows.items()
        ),
        "",
    ]
    add_section("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
