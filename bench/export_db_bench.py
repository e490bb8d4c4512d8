"""End-to-end export of submissions: ``flask export-submissions`` on a seeded database.

Run with ``.venv/bin/python -m bench.export_db_bench``. Seeds a fresh SQLite database (or the
scratch PostgreSQL database in ``FEEDBACK_BENCH_DATABASE_URL``, emptied first) with
``seed-demo --submissions N`` (``FEEDBACK_BENCH_SUBMISSIONS``, default 100,000), then runs the
command-line export — what a background export job runs — in a child process for .xlsx and .csv:
every received submission, and one kind (about a third). Reports wall time, rows per second and
the child's own peak RSS (``ru_maxrss`` of that process). PERFORMANCE.md §6: 100,000 outside the
request with ≤ 200 MB. ``bench/export_bench.py`` compares the writer with bare openpyxl on the
same cells.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.common import add_section

SUBMISSIONS = int(os.environ.get("FEEDBACK_BENCH_SUBMISSIONS", "100000"))


# The child reports its own peak RSS: RUSAGE_CHILDREN would give the largest child so far (the
# seeding one), not this one.
CHILD = """
import resource, sys
from flask.cli import main
sys.argv = ["flask", "--app", "feedback", *sys.argv[1:]]
try:
    main()
finally:
    print(f"MAXRSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", file=sys.stderr)
"""


def _flask(env: dict[str, str], *args: str) -> tuple[float, float, str]:
    """Run one command in a child; (seconds, the child's peak RSS in MB, its output)."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", CHILD, *args], env=env, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{args[0]} failed: {result.stderr[-2000:]}")
    rss = int(result.stderr.rsplit("MAXRSS ", 1)[1].split()[0]) / 1024
    return seconds, rss, result.stdout + result.stderr


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        url = os.environ.get("FEEDBACK_BENCH_DATABASE_URL") or f"sqlite:///{folder / 'b.sqlite3'}"
        if url.startswith("postgresql"):
            engine = create_engine(url)
            with engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
            engine.dispose()
        env = {
            **os.environ,
            "FEEDBACK_ENV": "development",
            "FEEDBACK_DATABASE_URL": url,
            "FEEDBACK_SECRET_KEY": "b" * 40,
            "FEEDBACK_UPLOAD_DIR": str(folder / "up"),
        }
        _flask(env, "init")
        seed_seconds, _rss, _out = _flask(env, "seed-demo", "--submissions", str(SUBMISSIONS))
        rows: list[str] = []
        for label, extra in (("all received", []), ("kind=suggestion", ["--kind", "suggestion"])):
            for suffix in ("xlsx", "csv"):
                out = folder / f"export.{suffix}"
                seconds, rss, output = _flask(env, "export-submissions", "--out", str(out), *extra)
                count = int(output.rsplit("已导出 ", 1)[1].split(" ", 1)[0])
                size = out.stat().st_size / 1e6
                rows.append(f"| {label} | .{suffix} | {count} | {seconds:.1f} | "
                            f"{count / seconds:,.0f} | {rss:.0f} | {size:.1f} |")  # fmt: skip
                print(rows[-1], flush=True)
    backend = "postgresql" if url.startswith("postgresql") else "sqlite"
    machine = (f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
               f"load {os.getloadavg()[0]:.1f}")  # fmt: skip
    section = "\n".join(
        [
            f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC · export-submissions end to end"
            f" · {backend}",
            "",
            f"Machine: {machine}. `bench/export_db_bench.py`: `seed-demo --submissions "
            f"{SUBMISSIONS}` ({seed_seconds:.0f} s), then `flask export-submissions` in a child "
            "process (peak RSS = the child's `ru_maxrss`, interpreter and app included).",
            "",
            "| rows exported | format | rows | seconds | rows/s | peak RSS MB | file MB |",
            "| --- | --- | --- | --- | --- | --- | --- |",
            *rows,
            "",
        ]
    )
    add_section(section)
    print(section)


if __name__ == "__main__":
    main()
