"""The system administrator ends a park officer's sessions on every device (SECURITY.md row 9)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from feedback.extensions import db
from feedback.models import Role
from tests.browser.conftest import log_in
from tests.factories import make_user

pytestmark = pytest.mark.browser


def test_an_administrator_ends_every_session_of_a_user(
    live_server: str, page: Page, phone: Page
) -> None:
    officer = make_user(Role.SUBMITTER, email="zhang@park.cn", name="张工")
    make_user(Role.ADMIN, email="admin@cpcif.cn", name="系统管理员")
    db.session.commit()

    log_in(phone, live_server, "zhang@park.cn")  # the officer, on a phone
    log_in(page, live_server, "admin@cpcif.cn")
    page.goto(f"{live_server}/admin/users/{officer.id}/edit")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="结束全部登录").click()
    expect(page.get_by_text("已结束该用户的全部登录，其各设备须重新登录。")).to_be_visible()

    phone.reload()
    expect(phone.get_by_role("button", name="登录")).to_be_visible()
    assert "/auth/login" in phone.url
