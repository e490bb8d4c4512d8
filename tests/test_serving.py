"""`make run` as a newcomer gets it: `init`, then gunicorn with two workers, logging in over HTTP.

The test client runs one process; this catches what only several processes show (e.g. a secret
key that differed per worker made every other request lose the session).
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A fresh instance served by gunicorn; yields (base URL, one-time admin password)."""
    env = {
        **os.environ,
        "FEEDBACK_DATABASE_URL": f"sqlite:///{tmp_path / 'feedback.sqlite3'}",
        "FEEDBACK_UPLOAD_DIR": str(tmp_path / "uploads"),
        "FEEDBACK_ENV": "development",
    }
    env.pop("FEEDBACK_SECRET_KEY", None)
    init = subprocess.run(
        [BIN / "flask", "--app", "feedback", "init"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    password = re.search(r"一次性密码：(\S+)", init.stdout)
    assert password, init.stdout
    port = _free_port()
    server = subprocess.Popen(
        [BIN / "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2", "wsgi:app"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=1):  # noqa: S310
                    break
            except OSError:
                time.sleep(0.1)
        yield base, password.group(1)
    finally:
        server.terminate()
        server.wait(timeout=10)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def test_login_over_http_with_two_workers(served: tuple[str, str]) -> None:
    base, password = served
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect)
    with opener.open(f"{base}/auth/login") as response:
        page = response.read().decode()
    assert '<html lang="zh-CN">' in page and "登录" in page
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token
    form = urllib.parse.urlencode(
        {"csrf_token": token[1], "email": "admin@cpcif.local", "password": password}
    ).encode()
    with pytest.raises(urllib.error.HTTPError) as redirect:
        opener.open(f"{base}/auth/login", data=form)
    redirect.value.close()
    assert redirect.value.code == 302
    assert redirect.value.headers["Location"] == "/auth/password"
    # Several requests, so both workers serve the session.
    for _ in range(8):
        with opener.open(f"{base}/auth/password") as response:
            page = response.read().decode()
        assert "一次性初始密码" in page
