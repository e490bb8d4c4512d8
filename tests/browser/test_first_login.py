"""The first administrator's first day, and a park user on a phone."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskCliRunner
from playwright.sync_api import Page, expect

from feedback.models import Role
from tests.browser.test_mfa import enrol_on_page
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.browser


def test_admin_logs_in_with_one_time_password_changes_it_and_sees_dashboard(
    runner: FlaskCliRunner, live_server: str, page: Page
) -> None:
    result = runner.invoke(args=["init"])
    password = re.search(r"一次性密码：(\S+)", result.output)
    assert password
    page.goto(f"{live_server}/")
    expect(page).to_have_url(re.compile(r"/auth/login"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    page.get_by_label("邮箱").fill("admin@cpcif.local")
    page.get_by_label("密码").fill(password.group(1))
    page.get_by_role("button", name="登录").click()

    expect(page.get_by_role("heading", name="修改密码")).to_be_visible()
    page.get_by_label("当前密码").fill(password.group(1))
    page.get_by_label("新密码", exact=True).fill("weak")
    page.get_by_label("再次输入新密码").fill("weak")
    page.get_by_role("button", name="保存新密码").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("至少需要 8 个字符")
    expect(summary).to_be_focused()  # announced to screen readers

    page.get_by_label("当前密码").fill(password.group(1))
    page.get_by_label("新密码", exact=True).fill("Lianhehui-2026!")
    page.get_by_label("再次输入新密码").fill("Lianhehui-2026!")
    page.get_by_role("button", name="保存新密码").click()

    expect(page.get_by_text("密码已修改")).to_be_visible()
    enrol_on_page(page)  # administrators must use a second factor before anything else
    page.get_by_role("link", name="我已保存，继续").click()
    expect(page.get_by_role("heading", name="工作台")).to_be_visible()
    expect(page.get_by_role("link", name="单位管理")).to_be_visible()


def test_wrong_password_message_keeps_the_email(live_server: str, page: Page) -> None:
    user = make_user(email="zhang@park.cn")
    assert user.id
    page.goto(f"{live_server}/auth/login")
    page.get_by_label("邮箱").fill("zhang@park.cn")
    page.get_by_label("密码").fill("not-it")
    page.get_by_label("密码").press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("邮箱或密码不正确")
    expect(page.get_by_label("邮箱")).to_have_value("zhang@park.cn")


def test_park_user_on_a_phone_uses_the_menu(live_server: str, phone: Page) -> None:
    user = make_user(Role.SUBMITTER, email="li@park.cn")
    org_name = user.organisation.name
    from feedback.extensions import db

    db.session.commit()
    phone.goto(f"{live_server}/auth/login")
    phone.get_by_label("邮箱").fill("li@park.cn")
    phone.get_by_label("密码").fill(PASSWORD)
    phone.get_by_role("button", name="登录").click()
    expect(phone.get_by_role("heading", name="工作台")).to_be_visible()
    menu = phone.get_by_role("button", name="展开菜单")
    expect(menu).to_be_visible()  # collapsed on a narrow screen
    menu.click()
    phone.get_by_role("link", name="本单位", exact=True).click()
    expect(phone.get_by_role("heading", name=org_name)).to_be_visible()
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # no sideways scrolling
