"""Benchmark of the Chinese search index against a ``LIKE '%…%'`` scan (PERFORMANCE.md §3, §6).

Run with ``.venv/bin/python -m bench.search_bench``. Seeds a fresh database with
``seed-demo --submissions N`` (``FEEDBACK_BENCH_SUBMISSIONS``, default 100,000), builds the index
with :func:`feedback.search.reindex`, then times, for queries of 1–10 characters, what the review
queue's search needs: the total count and the first 25 rows ordered by ``submitted_at DESC, id
DESC`` of the submissions staff may see (those the federation received), through
:func:`feedback.review.queue.page` as a reviewer, and with ``LIKE`` over the same columns and
rows, in the same run. Also reports the index size
against the size of the text it indexes, and appends a Markdown section to ``bench/RESULTS.md``.

SQLite in a temporary folder by default; PostgreSQL when ``FEEDBACK_BENCH_DATABASE_URL`` is set.
That database must be empty (a scratch database), or ``FEEDBACK_BENCH_RESET=1`` to have its
``public`` schema dropped first. ``FEEDBACK_BENCH_RUNS`` (default 50) runs per query and method
(``FEEDBACK_BENCH_LIKE_RUNS`` for the slow ``LIKE`` baseline alone, default the same);
``FEEDBACK_BENCH_RESULTS`` names another file to append to (for trial runs).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask
from sqlalchemy import ColumnElement, func, or_, select, text

from bench.common import machine, make_app, percentile
from feedback import search
from feedback.extensions import db
from feedback.models import RECEIVED, Attachment, Role, Submission, User, UserRole
from feedback.review import queue

RESULTS = Path(os.environ.get("FEEDBACK_BENCH_RESULTS") or Path(__file__).with_name("RESULTS.md"))
SUBMISSIONS = int(os.environ.get("FEEDBACK_BENCH_SUBMISSIONS", "100000"))
RUNS = int(os.environ.get("FEEDBACK_BENCH_RUNS", "50"))
LIKE_RUNS = int(os.environ.get("FEEDBACK_BENCH_LIKE_RUNS", str(RUNS)))
WARMUP = 2
PAGE = 25
# 1 to 10 characters; common words (停, 安全, 园区) and rare ones or none at all (消防通道 and
# 危化品泄漏 do not occur in the demo texts), so that both ends of the hit count are timed.
QUERIES = (
    "停",
    "氢",
    "安全",
    "园区",
    "黑名单",
    "动火作业",
    "消防通道",
    "危化品泄漏",
    "承包商动火作业票证",
    "精细化工反应安全风险",
)


@dataclass
class Timing:
    """Hits and timings (ms) of one query by one method."""

    hits: int
    p50: float
    p95: float


def _seed(app: Flask) -> float:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["init"])
    assert result.exit_code == 0, result.output
    started = time.perf_counter()
    result = runner.invoke(args=["seed-demo", "--seed", "1", "--submissions", str(SUBMISSIONS)])
    assert result.exit_code == 0, result.output
    return time.perf_counter() - started


def _like(query: str) -> ColumnElement[bool]:
    """The baseline: a substring scan of the same columns the index holds."""
    return or_(
        Submission.title.contains(query, autoescape=True),
        Submission.summary.contains(query, autoescape=True),
        Submission.sections_json.contains(query, autoescape=True),
        Submission.id.in_(
            select(Attachment.submission_id).where(
                Attachment.original_name.contains(query, autoescape=True)
            )
        ),
    )


def _like_once(query: str) -> tuple[int, list[int]]:
    """The baseline page: the total and the first page of received submissions, newest first."""
    condition = (Submission.status.in_(RECEIVED), _like(query))
    total = db.session.scalar(select(func.count()).select_from(Submission).where(*condition))
    rows = db.session.scalars(
        select(Submission.id)
        .where(*condition)
        .order_by(Submission.submitted_at.desc(), Submission.id.desc())
        .limit(PAGE)
    ).all()
    assert len(rows) == min(PAGE, total or 0)
    return int(total or 0), list(rows)


def _reviewer() -> User:
    return db.session.scalars(
        select(User).join(UserRole).where(UserRole.role == Role.REVIEWER).limit(1)
    ).one()


def _index_once(query: str) -> tuple[int, list[int]]:
    """The review queue's search as a reviewer: the total and the first page (25 rows)."""
    result = queue.page(queue.QueueFilters(q=query), _reviewer())
    assert result.total is not None  # a plain staff search counts exactly, from the index
    return result.total, [row.id for row in result.rows]


def _time(
    query: str, run: Callable[[str], tuple[int, list[int]]], runs: int = RUNS
) -> tuple[Timing, list[int]]:
    hits, first = 0, list[int]()
    for _ in range(WARMUP):
        hits, first = run(query)
        db.session.rollback()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        run(query)
        samples.append((time.perf_counter() - started) * 1000)
        db.session.rollback()  # a request ends its transaction (and forgets its objects)
    return Timing(hits, statistics.median(samples), percentile(samples, 0.95)), first


def _text_sizes() -> tuple[int, int]:
    """Bytes (UTF-8) of the indexed text as written, and as pre-split for the index."""
    connection = db.session.connection()
    raw = split = 0
    last = 0
    while True:
        ids = connection.scalars(
            select(Submission.id)
            .where(Submission.id > last)
            .order_by(Submission.id)
            .limit(search.CHUNK)
        ).all()
        if not ids:
            return raw, split
        for document in search._read_documents(connection, ids).values():
            raw += len(document.encode())
            split += len(search.split_for_index(document).encode())
        last = ids[-1]


def _index_sizes(database: str) -> dict[str, int]:
    """Bytes on disk of the index, by part."""
    if database == "sqlite":
        rows = db.session.execute(
            text(
                "SELECT name, sum(pgsize) FROM dbstat "
                "WHERE name = 'submission_fts' OR name LIKE 'submission_fts_%' GROUP BY name"
            )
        ).all()
        return {str(name): int(size) for name, size in rows}
    sizes = db.session.execute(
        text(
            "SELECT pg_relation_size('submission_search'), "
            "pg_total_relation_size('submission_search') - pg_relation_size('submission_search') "
            "- pg_indexes_size('submission_search'), "
            "pg_relation_size('ix_submission_search_document'), "
            "pg_relation_size('pk_submission_search')"
        )
    ).one()
    return {
        "table (tsvector)": int(sizes[0]),
        "TOAST": int(sizes[1]),
        "GIN index": int(sizes[2]),
        "primary key": int(sizes[3]),
    }


def _times(ratio: float) -> str:
    """A speed-up as "0.2×", "3.5×" or "107×"."""
    return f"{ratio:.1f}×" if ratio < 10 else f"{ratio:.0f}×"


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"


def main() -> None:
    """Seed, index, time and record."""
    search.install()  # as the app does: ORM writes during seeding keep the index in step
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(Path(tmp), "search")
        with app.app_context():
            seed_seconds = _seed(app)
            database = db.engine.dialect.name
            started = time.perf_counter()
            indexed = search.reindex(db.session)
            db.session.commit()
            index_seconds = time.perf_counter() - started
            if database == "postgresql":
                # What autovacuum does shortly after a bulk load: statistics for every table and
                # the GIN pending list merged into the index.
                with db.engine.connect() as connection:
                    connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                        text("VACUUM ANALYZE")
                    )
            print(f"seeded in {seed_seconds:.1f} s, indexed {indexed} in {index_seconds:.1f} s")
            raw_bytes, split_bytes = _text_sizes()
            sizes = _index_sizes(database)
            db.session.rollback()
            rows: list[tuple[str, Timing, Timing]] = []
            for query in QUERIES:
                indexed_timing, indexed_page = _time(query, _index_once)
                like_timing, like_page = _time(query, _like_once, LIKE_RUNS)
                assert indexed_page == like_page, (query, indexed_page, like_page)
                rows.append((query, indexed_timing, like_timing))
                print(query, indexed_timing, like_timing, flush=True)
            facts = machine(database)
            db.session.remove()
    _record(
        database=database,
        machine=facts,
        seeding=(seed_seconds, indexed, index_seconds),
        text_bytes=(raw_bytes, split_bytes),
        sizes=sizes,
        rows=rows,
    )


def _reading(rows: list[tuple[str, Timing, Timing]], ratio: float, ratio_no_copy: float) -> str:
    """One paragraph on the results against the goals of PERFORMANCE.md §6."""
    worst = max(rows, key=lambda row: row[1].p95)
    slowest_like = min(row[2].p50 for row in rows)
    speedups = [like.p50 / ix.p50 for _q, ix, like in rows]
    differing = [query for query, ix, like in rows if ix.hits != like.hits]
    time_verdict = "meets" if worst[1].p95 <= 50 else "misses"
    size_verdict = "meets" if ratio <= 1 else "misses"
    parts = [
        f"Reading: the index {time_verdict} the search goal (p95 ≤ 50 ms for count + first page, "
        f"1–10 characters): worst p95 {worst[1].p95:.1f} ms ({worst[0]}, {worst[1].hits} hits), "
        f"where `LIKE` takes at least {slowest_like:.0f} ms at p50 "
        f"(speed-up, `LIKE` p50 over index p50: {_times(min(speedups))} to "
        f"{_times(max(speedups))}; below 1× the index is slower).",
        f"It {size_verdict} the size goal (≤ 1× the indexed text) at {ratio:.2f}×",
    ]
    if ratio_no_copy != ratio:
        parts[-1] += f" ({ratio_no_copy:.2f}× for the index proper, without FTS5's stored text)."
    else:
        parts[-1] += "."
    parts.append(
        "Hit counts of index and `LIKE` agree for every query."
        if not differing
        else "Hit counts differ for "
        + ", ".join(differing)
        + ": the index ignores punctuation, so a phrase may also match across it."
    )
    return " ".join(parts)


def _record(
    *,
    database: str,
    machine: str,
    seeding: tuple[float, int, float],
    text_bytes: tuple[int, int],
    sizes: dict[str, int],
    rows: list[tuple[str, Timing, Timing]],
) -> None:
    seed_seconds, indexed, index_seconds = seeding
    raw_bytes, split_bytes = text_bytes
    total = sum(sizes.values())
    stored_text = sizes.get("submission_fts_content", 0)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines: list[str] = [
        f"## {now} · search index · {database}",
        "",
        f"Machine: {machine}. `bench/search_bench.py`, in process, {RUNS} runs per query "
        f"({LIKE_RUNS} for `LIKE`) after {WARMUP} warm-up runs; load average "
        f"{os.getloadavg()[0]:.1f} at the end; one run = total count + first {PAGE} rows by "
        "`submitted_at DESC, id DESC` of the received submissions (what staff see): "
        "`queue.page()` as a reviewer for the index, `count` + `LIMIT` for `LIKE`.",
        "",
        f"- `seed-demo --submissions {SUBMISSIONS}`: {seed_seconds:.1f} s; "
        f"`reindex()` of {indexed} submissions: {index_seconds:.1f} s"
        + (" (then `VACUUM ANALYZE`, as autovacuum would)" if database == "postgresql" else ""),
        f"- Indexed text (title, summary, sections, attachment names): {_mb(raw_bytes)} as "
        f"written, {_mb(split_bytes)} pre-split (one token per CJK character)",
        f"- Index: {_mb(total)} = {total / raw_bytes:.2f}× the text ("
        + ", ".join(f"{name} {_mb(size)}" for name, size in sizes.items())
        + ")"
        + (
            f"; without the stored copy of the pre-split text "
            f"({_mb(stored_text)}): {(total - stored_text) / raw_bytes:.2f}×"
            if stored_text
            else ""
        ),
        "",
        "| query | chars | hits (index / LIKE) | index p50 ms | index p95 ms "
        "| LIKE p50 ms | LIKE p95 ms | p50 speed-up |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        *(
            f"| {query} | {len(query)} | {ix.hits} / {like.hits} | {ix.p50:.2f} | {ix.p95:.2f} "
            f"| {like.p50:.1f} | {like.p95:.1f} | {_times(like.p50 / ix.p50)} |"
            for query, ix, like in rows
        ),
        "",
        _reading(rows, total / raw_bytes, (total - stored_text) / raw_bytes),
        "",
    ]
    print("\n".join(lines))
    with RESULTS.open("a", encoding="utf-8") as results:
        results.write("\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
