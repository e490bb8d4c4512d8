"""The compiler's later steps in the browser: reword an item, mark it sent, record the reply."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import Page, expect

from feedback.extensions import db
from feedback.models import MinistryResponse, Role, Submission
from feedback.reports import services
from tests.browser.conftest import log_in
from tests.factories import accepted_submission, make_user, seed_taxonomy

pytestmark = pytest.mark.browser


def test_reword_an_item_send_the_version_and_record_the_ministry_reply(
    live_server: str, page: Page
) -> None:
    seed_taxonomy()
    officer = make_user(Role.SUBMITTER, email="zhang@park.cn")
    submission = accepted_submission(officer, title="园区危化品车辆停车难问题")
    compiler = make_user(Role.COMPILER, email="wang@cpcif.cn", name="王主任")
    report = services.create(
        compiler,
        services.ReportInput(title="2026年第四季度汇总报告", period_label="2026年第四季度"),
    )
    services.add_items(compiler, report, submissions=[submission])
    db.session.commit()

    log_in(page, live_server, "wang@cpcif.cn")
    page.goto(f"{live_server}/reports/{report.id}")
    page.get_by_role("link", name="改写", exact=True).click()
    title = page.get_by_label("标题")
    expect(title).to_have_value("园区危化品车辆停车难问题")
    title.fill("危化品运输车辆专用停车场不足")
    page.get_by_role("button", name="保存改写").click()
    expect(page.get_by_text("已保存改写。")).to_be_visible()
    expect(page.get_by_text("已改写", exact=True)).to_be_visible()

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="冻结为第 1 版").click()
    expect(page.get_by_text("已冻结为第 1 版")).to_be_visible()
    page.get_by_text("登记报送", exact=True).click()
    page.get_by_label("报送日期").fill("2026-11-20")
    page.get_by_label("报送方式").fill("公文交换")
    page.get_by_label("文号").fill("石化联〔2026〕45号")
    page.get_by_role("button", name="登记第 1 版已报送").click()
    expect(page.get_by_text("已登记第 1 版报送，1 份来源材料标记为“已报部”。")).to_be_visible()

    page.get_by_role("link", name="部里的意见（0/1）").click()
    page.get_by_role("group", name="意见").get_by_label("部分采纳").check()
    page.get_by_label("说明").fill("纳入2027年专项整治")
    page.get_by_role("button", name="登记", exact=True).click()
    expect(page.get_by_text("已登记部里的意见。")).to_be_visible()
    expect(page.get_by_text("纳入2027年专项整治")).to_be_visible()

    # The workbook says the new wording; the submission keeps the officer's own title.
    with page.expect_download() as download:
        page.goto(f"{live_server}/reports/{report.id}")
        page.get_by_role("link", name="第 1 版（", exact=False).click()
    book = openpyxl.load_workbook(io.BytesIO(Path(download.value.path()).read_bytes()))
    flat = "\n".join(str(c.value) for ws in book for row in ws.iter_rows() for c in row if c.value)
    assert "危化品运输车辆专用停车场不足" in flat
    assert "园区危化品车辆停车难问题" not in flat
    db.session.rollback()  # end the read snapshot taken before the browser wrote
    assert db.session.get(Submission, submission.id).title == "园区危化品车辆停车难问题"  # type: ignore[union-attr]
    reply = db.session.query(MinistryResponse).one()
    assert (reply.verdict, reply.note) == ("partly", "纳入2027年专项整治")
