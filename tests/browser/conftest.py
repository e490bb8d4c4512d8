"""Browser fixtures: the app served on 127.0.0.1 in a thread, driven by Debian's Chromium."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect, sync_playwright
from werkzeug.serving import make_server

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

from feedback.extensions import db
from tests.factories import PASSWORD, totp_code

CHROMIUM = os.environ.get("FEEDBACK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (.ci/run does)")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield instance
        instance.close()


def _buffered(app: Flask) -> WSGIApplication:
    """The app with every response read to the end and closed before it is sent.

    Werkzeug's development server closes a response only after sending all of it: when the
    browser drops a connection mid-response (it navigated on while a stylesheet was sent), the
    open static file is left to the garbage collector, and its ResourceWarning fails whichever
    test is running then.
    """

    def wrapped(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        response = app(environ, start_response)
        try:
            return list(response)
        finally:
            if hasattr(response, "close"):
                response.close()

    return wrapped


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The app served over HTTP on a free loopback port; yields its base URL."""
    db.session.commit()
    server = make_server("127.0.0.1", 0, _buffered(app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="zh-CN")
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    yield tab
    context.close()


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    """A page the size of a phone, as opened from WeChat's built-in browser."""
    context = browser.new_context(
        locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    yield tab
    context.close()


def log_in(page: Page, base: str, email: str, password: str = PASSWORD) -> None:
    """Log in through the form (and the code step, for a user with MFA); wait for the dashboard."""
    page.goto(f"{base}/auth/login")
    page.get_by_label("邮箱").fill(email)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()
    if "/auth/mfa" in page.url:
        page.get_by_label("验证码").fill(totp_code(email))
        page.get_by_role("button", name="验证并登录").click()
    expect(page.get_by_role("heading", name="工作台")).to_be_visible()
