"""What a person is told about their data and their drafts, and what an administrator sees of
live sessions (SECURITY.md rows 9, 38 and 42), in the browser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time
from playwright.sync_api import Page, expect

from feedback.extensions import db
from feedback.models import Role
from tests.browser.conftest import log_in
from tests.factories import make_submission, make_user

pytestmark = pytest.mark.browser


def test_the_privacy_notice_is_one_click_from_the_login_page(live_server: str, phone: Page) -> None:
    phone.goto(f"{live_server}/auth/login")
    phone.get_by_role("link", name="个人信息保护说明").first.click()
    expect(phone.get_by_role("heading", name="个人信息保护说明")).to_be_visible()
    # What is kept, grouped by kind, each with what it is for and how long it is kept.
    for group in ("联系信息", "身份鉴别信息", "使用记录"):
        expect(phone.get_by_role("rowheader", name=group)).to_be_visible()
    expect(phone.get_by_role("columnheader", name="保存期限")).to_be_visible()


def test_an_officer_is_warned_before_an_old_draft_is_deleted(live_server: str, page: Page) -> None:
    officer = make_user(Role.SUBMITTER, email="li@park.cn", name="李工")
    # 170 days untouched: deleted at 180 (DRAFT_RETENTION_DAYS), warned from 150.
    with freeze_time(datetime.now(UTC) - timedelta(days=170)):
        draft = make_submission(officer, title="去年冬季检查发现的问题（未写完）")
    make_submission(officer, title="昨天新写的草稿")
    db.session.commit()

    log_in(page, live_server, "li@park.cn")
    notice = page.locator("#drafts-due-for-purge")
    expect(notice).to_contain_text("到期将自动删除")
    expect(notice).to_contain_text("将于")
    expect(notice.get_by_role("link")).to_have_count(1)  # the fresh draft is not listed
    notice.get_by_role("link", name="去年冬季检查发现的问题（未写完）").click()
    expect(page.get_by_role("heading", name="去年冬季检查发现的问题（未写完）")).to_be_visible()
    assert page.url.endswith(f"/submissions/{draft.id}")


def test_the_users_page_shows_who_is_logged_in(live_server: str, page: Page, phone: Page) -> None:
    make_user(Role.SUBMITTER, email="wang@park.cn", name="王工")
    make_user(Role.ADMIN, email="admin@cpcif.cn", name="系统管理员")
    db.session.commit()

    log_in(phone, live_server, "wang@park.cn")
    log_in(page, live_server, "admin@cpcif.cn")
    page.get_by_role("link", name="用户管理").click()
    expect(page.get_by_role("heading", name="用户管理")).to_be_visible()
    expect(page.get_by_role("row", name="王工")).to_contain_text("在线会话 1 个")
