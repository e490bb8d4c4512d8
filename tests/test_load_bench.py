"""The load benchmark's readers: wrk's Lua report and gunicorn's access log."""

from __future__ import annotations

import shutil
import subprocess  # nosec B404 - runs wrk, fixed arguments
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.load_bench import LUA, error_statuses, exceptions, parse_wrk, server_times

LOG = "\n".join(
    [
        "GET /review/ - 200 12000",
        "GET /review/ q=%E5%AE%89%E5%85%A8 200 41000",
        "GET /review/ q=%E5%AE%89%E5%85%A8 500 90000",
        "GET /review/  200 14000",
        "POST /review/ - 302 5000",
        "GET /readyz - 200 800",
        "a line that is not ours",
    ]
)


def test_server_times_keep_the_page_and_its_query_apart() -> None:
    assert server_times(LOG, "/review/") == [12.0, 14.0]
    assert server_times(LOG, "/review/?q=%E5%AE%89%E5%85%A8") == [41.0]  # the 500 is an error
    assert server_times(LOG, "/review/dashboard") == []


def test_error_statuses_count_every_status_of_400_or_more() -> None:
    assert error_statuses(LOG + "\nGET /x - 404 1\nGET /y - 500 1") == {404: 1, 500: 2}


def test_a_run_without_the_report_line_is_refused() -> None:
    with pytest.raises(ValueError, match="WRK_JSON"):
        parse_wrk("Running 1s test @ http://127.0.0.1:1/\n")


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(404 if self.path == "/missing" else 200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
@pytest.mark.parametrize(("path", "failing"), [("/", False), ("/missing", True)])
def test_the_lua_report_counts_requests_and_status_errors(
    server: str, path: str, failing: bool
) -> None:
    done = subprocess.run(  # nosec B603 B607 - wrk from the system, fixed arguments
        ["wrk", "-t1", "-c2", "-d1s", "-s", str(LUA), server + path],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    report = parse_wrk(done.stdout)
    assert report["requests"] > 0
    assert report["p50_us"] <= report["p95_us"] <= report["p99_us"] <= report["max_us"]
    assert report["status"] == (report["requests"] if failing else 0)


def test_exceptions_are_named_once_each() -> None:
    log = "\n".join(
        [
            "[2026-11-28 21:00:00 +0000] [12] [ERROR] Exception on /reports/1/versions/1.xlsx",
            "Traceback (most recent call last):",
            '  File "x.py", line 1, in y',
            "sqlite3.OperationalError: database is locked",
            "sqlalchemy.exc.OperationalError: (sqlite3.OperationalError) database is locked",
            "sqlite3.OperationalError: database is locked",
        ]
    )
    assert exceptions(log) == [
        "sqlite3.OperationalError: database is locked",
        "sqlalchemy.exc.OperationalError: (sqlite3.OperationalError) database is locked",
    ]
