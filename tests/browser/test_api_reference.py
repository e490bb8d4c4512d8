"""The API reference page renders the OpenAPI document in Chromium, within the site's CSP."""

from __future__ import annotations

import pytest
from playwright.sync_api import ConsoleMessage, Page, Response, expect

pytestmark = pytest.mark.browser


def test_reference_page_lists_the_operations(live_server: str, page: Page) -> None:
    problems: list[str] = []

    def remember(message: ConsoleMessage) -> None:
        if message.type == "error" and "status of 404" not in message.text:
            problems.append(message.text)

    def missing(response: Response) -> None:
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            problems.append(f"{response.status} {response.url}")

    page.on("console", remember)
    page.on("response", missing)
    page.goto(f"{live_server}/static/api/index.html")
    expect(page.get_by_role("heading", name="规划实施反馈平台 API 1.0.0")).to_be_visible()
    expect(page.get_by_role("link", name="POST /api/v1/submissions", exact=True)).to_be_visible()
    expect(page.locator("#create_submission")).to_contain_text("新建草稿")
    assert problems == []  # no CSP violation, no failed request
