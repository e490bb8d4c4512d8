"""The reviewer's day in the browser (JOURNEYS.md, 李处长)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from feedback.extensions import db
from feedback.models import Role, Status, Submission, Tag
from tests.browser.conftest import log_in
from tests.factories import make_org, make_submission, make_user, seed_taxonomy

pytestmark = pytest.mark.browser


def test_search_assign_return_and_the_submitter_sees_it(live_server: str, page: Page) -> None:
    seed_taxonomy()
    officer = make_user(Role.SUBMITTER, email="zhang@park.cn", name="张工")
    make_user(Role.REVIEWER, email="li@cpcif.cn", name="李处长")
    make_submission(
        officer,
        submit=True,
        title="危化品运输车辆停车场严重不足",
        summary="园区周边缺少危化品车辆专用停车场。",
    )
    make_submission(officer, submit=True, title="承包商作业票证填写不规范")
    db.session.commit()

    log_in(page, live_server, "li@cpcif.cn")
    page.get_by_role("link", name="审核工作台", exact=True).click()
    page.get_by_label(re.compile("全文搜索")).fill("停车")
    page.get_by_role("button", name="筛选").click()
    expect(page.locator("mark", has_text="停车").first).to_be_visible()
    expect(page.get_by_text("承包商作业票证填写不规范")).to_have_count(0)
    page.get_by_role("link", name=re.compile("危化品运输车辆")).click()
    page.get_by_role("button", name="由我审核").click()
    expect(page.get_by_role("heading", name="审核人：李处长")).to_be_visible()
    page.get_by_role("button", name="开始审核").click()
    page.get_by_label(re.compile("说明")).fill("请补充停车场缺口的车辆数量测算")
    page.get_by_role("button", name="退回修改").click()
    expect(page.get_by_text("已退回填报单位修改")).to_be_visible()
    page.get_by_role("button", name="退出").click()

    log_in(page, live_server, "zhang@park.cn")
    page.get_by_role("link", name="查看并修改").click()
    page.get_by_role("link", name="危化品运输车辆停车场严重不足").click()
    expect(page.get_by_role("status").get_by_text("请补充停车场缺口的车辆数量测算")).to_be_visible()


def test_bulk_tag_a_filtered_set_of_thirty(live_server: str, page: Page) -> None:
    seed_taxonomy()
    jiangsu = make_user(Role.SUBMITTER, org=make_org(region_code="320500"))
    zhejiang = make_user(Role.SUBMITTER, org=make_org(region_code="330200"))
    for n in range(30):
        make_submission(jiangsu, submit=True, title=f"江苏园区第{n}份问题材料")
    make_submission(zhejiang, submit=True, title="浙江园区的一份问题材料")
    make_user(Role.REVIEWER, email="li@cpcif.cn")
    tag = db.session.scalars(select(Tag).where(Tag.name == "特殊作业")).one()
    tag_id = tag.id
    db.session.commit()

    log_in(page, live_server, "li@cpcif.cn")
    page.goto(f"{live_server}/review/")
    page.get_by_label("省份").select_option(label="江苏省")
    page.get_by_role("button", name="筛选").click()
    expect(page.get_by_text("共 30 份")).to_be_visible()
    page.get_by_label("批量操作").select_option("tag")
    page.locator("#bulk-tag").select_option(label="特殊作业")
    page.get_by_role("button", name="对全部 30 份符合条件的材料").click()
    expect(page.get_by_role("alert")).to_contain_text("将为 30 份材料添加标签“特殊作业”")
    page.get_by_role("button", name="确认，处理这 30 份").click()
    expect(page.get_by_text("已处理 30 份材料")).to_be_visible()
    db.session.commit()
    tagged = db.session.scalars(
        select(Submission).where(Submission.tags.any(Tag.id == tag_id))
    ).all()
    assert len(tagged) == 30
    assert all(s.title.startswith("江苏") for s in tagged)
    assert all(s.status == Status.SUBMITTED for s in tagged)


def test_confirm_two_similar_submissions_into_a_consolidated_suggestion(
    live_server: str, page: Page
) -> None:
    seed_taxonomy()
    text = {
        "summary": "园区周边缺少危化品运输车辆专用停车场，车辆沿路停放，存在较大安全风险。",
        "sections": {
            "description": "危化品运输车辆在园区周边道路长时间停放，缺少专用停车场，"
            "一旦发生泄漏难以及时处置，周边企业和居民面临较大风险。"
        },
    }
    jiangsu = make_user(Role.SUBMITTER, org=make_org(region_code="320500"))
    zhejiang = make_user(Role.SUBMITTER, org=make_org(region_code="330200"))
    make_submission(jiangsu, submit=True, title="危化品车辆专用停车场不足", **text)
    make_submission(
        zhejiang, submit=True, title="缺少危化品车辆专用停车场", region_code="330200", **text
    )
    make_user(Role.REVIEWER, email="li@cpcif.cn", name="李处长")
    db.session.commit()

    log_in(page, live_server, "li@cpcif.cn")
    page.get_by_role("link", name="审核工作台", exact=True).click()
    page.get_by_role("link", name="危化品车辆专用停车场不足").click()
    similar = page.get_by_role("region", name="相似材料")
    expect(similar.get_by_role("link", name="缺少危化品车辆专用停车场")).to_be_visible()
    similar.get_by_role("button", name=re.compile("确认与“缺少危化品车辆专用停车场”")).click()
    expect(page.get_by_text("已确认为同一问题")).to_be_visible()
    page.get_by_role("link", name="以本材料和 1 份已确认的相似材料新建汇总建议").click()

    page.get_by_label("建议标题").fill("建议加快危险化学品运输车辆专用停车场建设")
    page.get_by_label("问题与依据").fill("江苏、浙江两地园区反映危化品运输车辆缺少专用停车场。")
    page.get_by_label("建议内容").fill("建议交通运输部会同应急管理部制定专用停车场建设指南。")
    page.get_by_label("建议责任部门").fill("交通运输部")
    page.get_by_role("button", name="保存汇总建议").click()

    title = "建议加快危险化学品运输车辆专用停车场建设"
    expect(page.get_by_role("heading", name=title)).to_be_visible()
    expect(page.get_by_text("2 个单位（2 个省份）的 2 份材料反映了这一问题")).to_be_visible()
    page.get_by_role("link", name="汇总建议", exact=True).first.click()
    row = page.get_by_role("row", name=re.compile("专用停车场建设"))
    expect(row).to_contain_text("交通运输部")


def test_a_tag_the_administrator_adds_or_retires_reaches_the_reviewer_at_once(
    live_server: str, page: Page
) -> None:
    """Menus are kept per process (feedback/menus.py): a tag added in the administration is in
    the reviewer's queue at the next page, and one retired while the reviewer is confirming a
    bulk action is refused with a message, not applied."""
    from feedback.models import TagGroup

    seed_taxonomy()
    make_user(Role.ADMIN, email="admin@cpcif.cn", name="系统管理员")
    make_user(Role.REVIEWER, email="li@cpcif.cn", name="李处长")
    jiangsu = make_user(Role.SUBMITTER, org=make_org(region_code="320500"))
    for n in range(3):
        make_submission(jiangsu, submit=True, title=f"江苏园区储罐区第{n}份材料")
    group = db.session.scalars(select(TagGroup).where(TagGroup.active)).first()
    assert group is not None
    group_id, group_name = group.id, group.name
    db.session.commit()
    new_tag = "储罐区泄漏检测"

    browser = page.context.browser
    assert browser is not None
    reviewer = browser.new_context(locale="zh-CN").new_page()
    log_in(reviewer, live_server, "li@cpcif.cn")
    reviewer.goto(f"{live_server}/review/")
    expect(reviewer.locator("#tag option", has_text=new_tag)).to_have_count(0)

    log_in(page, live_server, "admin@cpcif.cn")
    page.goto(f"{live_server}/admin/tags")
    page.get_by_label(f"新标签名称（{group_name}）").fill(new_tag)
    page.locator(f"#group-{group_id}").get_by_role("button", name="添加").click()
    expect(page.get_by_text("已添加标签。")).to_be_visible()

    reviewer.reload()
    expect(reviewer.locator("#tag option", has_text=new_tag)).to_have_count(1)
    reviewer.get_by_label("批量操作").select_option("tag")
    reviewer.locator("#bulk-tag").select_option(label=new_tag)
    reviewer.get_by_role("button", name="对全部 3 份符合条件的材料").click()
    expect(reviewer.get_by_role("alert")).to_contain_text(f"将为 3 份材料添加标签“{new_tag}”")

    page.get_by_role("button", name=f"停用标签“{new_tag}”").click()
    expect(page.get_by_text(f"已更新标签“{new_tag}”。")).to_be_visible()

    reviewer.get_by_role("button", name="确认，处理这 3 份").click()
    expect(reviewer.get_by_text(f"标签“{new_tag}”已停用，请选择其他标签。")).to_be_visible()
    expect(reviewer.locator("#tag option", has_text=new_tag)).to_have_count(0)
    db.session.commit()
    assert not db.session.scalars(
        select(Submission).where(Submission.tags.any(Tag.name == new_tag))
    ).all()
    reviewer.context.close()


def test_assign_a_colleague_from_the_detail_page_menu(live_server: str, page: Page) -> None:
    """The assignee menu lists the staff by name and keeps the current assignee selected."""
    officer = make_user(Role.SUBMITTER)
    make_user(Role.REVIEWER, email="li@cpcif.cn", name="李处长")
    make_user(Role.REVIEWER, email="wang@cpcif.cn", name="王科长")
    submission = make_submission(officer, submit=True, title="储罐区可燃气体报警器失效")
    submission_id = submission.id
    db.session.commit()

    log_in(page, live_server, "li@cpcif.cn")
    page.goto(f"{live_server}/review/{submission_id}")
    page.get_by_label("分配给").select_option(label="王科长")
    page.get_by_role("button", name="分配", exact=True).click()
    expect(page.get_by_role("heading", name="审核人：王科长")).to_be_visible()
    expect(page.get_by_label("分配给").locator("option:checked")).to_have_text("王科长")
