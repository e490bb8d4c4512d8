"""Load test: the pages people use most, served by gunicorn, driven by wrk at 1, 10 and 50 clients.

Run with ``make bench`` (or ``python -m bench.load_bench``); needs ``wrk`` (Debian package). Steps:

1. seed a fresh database (``seed-demo --submissions N``; SQLite in a temporary folder, or
   PostgreSQL when ``FEEDBACK_BENCH_DATABASE_URL`` is set — that database is emptied first, see
   ``bench/common.py``) and freeze one ministry report with a few items, for the workbook download;
2. start ``gunicorn wsgi:app`` on 127.0.0.1 and a free port with ``FEEDBACK_ENV=development`` (as
   ``make run``: request handling is the same as production, without the HTTPS-only cookie and the
   proxy header), 2 sync workers, the access log recording each request's time (``%(D)s``), and
   ``FEEDBACK_RATELIMIT_LOGIN`` raised so that the benchmark's own logins are not throttled;
3. log in once per role (the submitter of the busiest park; a reviewer and the compiler, with their
   TOTP second factor) with httpx, check that every page answers 200, then run wrk with the session
   cookie for each page at each number of clients, each run bounded in time; the Lua script
   ``bench/wrk_report.lua`` prints p50/p95/p99, the count and the errors as JSON;
4. time full logins (GET the form, POST it with its CSRF token): wrk cannot follow a per-connection
   CSRF token, so a small thread pool of httpx clients does a bounded number of them;
5. append a section to ``bench/RESULTS.md``: machine, database, gunicorn settings, page × clients →
   requests/s, client-side p50/p95/p99, errors, server-side p50/p95 from the access log, and the
   slowest page with the SQL it spends its time in (one request in process, statements timed).

Environment (all optional):

- ``FEEDBACK_BENCH_SUBMISSIONS`` — submissions to seed (default 100000)
- ``FEEDBACK_BENCH_SECONDS`` — length of each wrk run (default 10)
- ``FEEDBACK_BENCH_CLIENTS`` — comma-separated client counts (default ``1,10,50``; the queue page is
  also run at 16, the goal of PERFORMANCE.md §6)
- ``FEEDBACK_BENCH_WORKERS`` / ``FEEDBACK_BENCH_WORKER_CLASS`` / ``FEEDBACK_BENCH_THREADS`` —
  gunicorn workers (default 2), class (default ``sync``; ``gthread`` to compare) and threads
  per worker for ``gthread`` (default 4)
- ``FEEDBACK_BENCH_LOGINS`` — full logins per concurrency level (default 40)
- ``FEEDBACK_BENCH_PAGES`` — comma-separated page keys to run (default: all; see ``pages()``)
- ``FEEDBACK_BENCH_INPROCESS=1`` — afterwards also run ``bench.run`` (Flask test client timings in
  process, on a second freshly seeded database)
- ``FEEDBACK_BENCH_DATABASE_URL``, ``FEEDBACK_BENCH_RESET``, ``FEEDBACK_BENCH_RESULTS`` — see
  ``bench/common.py``
"""

from __future__ import annotations

import cProfile
import json
import os
import pstats
import re
import shutil
import signal
import socket
import subprocess  # nosec B404 - runs gunicorn and wrk, fixed arguments
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx
import pyotp
from flask import Flask
from sqlalchemy import event, select

from bench.common import (
    TOKEN,
    add_section,
    busiest_park_submitter,
    fresh_totp,
    machine,
    make_app,
    percentile,
    seed,
)
from feedback.extensions import db

ROOT = Path(__file__).resolve().parent.parent
LUA = Path(__file__).with_name("wrk_report.lua")
SUBMISSIONS = int(os.environ.get("FEEDBACK_BENCH_SUBMISSIONS", "100000"))
SECONDS = int(os.environ.get("FEEDBACK_BENCH_SECONDS", "10"))
CLIENTS = [int(n) for n in os.environ.get("FEEDBACK_BENCH_CLIENTS", "1,10,50").split(",")]
QUEUE_CLIENTS = 16  # PERFORMANCE.md §6: ≥ 300 requests/s, p99 ≤ 100 ms at 16 clients
WORKERS = int(os.environ.get("FEEDBACK_BENCH_WORKERS", "2"))
WORKER_CLASS = os.environ.get("FEEDBACK_BENCH_WORKER_CLASS", "sync")
THREADS = int(os.environ.get("FEEDBACK_BENCH_THREADS", "4"))
LOGINS = int(os.environ.get("FEEDBACK_BENCH_LOGINS", "40"))
SECRET_KEY = "b" * 40  # the key make_app uses, so both processes sign sessions alike
LOGIN_LIMIT = "100000 per minute"
# One browser: the login and wrk send the same User-Agent. Flask-Login's session protection
# marks a session no longer fresh (and so re-signs its cookie) when the agent changes; wrk
# replays the cookie of the login, so with another agent every request would be re-signed.
USER_AGENT = "Mozilla/5.0 (feedback load bench)"
ACCESS_FORMAT = "%(m)s %(U)s %(q)s %(s)s %(D)s"


@dataclass
class Page:
    """One page to load: who asks, and for what."""

    key: str
    label: str
    path: str
    role: str  # "anonymous", "submitter", "reviewer" or "compiler"
    queue: bool = False  # also run at QUEUE_CLIENTS


@dataclass
class Run:
    """What one wrk run measured (client side) and what the access log says (server side)."""

    page: Page
    clients: int
    requests: int
    seconds: float
    p50: float
    p95: float
    p99: float
    status_errors: int
    socket_errors: int
    server: list[float] = field(default_factory=list)  # ms per request, from %(D)s
    statuses: dict[int, int] = field(default_factory=dict)  # error statuses in the access log

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> str:
        """The count, with the statuses the server logged (e.g. ``3 (500×3)``)."""
        total = self.status_errors + self.socket_errors
        if not total:
            return "0"
        detail = [f"{status}×{n}" for status, n in sorted(self.statuses.items())]
        if self.socket_errors:
            detail.append(f"socket×{self.socket_errors}")
        return f"{total} ({', '.join(detail)})"


def parse_wrk(output: str) -> dict[str, int]:
    """The ``WRK_JSON`` line that ``bench/wrk_report.lua`` prints at the end of a run."""
    for line in output.splitlines():
        if line.startswith("WRK_JSON "):
            values = json.loads(line.removeprefix("WRK_JSON "))
            return {key: int(value) for key, value in values.items()}
    raise ValueError(f"wrk printed no WRK_JSON line:\n{output}")


def server_times(log: str, path: str) -> list[float]:
    """Milliseconds per request for ``path`` (with its query) in access-log lines of ACCESS_FORMAT.

    Only responses below 400 count: errors are reported separately.
    """
    parts = urlsplit(path)
    want_query = parts.query or "-"
    times = []
    for line in log.splitlines():
        fields = line.split(" ")
        if len(fields) != 5:
            continue
        method, url_path, query, status, micros = fields
        same = method == "GET" and url_path == parts.path and (query or "-") == want_query
        if same and status.isdigit() and int(status) < 400 and micros.isdigit():
            times.append(int(micros) / 1000)
    return times


def error_statuses(log: str) -> dict[int, int]:
    """How many responses of each status of 400 or more the access-log lines hold."""
    found: dict[int, int] = {}
    for line in log.splitlines():
        fields = line.split(" ")
        if len(fields) == 5 and fields[3].isdigit() and int(fields[3]) >= 400:
            found[int(fields[3])] = found.get(int(fields[3]), 0) + 1
    return found


def pages(detail_id: int, report_id: int) -> list[Page]:
    """The pages people use most (DESIGN.md journeys): what each role opens every day."""
    search = "/review/?" + urlencode({"q": "安全"})
    return [
        Page("login", "login page (GET, anonymous)", "/auth/login", "anonymous"),
        Page("home", "submitter home (busiest park)", "/", "submitter"),
        Page("queue", "review queue, page 1, no filter", "/review/", "reviewer", queue=True),
        Page(
            "queue-status-kind",
            "review queue, status=submitted + kind=problem",
            "/review/?" + urlencode({"status": "submitted", "kind": "problem"}),
            "reviewer",
        ),
        Page(
            "queue-park-status",
            "review queue, org_kind=park + status=in_review",
            "/review/?" + urlencode({"org_kind": "park", "status": "in_review"}),
            "reviewer",
        ),
        Page(
            "search",
            "search 安全 (common word), first page + total",
            search,
            "reviewer",
        ),
        Page(
            "search-filtered",
            "search 停车 + kind=problem",
            "/review/?" + urlencode({"q": "停车", "kind": "problem"}),
            "reviewer",
        ),
        Page("detail", "submission detail (reviewer)", f"/review/{detail_id}", "reviewer"),
        Page("dashboard", "review dashboard", "/review/dashboard", "reviewer"),
        Page(
            "workbook",
            "frozen report workbook (.xlsx download)",
            f"/reports/{report_id}/versions/1.xlsx",
            "compiler",
        ),
    ]


@dataclass
class Fixture:
    """What the seeding made that the load needs."""

    emails: dict[str, str]
    password: str
    detail_id: int
    report_id: int
    report_items: int
    seeding: str


def prepare(app: Flask) -> Fixture:
    """Seed, pick the busiest park's submitter, and freeze a report for the workbook download."""
    from feedback.filing.kinds import Sensitivity
    from feedback.models import Role, Submission, User, UserRole
    from feedback.models.submission import Status
    from feedback.reports import services as reports

    with app.app_context():
        seeded = seed(app, SUBMISSIONS)
        db.session.remove()
    with app.app_context():
        submitter = busiest_park_submitter()
        compiler = db.session.scalars(
            select(User).join(UserRole).where(UserRole.role == Role.COMPILER).limit(1)
        ).one()
        accepted = db.session.scalars(
            select(Submission)
            .where(
                Submission.status == Status.ACCEPTED,
                Submission.sensitivity != Sensitivity.INTERNAL,
            )
            .order_by(Submission.id)
            .limit(30)
        ).all()
        detail_id = db.session.scalar(
            select(Submission.id)
            .where(Submission.status.in_([Status.SUBMITTED, Status.IN_REVIEW]))
            .order_by(Submission.id.desc())
            .limit(1)
        )
        report = reports.create(
            compiler,
            reports.ReportInput(title="2026年第四季度实施情况汇总报告（负载测试）",
                                period_label="2026年第四季度", period_start=date(2026, 10, 1),
                                period_end=date(2026, 12, 31)),
        )  # fmt: skip
        added = reports.add_items(compiler, report, submissions=accepted)
        reports.freeze(compiler, report)
        db.session.commit()
        assert submitter and detail_id and added.added, (submitter, detail_id, added)
        fixture = Fixture(
            emails={
                "submitter": submitter,
                "reviewer": seeded.reviewer_email,
                "compiler": compiler.email,
            },
            password=seeded.password,
            detail_id=detail_id,
            report_id=report.id,
            report_items=added.added,
            seeding=f"{seeded.what}, seeded in {seeded.seconds:.1f} s",
        )
        db.session.remove()
        db.engine.dispose()
    return fixture


def free_port() -> int:
    """A port nobody listens on now (the kernel's choice)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def gunicorn_command(port: int, access_log: Path) -> list[str]:
    """``gunicorn wsgi:app`` on 127.0.0.1, with the request time (µs) in the access log."""
    command = [
        sys.executable, "-m", "gunicorn",
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(WORKERS),
        "--worker-class", WORKER_CLASS,
        "--access-logfile", str(access_log),
        "--access-logformat", ACCESS_FORMAT,
        "--timeout", "60",
    ]  # fmt: skip
    if WORKER_CLASS == "gthread":
        command += ["--threads", str(THREADS)]
    return [*command, "wsgi:app"]


def server_settings() -> str:
    """The gunicorn settings, as the results file shows them."""
    if WORKER_CLASS == "gthread":
        return f"{WORKERS} gthread workers × {THREADS} threads"
    return f"{WORKERS} {WORKER_CLASS} workers"


@contextmanager
def gunicorn(app: Flask, folder: Path) -> Iterator[tuple[str, Path]]:
    """Serve the seeded database; yield the base URL and the access log."""
    port = free_port()
    access_log = folder / "access.log"
    env = {
        **os.environ,
        "FEEDBACK_ENV": "development",
        "FEEDBACK_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "FEEDBACK_SECRET_KEY": SECRET_KEY,
        "FEEDBACK_UPLOAD_DIR": app.config["UPLOAD_DIR"],
        "FEEDBACK_RATELIMIT_LOGIN": LOGIN_LIMIT,
    }
    errors = (folder / "gunicorn.err").open("w")
    process = subprocess.Popen(  # nosec B603 - our own interpreter, fixed arguments
        gunicorn_command(port, access_log), cwd=ROOT, env=env, stdout=errors, stderr=errors
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((folder / "gunicorn.err").read_text())
            time.sleep(0.2)
        yield base, access_log
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        errors.close()


def exceptions(error_log: str) -> list[str]:
    """The distinct exception lines (``SomeError: why``) in gunicorn's error log, first three."""
    found: list[str] = []
    for line in error_log.splitlines():
        if re.match(r"^[\w.]+(Error|Exception|Timeout)\b.*", line) and line not in found:
            found.append(line[:300])
    return found[:3]


def login(base: str, email: str, password: str, totp: str | None = None) -> httpx.Client:
    """An httpx client with a session for ``email`` (password, then the TOTP code for staff)."""
    client = httpx.Client(base_url=base, timeout=30, headers={"User-Agent": USER_AGENT})

    def post(path: str, data: dict[str, str]) -> httpx.Response:
        token = TOKEN.search(client.get(path).text)
        assert token, path
        return client.post(path, data={**data, "csrf_token": token[1]})

    response = post("/auth/login", {"email": email, "password": password})
    assert response.status_code == 302, (email, response.status_code, response.text[:500])
    if response.headers["Location"].endswith("/auth/mfa"):
        assert totp, email
        response = post("/auth/mfa", {"code": pyotp.TOTP(totp).now()})
        assert response.status_code == 302, (email, response.status_code, response.text[:500])
    # The first page after logging in puts the CSRF token into the session cookie, and a
    # browser keeps the new cookie. wrk sends the same cookie every time: without this it
    # would measure a token made and a cookie signed on every request, which no browser causes.
    client.get(response.headers["Location"])
    return client


def cookie_header(client: httpx.Client) -> str:
    return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


def sessions(app: Flask, base: str, fixture: Fixture) -> dict[str, str]:
    """A fresh ``Cookie`` header per role (sessions expire when idle, so one per page)."""
    cookies = {"anonymous": ""}
    for role, email in fixture.emails.items():
        totp = fresh_totp(app, email) if role != "submitter" else None
        client = login(base, email, fixture.password, totp)
        cookies[role] = cookie_header(client)
        client.close()
    return cookies


def wrk(url: str, clients: int, cookie: str) -> dict[str, int]:
    """One wrk run of SECONDS at ``clients`` connections; its WRK_JSON numbers."""
    command = [
        "wrk", "--threads", str(min(clients, 2)), "--connections", str(clients),
        "--duration", f"{SECONDS}s", "--timeout", "30s", "--script", str(LUA),
    ]  # fmt: skip
    if cookie:
        command += ["--header", f"Cookie: {cookie}", "--header", f"User-Agent: {USER_AGENT}"]
    done = subprocess.run(  # nosec B603 B607 - wrk from the system, fixed arguments
        [*command, url], capture_output=True, text=True, check=True, timeout=SECONDS + 60
    )
    return parse_wrk(done.stdout)


def measure(page: Page, clients: int, base: str, cookie: str, access_log: Path) -> Run:
    """Run wrk on one page and read the server's times for the same requests from the log."""
    before = access_log.stat().st_size
    numbers = wrk(base + page.path, clients, cookie)
    time.sleep(0.3)  # the workers write their last log lines
    with access_log.open("rb") as log:
        log.seek(before)
        written = log.read().decode("utf-8", "replace")
    run = Run(
        page=page,
        clients=clients,
        requests=numbers["requests"],
        seconds=numbers["duration_us"] / 1e6,
        p50=numbers["p50_us"] / 1000,
        p95=numbers["p95_us"] / 1000,
        p99=numbers["p99_us"] / 1000,
        status_errors=numbers["status"],
        socket_errors=sum(numbers[k] for k in ("connect", "read", "write", "timeout")),
        server=server_times(written, page.path),
        statuses=error_statuses(written),
    )
    print(
        f"{page.key:18} c={clients:3} {run.rps:8.1f} req/s p50 {run.p50:7.1f} p95 {run.p95:7.1f} "
        f"p99 {run.p99:7.1f} ms errors {run.status_errors}+{run.socket_errors}",
        flush=True,
    )
    return run


def check_pages(base: str, chosen: list[Page], cookies: dict[str, str]) -> None:
    """Every page must answer 200 to its role: wrk counts a redirect to the login as success."""
    for page in chosen:
        headers = {"Cookie": cookies[page.role]} if cookies[page.role] else {}
        response = httpx.get(base + page.path, headers=headers, timeout=60)
        assert response.status_code == 200, (page.path, response.status_code)


@dataclass
class Logins:
    """Full logins (form GET + POST with CSRF) at one concurrency."""

    clients: int
    count: int
    seconds: float
    samples: list[float]
    errors: int


def full_logins(base: str, email: str, password: str, clients: int) -> Logins:
    """``LOGINS`` logins of ``email`` (a submitter: no second factor), ``clients`` at a time."""
    samples: list[float] = []
    errors = 0
    lock = threading.Lock()

    def one(_: int) -> None:
        nonlocal errors
        started = time.perf_counter()
        try:
            with httpx.Client(base_url=base, timeout=30) as client:
                token = TOKEN.search(client.get("/auth/login").text)
                response = client.post(
                    "/auth/login",
                    data={"email": email, "password": password,
                          "csrf_token": token[1] if token else ""},
                )  # fmt: skip
                ok = response.status_code == 302 and "/auth/" not in response.headers.get(
                    "Location", ""
                )
        except httpx.HTTPError:
            ok = False
        with lock:
            if ok:
                samples.append((time.perf_counter() - started) * 1000)
            else:
                errors += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(LOGINS)))
    return Logins(clients, LOGINS, time.perf_counter() - started, samples, errors)


@dataclass
class Profile:
    """One request of a page in process, its SQL statements timed."""

    total_ms: float
    sql_ms: float
    statements: list[tuple[float, str]]
    ours: list[tuple[float, str]]  # the app's functions by cumulative time (under cProfile)


def profile(app: Flask, path: str, email: str, password: str) -> Profile:
    """Time one request of ``path`` as ``email`` in process, and each SQL statement it runs."""
    from bench.common import logged_in_client

    client = logged_in_client(app, email, password)
    client.get(path)  # warm caches, as the load did
    statements: list[tuple[float, str]] = []
    starts: list[float] = []
    with app.app_context():
        engine = db.engine

    def before(*_: object) -> None:
        starts.append(time.perf_counter())

    def after(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(((time.perf_counter() - starts.pop()) * 1000, statement))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        started = time.perf_counter()
        response = client.get(path)
        total = (time.perf_counter() - started) * 1000
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
    assert response.status_code == 200, (path, response.status_code)
    profiler = cProfile.Profile()
    profiler.runcall(client.get, path)
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    cumulative = sorted(
        ((row[3] * 1000, f"{Path(where[0]).name}:{where[2]}") for where, row in stats.items()
         if ROOT.as_posix() in where[0] and "/.venv/" not in where[0]),
        reverse=True,
    )  # fmt: skip
    return Profile(total, sum(ms for ms, _ in statements), statements, cumulative[:8])


def main() -> None:
    """Seed, serve, load every page, record."""
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    chosen_keys = [k for k in os.environ.get("FEEDBACK_BENCH_PAGES", "").split(",") if k]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        app = make_app(folder, "load")
        fixture = prepare(app)
        with app.app_context():
            database = db.engine.dialect.name
            facts = machine(database)
            db.session.remove()
        chosen = [
            p
            for p in pages(fixture.detail_id, fixture.report_id)
            if not chosen_keys or p.key in chosen_keys
        ]
        runs: list[Run] = []
        with gunicorn(app, folder) as (base, access_log):
            check_pages(base, chosen, sessions(app, base, fixture))
            for page in chosen:
                cookies = sessions(app, base, fixture)
                counts = sorted({*CLIENTS, *([QUEUE_CLIENTS] if page.queue else [])})
                runs += [measure(page, n, base, cookies[page.role], access_log) for n in counts]
            logins = [
                full_logins(base, fixture.emails["submitter"], fixture.password, n)
                for n in sorted({1, min(10, max(CLIENTS))})
            ]
        failures = exceptions((folder / "gunicorn.err").read_text(errors="replace"))
        slowest = max((r for r in runs if r.clients == min(CLIENTS)), key=lambda r: r.p50)
        email = fixture.emails[slowest.page.role] if slowest.page.role != "anonymous" else None
        heavy = profile(app, slowest.page.path, email, fixture.password) if email else None
    section = record(database, facts, fixture, runs, logins, slowest, heavy, failures)
    add_section(section)
    print(section)
    if os.environ.get("FEEDBACK_BENCH_INPROCESS") == "1":
        from bench import run

        run.main()


def _ms(samples: list[float], q: float) -> str:
    return f"{percentile(samples, q):.1f}" if samples else "—"


def record(
    database: str,
    facts: str,
    fixture: Fixture,
    runs: list[Run],
    logins: list[Logins],
    slowest: Run,
    heavy: Profile | None,
    failures: list[str],
) -> str:
    """The results section (Markdown)."""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    lines = [
        f"## {now} · gunicorn under wrk · {database}",
        "",
        f"Machine: {facts}; load average {load:.1f} at the end. `bench/load_bench.py`: "
        f"{fixture.seeding}; gunicorn {server_settings()} on 127.0.0.1 (`FEEDBACK_ENV="
        f"development`, `--timeout 60` as in docs/deploy.md, access log on), wrk on the same "
        f"machine, {SECONDS} s per run (a response later than 30 s counts as an error); login "
        f"throttle raised to {LOGIN_LIMIT} for this server only. Client side = wrk (waiting in "
        "the listen backlog included); server side = gunicorn's `%(D)s` for the same requests. "
        "Errors = status ≥ 400 + socket errors.",
        "",
        "| page | clients | requests/s | p50 ms | p95 ms | p99 ms | errors | server p50 ms "
        "| server p95 ms |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for run in runs:
        lines.append(
            f"| {run.page.label} | {run.clients} | {run.rps:.0f} | {run.p50:.1f} | {run.p95:.1f} "
            f"| {run.p99:.1f} | {run.errors} | {_ms(run.server, 0.5)} | {_ms(run.server, 0.95)} |"
        )
    lines += [
        "",
        f"Full logins (GET the form, POST it with its CSRF token; argon2 verifies the password), "
        f"{LOGINS} per row, a pool of httpx clients (wrk cannot carry a per-connection CSRF "
        "token):",
        "",
        "| concurrent clients | logins/s | p50 ms | p95 ms | p99 ms | errors |",
        "| --- | --- | --- | --- | --- | --- |",
        *(
            f"| {row.clients} | {len(row.samples) / row.seconds:.1f} | {_ms(row.samples, 0.5)} "
            f"| {_ms(row.samples, 0.95)} | {_ms(row.samples, 0.99)} | {row.errors} |"
            for row in logins
        ),
        "",
        f"Report for the workbook: {fixture.report_items} accepted submissions, frozen once.",
        "",
        *(
            ["Exceptions in gunicorn's error log:", "", *(f"- `{f}`" for f in failures), ""]
            if failures
            else []
        ),
        f"Slowest page at {slowest.clients} client: **{slowest.page.label}** "
        f"(`{slowest.page.path}`, p50 {slowest.p50:.1f} ms).",
    ]
    if heavy:
        top = sorted(heavy.statements, reverse=True)[:3]
        lines += [
            f"One request of it in process: {heavy.total_ms:.1f} ms, {len(heavy.statements)} SQL "
            f"statements taking {heavy.sql_ms:.1f} ms; the slowest:",
            "",
            *(f"- {ms:.1f} ms: `{_one_line(sql)}`" for ms, sql in top),
            "",
            "The app's own functions by cumulative time in that request (under cProfile, which "
            "inflates them): " + ", ".join(f"`{name}` {ms:.0f} ms" for ms, name in heavy.ours),
        ]
    return "\n".join(lines) + "\n"


def _one_line(sql: str, width: int = 200) -> str:
    flat = re.sub(r"\s+", " ", sql).strip()
    return flat if len(flat) <= width else flat[: width - 1] + "…"


if __name__ == "__main__":
    main()
