"""Raw .xlsx export: the formula-safe streamed writer against bare openpyxl write-only.

Run with ``.venv/bin/python -m bench.export_bench``. 10,000 rows × 15 columns (one ~1,000-
character Chinese column, trigger-led text in one row of 50) are written by each writer in
turn, 3 times, each run in its own process so that its peak RSS (``ru_maxrss``) is its own; the
medians are compared, as on these noisy machines only ratios from the same run mean anything.
Then 100,000 rows once per writer. Goals (PERFORMANCE.md §6): ≤ 1.25× bare write-only time at
10k, ≤ 150 MB RSS; ≤ 200 MB at 100k. ``FEEDBACK_BENCH_EXPORT_ROWS`` (default ``10000,100000``)
and ``FEEDBACK_BENCH_EXPORT_RUNS`` (default 3) change the scale. Appends to ``bench/RESULTS.md``.

Writers (all to a file, rows produced lazily by the same generator):
- ``bare``: ``Workbook(write_only=True)`` and ``ws.append(values)`` — no styling, no safety
  (a row starting with "=" becomes a formula), openpyxl's default compression (level 6).
- ``safe``: :func:`feedback.reports.xlsx.write_export` as shipped — header styled, widths,
  frozen pane, auto-filter, print setup, text cleaned, triggers quote-prefixed, long text
  continued, compression level 1.
- ``safe-l6``: the same at compression level 6, to separate the cost of the safety work from the
  gain of faster compression.
"""

from __future__ import annotations

import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

ROWS = [int(n) for n in os.environ.get("FEEDBACK_BENCH_EXPORT_ROWS", "10000,100000").split(",")]
RUNS = int(os.environ.get("FEEDBACK_BENCH_EXPORT_RUNS", "3"))
WRITERS = ("bare", "safe", "safe-l6")

COLUMNS = (
    "编号",
    "标题",
    "类型",
    "状态",
    "提交单位",
    "省份",
    "规划条目",
    "标签",
    "提交日期",
    "更新时间",
    "字数",
    "评分",
    "联系人",
    "问题描述",
    "备注",
)
_WORDS = (
    "危险化学品",
    "安全生产",
    "化工园区",
    "重大危险源",
    "特殊作业",
    "隐患排查治理",
    "报警管理",
    "承包商管理",
    "老旧装置",
    "应急救援",
    "监测预警",
    "双重预防机制",
    "企业主要负责人",
    "安全仪表系统",
    "，",
    "。",
)
_TRIGGERS = ('=HYPERLINK("http://example.com","点击")', "-5", "+8613812345678", "@SUM(1)")


@cache
def _pool() -> str:
    """A long Chinese text to slice descriptions from (slicing keeps generation cheap).

    Domain words mixed with random characters from the 3,000 most common CJK code points, so
    the text compresses about as much as real prose does rather than to nothing.
    """
    rng = random.Random(20261128)
    parts = [
        rng.choice(_WORDS) if rng.random() < 0.4 else chr(0x4E00 + rng.randrange(3_000))
        for _ in range(120_000)
    ]
    return "".join(parts)


def rows(count: int) -> Iterator[list[Any]]:
    """``count`` deterministic rows of the 15 columns."""
    pool = _pool()
    start = datetime(2026, 1, 1, 8, 0)
    for n in range(count):
        # A large stride: neighbouring rows share no text within deflate's 32 KB window.
        offset = (n * 104_729) % (len(pool) - 1_100)
        yield [
            f"HX-2026-{n:06d}",
            pool[offset : offset + 24],
            ("政策建议", "发现问题", "典型经验")[n % 3],
            ("已提交", "审核中", "已采纳", "已退回")[n % 4],
            f"某某化工园区管理委员会{n % 640}",
            ("江苏省", "山东省", "浙江省", "广东省", "新疆维吾尔自治区")[n % 5],
            ("S1", "S2、S3", "E1", "R4")[n % 4],
            "重大危险源、特殊作业",
            date(2026, 1, 1) + timedelta(days=n % 300),
            start + timedelta(minutes=n),
            900 + n % 200,
            round((n % 100) / 10, 1),
            "张三",
            pool[offset + 24 : offset + 1_024],
            _TRIGGERS[n // 50 % len(_TRIGGERS)] if n % 50 == 0 else "无",
        ]


def _write(writer: str, count: int, path: Path) -> float:
    """Write ``count`` rows with ``writer``; returns seconds."""
    from openpyxl import Workbook

    from feedback.reports.xlsx import write_export

    _pool()  # built before the clock starts
    started = time.perf_counter()
    if writer == "bare":
        wb = Workbook(write_only=True)
        ws = wb.create_sheet("导出数据")
        ws.append(list(COLUMNS))
        for row in rows(count):
            ws.append(row)
        wb.save(path)
    else:
        level = 6 if writer == "safe-l6" else 1
        write_export(path, COLUMNS, rows(count), compresslevel=level)
    return time.perf_counter() - started


def _child(writer: str, count: int, path: str) -> None:
    seconds = _write(writer, count, Path(path))
    # Linux reports ru_maxrss in KiB.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"seconds": seconds, "rss": peak, "bytes": Path(path).stat().st_size}))


def _run(writer: str, count: int, folder: Path) -> dict[str, float]:
    path = folder / f"{writer}-{count}.xlsx"
    result = subprocess.run(
        [sys.executable, "-m", "bench.export_bench", "--child", writer, str(count), str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    path.unlink()
    measured: dict[str, float] = json.loads(result.stdout)
    return measured


def main() -> None:
    """Run the writers at each scale and append the results."""
    import openpyxl

    results: dict[int, dict[str, list[dict[str, float]]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for count in ROWS:
            runs = RUNS if count <= 10_000 else 1
            results[count] = {writer: [] for writer in WRITERS}
            for _ in range(runs):
                for writer in WRITERS:  # interleaved, so drift hits every writer alike
                    results[count][writer].append(_run(writer, count, Path(tmp)))
                    print(count, writer, results[count][writer][-1], flush=True)
    _record(results, lxml=bool(openpyxl.LXML), version=openpyxl.__version__)


def _median(samples: list[dict[str, float]], key: str) -> float:
    return statistics.median(sample[key] for sample in samples)


def _record(
    results: dict[int, dict[str, list[dict[str, float]]]], lxml: bool, version: str
) -> None:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    lines = [
        f"## {now} · xlsx export",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, {memory:.0f} GiB RAM, "
        f"Python {sys.version.split()[0]}, openpyxl {version}, lxml "
        f"{'in use' if lxml else 'not installed'}. `bench/export_bench.py`: 15 columns, one "
        "~1,000-character Chinese column; each run in its own process (peak RSS = that "
        "process's `ru_maxrss`, interpreter included); medians of the runs shown.",
        "",
        "| rows | writer | runs | seconds | × bare | peak RSS MB | file MB |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for count, writers in results.items():
        bare = _median(writers["bare"], "seconds")
        for writer, samples in writers.items():
            seconds = _median(samples, "seconds")
            lines.append(
                f"| {count:,} | {writer} | {len(samples)} | {seconds:.2f} | "
                f"{seconds / bare:.2f} | {_median(samples, 'rss') / 2**20:.0f} | "
                f"{_median(samples, 'bytes') / 2**20:.1f} |"
            )
    lines.append("")
    # Imported here: the writers' child processes import this module, and must not pay for Flask.
    from bench.common import add_section

    add_section("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        _child(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        main()
