"""Filing journeys in the browser (JOURNEYS.md, 张工 at a chemical park)."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from openpyxl import load_workbook
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from feedback.extensions import db
from feedback.filing import services
from feedback.models import Role, Status, Submission
from tests.browser.conftest import log_in
from tests.factories import make_org, make_user, seed_taxonomy

pytestmark = pytest.mark.browser
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PDF_NAME = "园区特殊作业专项检查报告（2026年11月）.pdf"


def _logout(page: Page) -> None:
    page.get_by_role("button", name="退出").click()
    expect(page.get_by_role("heading", name="登录")).to_be_visible()


def test_park_files_a_problem_draft_reload_submit_then_approver_approves(
    live_server: str, page: Page, tmp_path: Path
) -> None:
    seed_taxonomy()
    park = make_org(name="苏州某化工园区管委会", requires_approval=True)
    officer = make_user(Role.SUBMITTER, org=park, email="zhang@park.cn", name="张工")
    director = make_user(Role.ORG_APPROVER, org=park, email="director@park.cn", name="王主任")
    assert officer.id and director.id
    db.session.commit()
    pdf = tmp_path / PDF_NAME
    pdf.write_bytes(PDF)

    log_in(page, live_server, "zhang@park.cn")
    page.get_by_role("link", name="新建材料").first.click()
    page.get_by_role("link", name=re.compile("发现问题")).click()
    page.get_by_label("标题").fill("承包商动火作业票证管理不规范")
    page.get_by_label("摘要").fill("专项检查发现承包商动火作业票证填写不全。")
    page.get_by_label("问题描述").fill(
        "2026年11月专项检查中，园区内3家企业的承包商动火作业票证缺少气体分析记录。"
    )
    page.get_by_label("S3 安全预防控制体系").check()
    page.locator("summary", has_text="建议标签").click()
    page.get_by_label("特殊作业", exact=True).check()
    page.get_by_label("联系电话").fill("138 1234 5678")
    page.get_by_label("选择文件").set_input_files(str(pdf))
    page.get_by_role("button", name="保存草稿").click()
    expect(page.get_by_text("草稿已保存")).to_be_visible()

    page.reload()  # the browser crashed; the draft is on the server
    expect(page.get_by_label("标题")).to_have_value("承包商动火作业票证管理不规范")
    expect(page.get_by_role("link", name=PDF_NAME)).to_be_visible()
    page.get_by_role("button", name="提交", exact=True).click()
    expect(page.get_by_text("已提交单位负责人审核。", exact=True)).to_be_visible()
    expect(page.locator(".badge", has_text="待单位审核")).to_be_visible()
    _logout(page)

    log_in(page, live_server, "director@park.cn")
    expect(page.get_by_text("有 1 份材料等待您审核")).to_be_visible()
    page.get_by_role("link", name="去审核").click()
    page.get_by_role("link", name="承包商动火作业票证管理不规范").click()
    page.get_by_role("button", name="审核通过，报送联合会").click()
    expect(page.get_by_text("已审核通过，材料已报送联合会")).to_be_visible()
    expect(page.locator(".badge", has_text="已报送")).to_be_visible()
    db.session.commit()
    submission = db.session.scalars(select(Submission)).one()
    assert submission.status == Status.SUBMITTED
    assert [a.original_name for a in submission.attachments] == [PDF_NAME]


def test_submitter_answers_a_return_and_resubmits(live_server: str, page: Page) -> None:
    seed_taxonomy()
    officer = make_user(Role.SUBMITTER, email="zhang@park.cn", name="张工")
    staff = make_user(Role.REVIEWER)
    from tests.factories import make_submission

    submission = make_submission(officer, submit=True)
    services.decide(staff, submission, "start_review")
    services.decide(staff, submission, "return", "请补充气体分析记录")
    db.session.commit()
    submission_id = submission.id

    log_in(page, live_server, "zhang@park.cn")
    expect(page.get_by_text("有 1 份材料被退回修改")).to_be_visible()
    page.get_by_role("link", name="通知").click()
    page.get_by_role("button", name=re.compile("材料被退回修改")).click()
    expect(page.get_by_role("status").get_by_text("请补充气体分析记录")).to_be_visible()
    page.get_by_role("link", name="修改并重新提交").click()
    description = page.get_by_label("问题描述")
    description.fill(
        description.input_value() + "\n已补充：11月20日动火前气体分析记录，可燃气体浓度0.1%LEL。"
    )
    page.get_by_role("button", name="重新提交").click()
    expect(page.get_by_text("已提交联合会")).to_be_visible()
    expect(page.get_by_role("link", name="第 1 版")).to_be_visible()
    expect(page.get_by_role("link", name="第 2 版")).to_be_visible()
    page.get_by_role("link", name="第 1 版").click()
    expect(page.get_by_text("可燃气体浓度")).to_have_count(0)  # the earlier text is kept as it was
    db.session.commit()
    resubmitted = db.session.get(Submission, submission_id)
    assert resubmitted is not None and resubmitted.status == Status.SUBMITTED


def _fill_rows(template: bytes, rows: list[dict[str, str]], path: Path) -> None:
    workbook = load_workbook(io.BytesIO(template))
    sheet = workbook["填报"]
    headers = [str(c.value).removesuffix(" *") for c in sheet[1]]
    sheet.delete_rows(2, sheet.max_row)
    for number, row in enumerate(rows, start=2):
        for column, header in enumerate(headers, start=1):
            sheet.cell(row=number, column=column, value=row.get(header, ""))
    workbook.save(path)


def test_import_with_two_bad_rows_imports_nothing_until_fixed(
    app: Flask, live_server: str, page: Page, tmp_path: Path, job_queue: Any
) -> None:
    from tests.test_jobs import work

    app.config["IMPORT_JOB_FROM_ROWS"] = 10  # the 12 rows go to a background job
    seed_taxonomy()
    make_user(Role.SUBMITTER, email="zhang@park.cn")
    db.session.commit()
    log_in(page, live_server, "zhang@park.cn")
    page.goto(f"{live_server}/submissions/import/")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="发现问题").click()
    template = Path(download_info.value.path()).read_bytes()
    rows = [
        {
            "标题": f"第{n}家企业承包商动火作业票证不全",
            "摘要": "专项检查发现的问题。",
            "规划条目": "S3",
            "所在省份": "江苏省",
            "联系人": "张工",
            "联系电话": "13812345678",
            "敏感程度": "可报送应急管理部",
            "问题描述": "园区专项检查发现该企业承包商动火作业票证缺少气体分析记录和审批签字。",
        }
        for n in range(1, 13)
    ]
    rows[3]["联系电话"] = "1234"  # Excel row 5
    rows[6]["规划条目"] = "Z9"  # Excel row 8
    bad = tmp_path / "园区企业问题汇总.xlsx"
    _fill_rows(template, rows, bad)
    page.get_by_label("材料类型").select_option("problem")
    page.get_by_label(re.compile("填好的模板文件")).set_input_files(str(bad))
    page.get_by_role("button", name="上传并检查").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("第5行 联系电话")
    expect(alert).to_contain_text("第8行 规划条目")
    expect(page.get_by_role("button", name=re.compile("导入为草稿"))).to_have_count(0)
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Submission)) == 0

    rows[3]["联系电话"] = "0512-68681234"
    rows[6]["规划条目"] = "S2"
    _fill_rows(template, rows, bad)
    page.get_by_role("link", name="重新上传").click()
    page.get_by_label(re.compile("填好的模板文件")).set_input_files(str(bad))
    page.get_by_role("button", name="上传并检查").click()
    page.get_by_role("button", name="导入为草稿（12 份）").click()
    # Queued: the progress page polls until a worker has written the rows, then shows them.
    expect(page.get_by_role("heading", name="正在导入 12 份材料")).to_be_visible()
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Submission)) == 0
    work(job_queue)
    expect(page.get_by_role("heading", name="导入完成")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile(r"^FK-"))).to_have_count(12)
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Submission)) == 12


def test_autosaved_draft_survives_a_browser_crash(live_server: str, page: Page) -> None:
    seed_taxonomy()
    make_user(Role.SUBMITTER, email="zhang@park.cn")
    db.session.commit()
    log_in(page, live_server, "zhang@park.cn")
    page.goto(f"{live_server}/submissions/new?kind=problem")
    page.get_by_label("标题").fill("夜间巡检发现的罐区问题")
    page.get_by_label("问题描述").fill(
        "晚上十一点巡检时发现罐区可燃气体报警器有两处离线，尚未恢复。"
    )
    with page.expect_response(
        lambda r: (
            "/submissions/autosave" in r.url
            and r.ok
            and "尚未恢复" in (r.request.post_data_buffer or b"").decode("utf-8", "replace")
        )
    ):
        page.get_by_label("标题").focus()  # leaving the text area triggers the autosave
    expect(page.locator("#autosave-status")).to_contain_text("已自动保存")
    page.context.clear_cookies()  # the browser crashed; she logs in again later
    log_in(page, live_server, "zhang@park.cn")
    page.get_by_role("link", name="本单位填报").first.click()
    page.get_by_role("link", name="夜间巡检发现的罐区问题").click()
    page.get_by_role("link", name="继续编辑").click()
    expect(page.get_by_label("问题描述")).to_have_value(
        "晚上十一点巡检时发现罐区可燃气体报警器有两处离线，尚未恢复。"
    )
