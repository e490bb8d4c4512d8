"""The compiler's day in the browser (JOURNEYS.md, 王主任): build, preview, freeze, download."""

from __future__ import annotations

import io
import re
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import Page, expect

from feedback.consolidation import services as consolidation
from feedback.extensions import db
from feedback.models import ParkLevel, Role
from tests.browser.conftest import log_in
from tests.factories import (
    accepted_submission,
    make_org,
    make_submission,
    make_user,
    plan_item,
    seed_taxonomy,
)

pytestmark = pytest.mark.browser


def _rows(ws: openpyxl.worksheet.worksheet.Worksheet, header: str) -> list[object]:
    for row in ws.iter_rows():
        for cell in row:
            if cell.value == header:
                return [ws.cell(r, cell.column).value for r in range(cell.row + 1, ws.max_row + 1)]
    raise AssertionError(header)


def test_build_preview_freeze_and_download_a_report(live_server: str, page: Page) -> None:
    seed_taxonomy()
    reviewer = make_user(Role.REVIEWER)
    anonymous_park = make_org(name="不愿具名的化工园区", region_code="320500",
                              park_level=ParkLevel.PROVINCIAL)  # fmt: skip
    jiangsu = make_user(Role.SUBMITTER, org=anonymous_park)
    zhejiang = make_user(Role.SUBMITTER, org=make_org(name="宁波石化园区", region_code="330200"))
    hidden = accepted_submission(jiangsu, reviewer, title="江苏园区的动火作业问题", anonymous=True)
    accepted_submission(jiangsu, reviewer, title="江苏园区第二个动火作业问题", anonymous=True)
    source = accepted_submission(
        zhejiang, reviewer, title="浙江园区危化品车辆停车难", region_code="330200"
    )
    consolidation.create(
        make_user(Role.REVIEWER),
        consolidation.SuggestionInput(
            title="建议加快危化品车辆专用停车场建设", description="多地园区反映危化品车辆停车难。",
            suggestion="建议交通运输部会同应急管理部制定专用停车场建设指南。",
            department="交通运输部", plan_item_ids=[plan_item("S3").id],
            references=source.reference or "",
        ),
    )  # fmt: skip
    make_user(Role.COMPILER, email="wang@cpcif.cn", name="王主任")
    db.session.commit()

    log_in(page, live_server, "wang@cpcif.cn")
    page.get_by_role("link", name="汇总报告", exact=True).click()
    page.get_by_role("link", name="新建报告").click()
    expect(page.get_by_label("报告期")).not_to_have_value("")
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_text("报告已创建")).to_be_visible()
    report_url = page.url

    page.get_by_label("建议加快危化品车辆专用停车场建设").check()
    page.get_by_role("button", name="加入", exact=True).click()
    expect(page.get_by_text("已加入 1 项")).to_be_visible()

    # From a filter: the accepted material of 江苏省.
    page.get_by_role("link", name="打开审核工作台").click()
    page.get_by_label("省份").select_option(label="江苏省")
    page.get_by_role("button", name="筛选").click()
    expect(page.get_by_text("共 2 份")).to_be_visible()
    page.get_by_label("批量操作").select_option("report")
    page.get_by_role("button", name="对全部 2 份符合条件的材料").click()
    expect(page.get_by_role("alert")).to_contain_text("将把 2 份材料加入汇总报告")
    page.get_by_role("button", name="确认，处理这 2 份").click()
    expect(page.get_by_text("已处理 2 份材料")).to_be_visible()

    page.goto(report_url)
    page.get_by_role("link", name="预览").click()
    expect(page.get_by_text("某省级化工园区（江苏省）").first).to_be_visible()
    expect(page.get_by_text("不愿具名的化工园区")).to_have_count(0)
    page.go_back()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="冻结为第 1 版").click()
    expect(page.get_by_text("已冻结为第 1 版")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("第 1 版（")).click()
    content = Path(download.value.path()).read_bytes()

    book = openpyxl.load_workbook(io.BytesIO(content))
    assert book.sheetnames[:6] == ["说明", "统计", "政策建议", "发现问题", "典型经验", "来源清单"]
    suggestions = [v for v in _rows(book["政策建议"], "标题") if v]
    problems = [v for v in _rows(book["发现问题"], "报送单位") if v]
    sources = [v for v in _rows(book["来源清单"], "编号") if v]
    assert suggestions == ["建议加快危化品车辆专用停车场建设"]
    assert problems == ["某省级化工园区（江苏省）"] * 2
    assert len(sources) == 3 and hidden.reference in sources and source.reference in sources
    flat = " ".join(str(c.value) for ws in book for row in ws.iter_rows() for c in row if c.value)
    assert "不愿具名的化工园区" not in flat


def test_a_park_officer_sees_the_ministry_response_on_a_phone(
    live_server: str, phone: Page
) -> None:
    from datetime import date

    from feedback.reports import services

    seed_taxonomy()
    officer = make_user(Role.SUBMITTER, email="zhang@park.cn", name="张工")
    submission = accepted_submission(
        officer, make_user(Role.REVIEWER), title="危化品车辆专用停车场不足"
    )
    compiler = make_user(Role.COMPILER)
    report = services.create(
        compiler,
        services.ReportInput(title="2026年第四季度汇总报告", period_label="2026年第四季度"),
    )
    services.add_items(compiler, report, submissions=[submission])
    edition = services.freeze(compiler, report)
    services.mark_sent(compiler, edition, sent_on=date(2026, 11, 20), channel="公文交换",
                       document_number="石化联〔2026〕45号")  # fmt: skip
    services.respond(compiler, edition, f"s{submission.id}", verdict="partly",
                     note="纳入2027年专项整治", responded_on=date(2026, 11, 27))  # fmt: skip
    db.session.commit()

    log_in(phone, live_server, "zhang@park.cn")
    phone.goto(f"{live_server}/submissions/{submission.id}")
    region = phone.get_by_role("region", name="应急管理部意见")
    expect(region).to_contain_text("部分采纳")
    expect(region).to_contain_text("纳入2027年专项整治")
    expect(phone.get_by_text("已报部", exact=True)).to_be_visible()
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390


def test_a_large_export_runs_in_the_background_and_downloads(
    live_server: str, page: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feedback.reports import exports

    monkeypatch.setattr(exports, "DIRECT_LIMIT", 2)  # three rows count as "large" here
    seed_taxonomy()
    officer = make_user(Role.SUBMITTER)
    for n in range(3):
        make_submission(officer, submit=True, title=f"后台导出的第{n}份问题材料")
    make_user(Role.REVIEWER, email="li@cpcif.cn", name="李处长")
    db.session.commit()

    log_in(page, live_server, "li@cpcif.cn")
    page.goto(f"{live_server}/review/")
    page.get_by_role("link", name="导出", exact=True).click()
    expect(page.get_by_text("超过 2 份的导出在后台生成")).to_be_visible()
    page.get_by_role("button", name="导出 3 份").click()
    # The progress page polls and reloads itself when the file is ready.
    download_link = page.get_by_role("link", name=re.compile("下载 材料导出-"))
    expect(download_link).to_be_visible(timeout=30_000)
    with page.expect_download() as download:
        download_link.click()
    book = openpyxl.load_workbook(io.BytesIO(Path(download.value.path()).read_bytes()))
    titles = [row[1] for row in book.active.iter_rows(min_row=2, values_only=True)]
    assert sorted(titles) == [f"后台导出的第{n}份问题材料" for n in range(3)]


def test_an_interrupted_export_says_so_and_restarts_to_a_download(
    live_server: str, page: Page
) -> None:
    from datetime import timedelta

    from feedback.models import ExportStatus, utcnow
    from feedback.reports import exports
    from feedback.review import queue

    officer = make_user(Role.SUBMITTER)
    for n in range(3):
        make_submission(officer, submit=True, title=f"中断后重新导出的第{n}份材料")
    reviewer = make_user(Role.REVIEWER, email="li@cpcif.cn", name="李处长")
    job = exports.create_job(reviewer, "xlsx", queue.QueueFilters(), exports.chosen([]), 3)
    # Its process died an hour ago while writing (a restart, a recycled worker).
    job.status = ExportStatus.RUNNING
    job.heartbeat_at = utcnow() - timedelta(hours=1)
    db.session.commit()

    log_in(page, live_server, "li@cpcif.cn")
    page.goto(f"{live_server}/exports/{job.id}")
    expect(page.get_by_role("alert")).to_contain_text("导出在生成过程中中断")
    page.get_by_role("button", name="重新开始导出").click()
    download_link = page.get_by_role("link", name=re.compile("下载 材料导出-"))
    expect(download_link).to_be_visible(timeout=30_000)
    with page.expect_download() as download:
        download_link.click()
    book = openpyxl.load_workbook(io.BytesIO(Path(download.value.path()).read_bytes()))
    titles = [row[1] for row in book.active.iter_rows(min_row=2, values_only=True)]
    assert sorted(titles) == [f"中断后重新导出的第{n}份材料" for n in range(3)]
