"""The auditor filters the audit trail and exports what they found, on a desktop and a phone."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from feedback.extensions import db
from feedback.models import AuditRecord, Role
from tests.browser.conftest import log_in
from tests.factories import make_user

pytestmark = pytest.mark.browser


def _seed() -> str:
    auditor = make_user(Role.AUDITOR, email="shenji@cpcif.cn")
    for email in ("=cmd|' /C calc'!A0", "zhao@park.cn", "zhao@park.cn"):
        db.session.add(AuditRecord(action="login", actor_email=email, outcome="failure"))
    db.session.add(AuditRecord(action="login", actor_email="qian@park.cn"))
    db.session.commit()
    return auditor.email


def test_auditor_filters_and_exports(live_server: str, page: Page) -> None:
    log_in(page, live_server, _seed())
    page.get_by_role("link", name="审计日志").click()
    expect(page.get_by_role("heading", name="审计日志")).to_be_visible()

    page.get_by_label("操作人邮箱").fill("zhao")
    page.get_by_label("结果").select_option(label="失败")
    page.get_by_role("button", name="筛选").click()
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("zhao@park.cn")
    expect(page.get_by_label("操作人邮箱")).to_have_value("zhao")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="导出 CSV").click()
    download = download_info.value
    assert download.suggested_filename.startswith("审计记录-")
    text = Path(download.path()).read_bytes().decode("utf-8-sig")
    body = list(csv.reader(io.StringIO(text)))[1:]
    assert [row[3] for row in body] == ["zhao@park.cn", "zhao@park.cn"]

    page.get_by_role("button", name="校验审计链").click()
    expect(page.get_by_role("status")).to_contain_text("审计链完整")


def test_auditor_on_a_phone_sees_labelled_filters_without_sideways_scrolling(
    live_server: str, phone: Page
) -> None:
    log_in(phone, live_server, _seed())
    phone.get_by_role("button", name="展开菜单").click()
    phone.get_by_role("link", name="审计日志").click()
    phone.get_by_label("操作人邮箱").fill("=cmd")
    phone.get_by_role("button", name="筛选").click()
    expect(phone.locator("table tbody tr")).to_have_count(1)
    expect(phone.locator("table tbody")).to_contain_text("=cmd|' /C calc'!A0")  # shown as text
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
