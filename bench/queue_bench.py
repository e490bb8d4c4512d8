"""Benchmark of the review queue page, two filters at a time, page 1 and deep (PERFORMANCE.md §6).

Run with ``.venv/bin/python -m bench.queue_bench``. Seeds a fresh database with ``seed-demo
--submissions N`` (``FEEDBACK_BENCH_SUBMISSIONS``, default 100,000), adds what the demo data lacks
(assignees, attachments, similarity links) with bulk SQL, logs in as a reviewer and times the whole
``/review/`` request (Flask test client, in process) for pairs of filters that together cover every
filter of the queue:

- page 1;
- the deep page: the keyset cursor of the 25,000th row (page 1,000) as the "下一页" link carries
  it, or of the last page's first row when the filters match fewer rows;
- the same deep page by ``OFFSET``, the baseline keyset pagination replaces (the view's ``page``
  swapped for an ``OFFSET`` version for that part of the run; everything else is the same page).

SQLite in a temporary folder by default; PostgreSQL when ``FEEDBACK_BENCH_DATABASE_URL`` is set
(an empty scratch database, or ``FEEDBACK_BENCH_RESET=1`` to have its ``public`` schema dropped
first). ``FEEDBACK_BENCH_RUNS`` (default 60) requests per combination and page after
``WARMUP``; ``FEEDBACK_BENCH_RESULTS`` names another file to append to (for trial runs).

``FEEDBACK_BENCH_KEEP`` names a folder to keep the SQLite database in: the first run seeds it
there (and notes the login and what it made in ``queue.json`` beside it), later runs upgrade its
schema (``init``) and time it again without seeding, so that runs before and after a change
compare the same data, and a 100k seed is paid once. With PostgreSQL the folder holds only
``queue.json``: while it exists, later runs reuse the database instead of emptying it (give a
new folder, or delete the file, to seed afresh).
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask.testing import FlaskClient
from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.orm import selectinload
from werkzeug.datastructures import MultiDict

from bench.common import Seeded, logged_in_client, machine, make_app, percentile, seed
from feedback.extensions import db
from feedback.formatting import china_today
from feedback.models import (
    RECEIVED,
    Attachment,
    Organisation,
    OrgKind,
    Role,
    SimilarityLink,
    Submission,
    User,
    UserRole,
    submission_tag,
)
from feedback.review import queue, similarity

RESULTS = Path(os.environ.get("FEEDBACK_BENCH_RESULTS") or Path(__file__).with_name("RESULTS.md"))
SUBMISSIONS = int(os.environ.get("FEEDBACK_BENCH_SUBMISSIONS", "100000"))
RUNS = int(os.environ.get("FEEDBACK_BENCH_RUNS", "60"))
KEEP = os.environ.get("FEEDBACK_BENCH_KEEP", "")
WARMUP = 3
DEEP_ROW = 25_000  # the cursor of page 1,000 at 25 a page
GOAL_MS = 30.0


@dataclass
class Timing:
    """Timings (ms) of one page of one combination."""

    p50: float
    p95: float
    p99: float


@dataclass
class Row:
    """One combination of filters: its hits, how deep its deep page is, and the timings."""

    name: str
    args: dict[str, str]
    hits: int
    deep_after: int
    statements: int
    first: Timing
    deep: Timing
    offset: Timing


# -- data the demo seed lacks ------------------------------------------------------------------


def _add_review_data(reviewer_id: int) -> dict[str, int]:
    """Assignees, attachments and similarity links in realistic proportions, by bulk SQL.

    The demo seed tags (0–3 tags each), plans and targets campaigns, but assigns nothing, attaches
    files to 12 submissions only and computes no similarity links (``rebuild()`` takes minutes at
    this size). Deterministic: chosen by ``id`` modulo small numbers.
    """
    others = list(
        db.session.scalars(
            select(User.id)
            .join(UserRole)
            .where(UserRole.role == Role.REVIEWER, User.id != reviewer_id)
            .order_by(User.id)
        )
    ) or [reviewer_id]
    ids = {"me": reviewer_id, "colleague": others[0], "other": others[-1]}
    for statement in (
        # Everything past "submitted" has a reviewer, a third each; a fifth of the newly
        # submitted ones have been claimed already.
        "UPDATE submission SET assignee_id = CASE id % 3 WHEN 0 THEN :me "
        "WHEN 1 THEN :colleague ELSE :other END "
        "WHERE status IN ('in_review', 'returned', 'accepted', 'rejected', 'reported')",
        "UPDATE submission SET assignee_id = :colleague WHERE status = 'submitted' AND id % 5 = 0",
        # One submission in eight has an attachment (a photo of the site, say).
        "INSERT INTO attachment (submission_id, original_name, stored_name, media_type, size, "
        "sha256, uploader_id, created_at) SELECT id, '现场照片.jpg', 'bench-' || id, "
        "'image/jpeg', 120000, :sha, author_id, created_at FROM submission WHERE id % 8 = 1",
        # One in twenty is linked to the next one; a third of those links were dismissed.
        "INSERT INTO similarity_link (submission_a_id, submission_b_id, score, status, "
        "created_at) SELECT id, id + 1, 0.8, CASE WHEN id % 60 = 0 THEN 'dismissed' "
        "ELSE 'detected' END, created_at FROM submission "
        "WHERE id % 20 = 0 AND id < (SELECT max(id) FROM submission)",
    ):
        db.session.execute(text(statement), {**ids, "sha": "0" * 64})
    similarity.recount_similar(db.session.connection())  # links written without the ORM
    db.session.commit()
    return {
        "assigned": int(
            db.session.scalar(select(func.count()).where(Submission.assignee_id.is_not(None))) or 0
        ),
        "attachments": int(db.session.scalar(select(func.count()).select_from(Attachment)) or 0),
        "links": int(db.session.scalar(select(func.count()).select_from(SimilarityLink)) or 0),
    }


def _most_used(column: Any, *where: Any) -> int:
    """The value of ``column`` that the most received submissions have."""
    value = db.session.scalar(
        select(column)
        .where(Submission.status.in_(RECEIVED), column.is_not(None), *where)
        .group_by(column)
        .order_by(func.count().desc(), column)
        .limit(1)
    )
    assert value is not None
    return int(value)


def _combinations() -> list[tuple[str, dict[str, str]]]:
    """Pairs of filters that together use every filter of the queue (and one with none)."""
    busiest_org = _most_used(Submission.organisation_id)
    campaign = _most_used(Submission.campaign_id)
    tag = db.session.scalar(
        select(submission_tag.c.tag_id)
        .group_by(submission_tag.c.tag_id)
        .order_by(func.count().desc(), submission_tag.c.tag_id)
        .limit(1)
    )
    parks = db.session.scalars(
        select(Organisation.region_code).where(Organisation.kind == OrgKind.PARK)
    )
    province = Counter(code[:2] for code in parks if code).most_common(1)[0][0]
    today = china_today()
    last_quarter = {"from": (today - timedelta(days=90)).isoformat(), "to": today.isoformat()}
    return [
        ("no filter (全部)", {}),
        ("status + kind", {"status": "submitted", "kind": "problem"}),
        ("organisation + status", {"org": str(busiest_org), "status": "accepted"}),
        ("organisation kind + province", {"org_kind": "park", "province": f"{province}0000"}),
        ("plan S (with sub-items) + kind", {"plan": "S", "kind": "problem"}),
        ("plan S3 + status", {"plan": "S3", "status": "submitted"}),
        ("tag + status", {"tag": str(tag), "status": "submitted"}),
        ("campaign + organisation kind", {"campaign": str(campaign), "org_kind": "park"}),
        ("assignee mine + status", {"assignee": "mine", "status": "in_review"}),
        ("assignee unassigned + kind", {"assignee": "unassigned", "kind": "suggestion"}),
        ("date range (90 days) + kind", {**last_quarter, "kind": "problem"}),
        ("attachments + status", {"attachments": "1", "status": "accepted"}),
        ("search 安全 + status", {"q": "安全", "status": "submitted"}),
        ("search 停 + kind", {"q": "停", "kind": "suggestion"}),
        ("has similar + status", {"similar": "1", "status": "submitted"}),
    ]


def _deep_cursor(args: dict[str, str], user: User) -> tuple[int, int, str]:
    """(hits, row number, cursor): the ``after`` cursor of the 25,000th row, computed here with
    the queue's own ordering, or of the row before the last page when fewer match."""
    filters = queue.QueueFilters.from_args(MultiDict(args))
    hits = int(
        db.session.scalar(queue.filtered(filters, user).with_only_columns(func.count())) or 0
    )
    after = min(DEEP_ROW, (hits - 1) // queue.PAGE_SIZE * queue.PAGE_SIZE) if hits else 0
    if after == 0:
        return hits, 0, ""
    row = db.session.execute(
        queue.ordered(filters, user)
        .with_only_columns(Submission.submitted_at, Submission.id)
        .offset(after - 1)
        .limit(1)
    ).one()
    return hits, after, queue._encode(row.submitted_at, row.id)


def _statements(client: FlaskClient, path: str, engine: Engine) -> int:
    """How many SQL statements one request of ``path`` sends."""
    seen: list[str] = []

    def note(*args: object) -> None:
        seen.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", note)
    try:
        assert client.get(path).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", note)
    return len(seen)


def _time(client: FlaskClient, path: str) -> Timing:
    for _ in range(WARMUP):
        client.get(path)
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        response = client.get(path)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return Timing(statistics.median(samples), percentile(samples, 0.95), percentile(samples, 0.99))


OFFSET = "offset:"


def _offset_page(
    filters: queue.QueueFilters, user: User, cursor: str = "", *, table: bool = False
) -> queue.QueuePage:
    """The baseline: :func:`queue.page` with ``OFFSET n`` (``after=offset:n``) for the cursor
    (whole rows, ``table`` or not)."""
    counts, total = queue.counted(filters, user)
    skip = int(cursor.removeprefix(OFFSET)) if cursor.startswith(OFFSET) else 0
    query = queue.ordered(filters, user).options(selectinload(Submission.assignee))
    rows = list(db.session.scalars(query.offset(skip).limit(queue.PAGE_SIZE + 1)))
    return queue.QueuePage(rows[: queue.PAGE_SIZE], counts, total, None)


@contextmanager
def _paging_by_offset() -> Iterator[None]:
    """Serve the queue view with :func:`_offset_page` for a while (everything else unchanged)."""
    keyset = queue.page
    queue.page = _offset_page
    try:
        yield
    finally:
        queue.page = keyset


def _path(args: dict[str, str], after: str = "") -> str:
    return "/review/?" + urlencode({**args, "after": after} if after else args)


@contextmanager
def _folder() -> Iterator[Path]:
    """The folder of the SQLite database: ``FEEDBACK_BENCH_KEEP`` (kept), or a temporary one."""
    if KEEP:
        Path(KEEP).mkdir(parents=True, exist_ok=True)
        yield Path(KEEP)
        return
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


def main() -> None:
    """Seed, add review data, time every combination on page 1, deep, and deep by OFFSET."""
    with _folder() as tmp:
        kept = tmp / "queue.json"
        app = make_app(tmp, "queue", reuse=bool(KEEP) and kept.exists())
        with app.app_context():
            if KEEP and kept.exists():
                # Seeded by an earlier run: bring the schema up to date and time it as it is.
                result = app.test_cli_runner().invoke(args=["init"])
                assert result.exit_code == 0, result.output
                notes = json.loads(kept.read_text())
                seeded, added = Seeded(**notes["seeded"]), notes["added"]
            else:
                seeded = seed(app, SUBMISSIONS)
                reviewer_id = db.session.scalars(
                    select(User.id).where(User.email == seeded.reviewer_email)
                ).one()
                added = _add_review_data(reviewer_id)
                if KEEP:
                    kept.write_text(json.dumps({"seeded": asdict(seeded), "added": added}))
            database = db.engine.dialect.name
            reviewer = db.session.scalars(
                select(User).where(User.email == seeded.reviewer_email)
            ).one()
            if database == "postgresql":
                # What autovacuum does shortly after a bulk load.
                with db.engine.connect() as connection:
                    connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                        text("VACUUM ANALYZE")
                    )
            else:
                db.session.execute(text("ANALYZE"))  # as seed-demo did, now with the additions
                db.session.commit()
            combinations = _combinations()
            deep = {name: _deep_cursor(args, reviewer) for name, args in combinations}
            facts = machine(database)
            engine = db.engine
            db.session.remove()
        client = logged_in_client(app, seeded.reviewer_email, seeded.password)
        # A gauge of the machine's load during the run: a page with no database work.
        gauge = [_time(app.test_client(), "/auth/login")]
        rows = []
        for name, args in combinations:
            hits, after, cursor = deep[name]
            first = _time(client, _path(args))
            deep_timing = _time(client, _path(args, cursor))
            with _paging_by_offset():
                offset = _time(client, _path(args, f"{OFFSET}{after}" if after else ""))
            row = Row(name, args, hits, after, _statements(client, _path(args), engine),
                      first, deep_timing, offset)  # fmt: skip
            rows.append(row)
            print(row, flush=True)
        gauge.append(_time(app.test_client(), "/auth/login"))
    _record(database=database, facts=facts, seeded=seeded, added=added, rows=rows, gauge=gauge)


def _ms(timing: Timing) -> str:
    return f"{timing.p50:.1f} / {timing.p95:.1f} / {timing.p99:.1f}"


def _reading(rows: list[Row]) -> str:
    """One paragraph on the results against the goal of PERFORMANCE.md §6."""
    worst = max(rows, key=lambda row: max(row.first.p95, row.deep.p95))
    worst_p95 = max(worst.first.p95, worst.deep.p95)
    missed = [r.name for r in rows if max(r.first.p95, r.deep.p95) > GOAL_MS]
    deep_rows = [r for r in rows if r.deep_after >= DEEP_ROW]
    parts = [
        f"Reading: worst p95 {worst_p95:.1f} ms ({worst.name}); "
        + (
            f"{len(missed)} of {len(rows)} combinations miss the {GOAL_MS:.0f} ms goal: "
            + ", ".join(missed)
            + "."
            if missed
            else f"every combination meets the {GOAL_MS:.0f} ms goal on page 1 and deep."
        )
    ]
    for row in deep_rows:
        parts.append(
            f"{row.name}, after row {row.deep_after:,}: keyset p95 {row.deep.p95:.1f} ms, "
            f"OFFSET p95 {row.offset.p95:.1f} ms."
        )
    return " ".join(parts)


def _record(
    *,
    database: str,
    facts: str,
    seeded: Seeded,
    added: dict[str, int],
    rows: list[Row],
    gauge: list[Timing],
) -> None:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
    lines = [
        f"## {now} · review queue · {database}",
        "",
        f"Machine: {facts}; load average at the end {' '.join(load)} (shared machine). "
        f"`bench/queue_bench.py`, Flask test client in process, the whole `/review/` request "
        f"as a reviewer, {RUNS} requests per cell after {WARMUP} warm-up requests.",
        "",
        f"- `seed-demo --submissions {SUBMISSIONS}` ({seeded.what}): {seeded.seconds:.1f} s; "
        f"then by bulk SQL {added['assigned']:,} submissions assigned, "
        f"{added['attachments']:,} attachments, {added['links']:,} similarity links"
        + (", `VACUUM ANALYZE`" if database == "postgresql" else ", `ANALYZE`"),
        f"- Deep page: after row {DEEP_ROW:,} (page 1,000 at {queue.PAGE_SIZE} a page), or the "
        "last page when fewer rows match; by keyset cursor (as the page links it) and by "
        "`OFFSET` (the baseline). Counts are capped at "
        f'{queue.COUNT_CAP} (the page says "more than {queue.COUNT_CAP}").',
        f"- Load gauge, the anonymous login page (no database work) p50 / p95: "
        f"{gauge[0].p50:.2f} / {gauge[0].p95:.2f} ms before, {gauge[-1].p50:.2f} / "
        f"{gauge[-1].p95:.2f} ms after the timings (1.28 / 1.47 ms on a quiet machine, "
        "`bench/run.py` at 16:37 UTC).",
        "",
        "| filters | hits | SQL per page | page 1 p50 / p95 / p99 ms | deep after row "
        "| deep (keyset) p50 / p95 / p99 ms | deep (OFFSET) p50 / p95 / p99 ms |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *(
            f"| {r.name} | {r.hits:,} | {r.statements} | {_ms(r.first)} | {r.deep_after:,} "
            f"| {_ms(r.deep)} | {_ms(r.offset)} |"
            for r in rows
        ),
        "",
        _reading(rows),
        "",
    ]
    print("\n".join(lines))
    with RESULTS.open("a", encoding="utf-8") as results:
        results.write("\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
