"""A reviewer sets up two-step verification on a phone and logs in again with a code."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from playwright.sync_api import Page, expect

from feedback.models import Role
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.browser


def enrol_on_page(page: Page) -> str:
    """Read the secret shown for manual entry, confirm with its code; returns the secret."""
    expect(page.get_by_role("heading", name="设置两步验证")).to_be_visible()
    expect(page.get_by_role("img", name="用于添加账户的二维码").locator("svg")).to_be_visible()
    secret = page.locator("#mfa-secret").inner_text().replace(" ", "")
    page.get_by_label("验证码").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="确认启用").click()
    expect(page.get_by_role("heading", name="恢复码")).to_be_visible()
    return secret


def test_reviewer_enrols_on_a_phone_then_logs_in_with_a_code(live_server: str, phone: Page) -> None:
    reviewer = make_user(Role.REVIEWER, mfa=False, email="wang@cpcif.cn")
    assert reviewer.id
    phone.goto(f"{live_server}/auth/login")
    phone.get_by_label("邮箱").fill("wang@cpcif.cn")
    phone.get_by_label("密码").fill(PASSWORD)
    phone.get_by_role("button", name="登录").click()

    expect(phone.get_by_text("必须启用两步验证")).to_be_visible()
    phone.goto(f"{live_server}/review/")  # nothing else opens before enrolment
    expect(phone).to_have_url(re.compile(r"/auth/mfa/setup$"))
    code_field = phone.get_by_label("验证码")
    expect(code_field).to_have_attribute("autocomplete", "one-time-code")
    expect(code_field).to_have_attribute("inputmode", "numeric")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390

    # A wrong code first: the error is announced and focused.
    phone.get_by_label("验证码").fill("12345")
    phone.get_by_role("button", name="确认启用").click()
    expect(phone.get_by_role("alert")).to_contain_text("验证码不正确")
    expect(phone.get_by_role("alert")).to_be_focused()

    secret = enrol_on_page(phone)
    expect(phone.locator(".mfa-recovery-codes code")).to_have_count(10)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.get_by_role("link", name="我已保存，继续").click()
    expect(phone.get_by_role("heading", name="工作台")).to_be_visible()

    phone.get_by_role("button", name="展开菜单").click()
    logout = phone.get_by_role("button", name="退出")
    expect(logout).to_be_visible()
    expect(phone.locator("#nav")).not_to_have_class(re.compile(r"collapsing"))  # settled
    logout.click()
    expect(phone.get_by_role("heading", name="登录")).to_be_visible()

    phone.get_by_label("邮箱").fill("wang@cpcif.cn")
    phone.get_by_label("密码").fill(PASSWORD)
    phone.get_by_role("button", name="登录").click()
    expect(phone.get_by_role("heading", name="两步验证")).to_be_visible()
    # The enrolment code's step is spent; the next step's code is inside the ±1 window.
    phone.get_by_label("验证码").fill(pyotp.TOTP(secret).at(time.time() + 30))
    phone.get_by_role("button", name="验证并登录").click()
    expect(phone.get_by_role("heading", name="工作台")).to_be_visible()
    phone.goto(f"{live_server}/review/")
    expect(phone).to_have_url(re.compile(r"/review/$"))
