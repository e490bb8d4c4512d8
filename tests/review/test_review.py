"""The review workbench: queue filters and isolation, decisions, staff edits, bulk actions."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from feedback.extensions import db
from feedback.filing import services as filing
from feedback.models import Comment, OrgKind, Role, Status, Submission, Tag
from feedback.review import queue, services
from tests.conftest import csrf_token, login
from tests.factories import PASSWORD, make_org, make_submission, make_user, plan_item


def _sent(author: object, **overrides: object) -> Submission:
    return make_submission(author, submit=True, **overrides)  # type: ignore[arg-type]


def _reviewer(client: FlaskClient) -> object:
    reviewer = make_user(Role.REVIEWER, name="李处长")
    login(client, reviewer.email, PASSWORD)
    return reviewer


def _titles(page: str) -> list[str]:
    return re.findall(r'href="/review/\d+">([^<]+)</a>', page)


def test_queue_shows_only_what_reached_the_federation(client: FlaskClient) -> None:
    author = make_user()
    _sent(author, title="已报送的停车场问题材料")
    make_submission(author, title="还在草稿里的材料标题")
    _reviewer(client)
    page = client.get("/review/").get_data(as_text=True)
    assert "已报送的停车场问题材料" in page and "还在草稿里的材料标题" not in page


def test_submitters_and_administrators_cannot_open_the_queue(app: Flask) -> None:
    author = make_user()
    submission = _sent(author)
    for user in (author, make_user(Role.ADMIN)):
        client = app.test_client()
        login(client, user.email, PASSWORD)
        assert client.get("/review/").status_code == 403
        assert client.get(f"/review/{submission.id}").status_code == 403


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"kind": "problem"}, {"江苏园区的问题"}),
        ({"province": "330000"}, {"浙江园区的经验"}),
        ({"org_kind": "association"}, {"协会的建议材料"}),
        ({"plan": "E"}, {"浙江园区的经验"}),  # E covers E1 (sub-items included)
        ({"plan": "S3"}, {"江苏园区的问题", "协会的建议材料"}),
        ({"province": "320000", "kind": "suggestion"}, set()),
    ],
)
def test_filters(client: FlaskClient, args: dict[str, str], expected: set[str]) -> None:
    from feedback.filing.kinds import Kind

    jiangsu = make_user(org=make_org(region_code="320500"))
    zhejiang = make_user(org=make_org(region_code="330200"))
    association = make_user(org=make_org(OrgKind.ASSOCIATION, region_code="110000"))
    _sent(jiangsu, title="江苏园区的问题")
    _sent(
        zhejiang,
        title="浙江园区的经验",
        kind=Kind.EXPERIENCE,
        plan_item_ids=[plan_item("E1").id],
        sections={
            "practice": "园区建立承包商黑名单制度，违章即禁入，作业票证全部电子化管理。",
            "outcome": "特殊作业违章下降六成以上。",
        },
    )
    _sent(
        association,
        title="协会的建议材料",
        kind=Kind.SUGGESTION,
        sections={
            "description": "现行规定对承包商资质的要求不够具体，基层执行尺度不一。",
            "suggestion": "建议制定承包商安全管理指导意见。",
        },
    )
    _reviewer(client)
    page = client.get("/review/", query_string=args).get_data(as_text=True)
    assert set(_titles(page)) == expected


def test_two_character_search_finds_and_highlights(client: FlaskClient) -> None:
    author = make_user()
    _sent(author, title="危化品运输车辆停车场不足", summary="园区周边缺少专用停车场。")
    _sent(author, title="承包商动火作业票证不全")
    _reviewer(client)
    page = client.get("/review/?q=停车").get_data(as_text=True)
    assert "<mark>停车</mark>" in page and "票证不全" not in page
    # "不全" is only in the second title (both descriptions mention 动火).
    page = client.get("/review/?q=不全").get_data(as_text=True)
    assert "<mark>不全</mark>" in page and "停车场不足" not in page


def test_keyset_pages_cover_every_row_once(client: FlaskClient) -> None:
    author = make_user()
    for n in range(queue.PAGE_SIZE + 7):
        _sent(author, title=f"第{n:02d}份需要分页显示的材料")
    _reviewer(client)
    seen: list[str] = []
    url = "/review/"
    while url:
        page = client.get(url).get_data(as_text=True)
        seen += re.findall(r"第(\d\d)份需要分页显示的材料", page)
        nxt = re.search(r'href="(/review/\?after=[^"]+)"', page)
        url = nxt.group(1).replace("&amp;", "&") if nxt else ""
    assert sorted(seen) == [f"{n:02d}" for n in range(queue.PAGE_SIZE + 7)]


def test_decisions_and_the_submitter_sees_the_return_note(client: FlaskClient) -> None:
    author = make_user()
    submission = _sent(author)
    reviewer = _reviewer(client)
    token = csrf_token(client, f"/review/{submission.id}")
    client.post(f"/review/{submission.id}/assign", data={"csrf_token": token, "assignee": "me"})
    client.post(
        f"/review/{submission.id}/decide", data={"csrf_token": token, "action": "start_review"}
    )
    empty = client.post(
        f"/review/{submission.id}/decide",
        data={"csrf_token": token, "action": "return", "note": ""},
    )
    assert empty.status_code == 422 and "请填写说明" in empty.get_data(as_text=True)
    client.post(
        f"/review/{submission.id}/decide",
        data={"csrf_token": token, "action": "return", "note": "请补充气体分析记录"},
    )
    db.session.expire_all()
    assert submission.status == Status.RETURNED and submission.assignee_id == reviewer.id  # type: ignore[attr-defined]
    again = client.post(
        f"/review/{submission.id}/decide", data={"csrf_token": token, "action": "accept"}
    )
    assert again.status_code == 409  # an illegal transition is refused
    own = client.application.test_client()
    login(own, author.email, PASSWORD)
    assert "请补充气体分析记录" in own.get(f"/submissions/{submission.id}").get_data(as_text=True)


def test_stale_staff_edit_is_refused_and_keeps_the_text(client: FlaskClient) -> None:
    author = make_user()
    submission = _sent(author)
    _reviewer(client)
    token = csrf_token(client, f"/review/{submission.id}")
    loaded = submission.version
    base = {"csrf_token": token, "priority": "1", "plan_item_ids": [str(plan_item("S3").id)]}
    first = client.post(
        f"/review/{submission.id}/edit",
        data={**base, "version": str(loaded), "abstract": "第一位审核员的要点"},
    )
    assert first.status_code == 303
    second = client.post(
        f"/review/{submission.id}/edit",
        data={**base, "version": str(loaded), "abstract": "第二位审核员的要点"},
    )
    body = second.get_data(as_text=True)
    assert second.status_code == 409 and "第二位审核员的要点" in body
    db.session.expire_all()
    assert submission.abstract == "第一位审核员的要点"


def test_internal_comments_stay_inside_the_federation(client: FlaskClient) -> None:
    author = make_user()
    submission = _sent(author)
    _reviewer(client)
    token = csrf_token(client, f"/review/{submission.id}")
    client.post(
        f"/review/{submission.id}/comments",
        data={"csrf_token": token, "visibility": "internal", "body": "内部：疑似重复"},
    )
    client.post(
        f"/review/{submission.id}/comments",
        data={"csrf_token": token, "visibility": "to_submitter", "body": "请提供照片"},
    )
    assert db.session.scalar(select(Comment.body).where(Comment.visibility == "internal"))
    own = client.application.test_client()
    login(own, author.email, PASSWORD)
    page = own.get(f"/submissions/{submission.id}").get_data(as_text=True)
    assert "请提供照片" in page and "疑似重复" not in page


def test_filtered_bulk_tag_touches_exactly_the_confirmed_rows(client: FlaskClient) -> None:
    jiangsu = make_user(org=make_org(region_code="320500"))
    zhejiang = make_user(org=make_org(region_code="330200"))
    inside = [_sent(jiangsu, title=f"江苏材料{n}") for n in range(4)]
    outside = _sent(zhejiang, title="浙江园区的材料")
    _reviewer(client)
    tag = db.session.scalars(select(Tag)).first()
    if tag is None:
        from tests.factories import seed_taxonomy

        seed_taxonomy()
        tag = db.session.scalars(select(Tag)).first()
    assert tag is not None
    token = csrf_token(client, "/review/")
    form = {
        "csrf_token": token,
        "province": "320000",
        "scope": "all",
        "action": "tag",
        "tag_id": str(tag.id),
    }
    confirm = client.post("/review/bulk", data=form)
    assert "将为 4 份材料添加标签" in confirm.get_data(as_text=True)
    make_submission(jiangsu, submit=True, title="确认后才报送的江苏材料")  # the filter grew
    stale = client.post(
        "/review/bulk", data={**form, "confirmed_count": "4"}, follow_redirects=True
    )
    assert "数量已变化" in stale.get_data(as_text=True)
    db.session.expire_all()
    assert all(tag not in s.tags for s in inside)
    client.post("/review/bulk", data={**form, "confirmed_count": "5"})
    db.session.expire_all()
    assert all(tag in s.tags for s in inside) and tag not in outside.tags


def test_bulk_tag_offers_and_takes_only_tags_in_use(client: FlaskClient) -> None:
    """The queue's tag menus are the detail page's (active tags of active groups, in the
    administrator's order); a tag retired after the page was opened is refused with a message,
    and no row is tagged."""
    from feedback.filing.choices import tag_choices
    from feedback.models import TagGroup
    from tests.factories import seed_taxonomy

    rows = [_sent(make_user(), title=f"待标注的材料{n}") for n in range(2)]
    _reviewer(client)
    seed_taxonomy()
    retired_group = TagGroup(code="retired", name="已停用的标签组", active=False, sort_order=0)
    db.session.add(retired_group)
    db.session.flush()
    old = Tag(group_id=retired_group.id, name="旧分类标签", active=True)
    usable = db.session.scalars(select(Tag).where(Tag.active)).first()
    db.session.add(old)
    db.session.commit()
    assert usable is not None

    page = client.get("/review/").get_data(as_text=True)
    assert "旧分类标签" not in page
    for name in ('id="tag" name="tag"', 'name="tag_id"'):  # the filter and the bulk action
        menu = page.split(name, 1)[1].split("</select>", 1)[0]
        offered = re.findall(r'<option value="(\d+)"[^>]*>([^<]+)</option>', menu)
        assert [(int(i), n) for i, n in offered] == tag_choices()
    for tag in (old, usable):
        tag_id = str(tag.id)
        form = {"csrf_token": csrf_token(client, "/review/"), "scope": "all", "action": "tag"}
        form |= {"tag_id": tag_id, "confirmed_count": "2"}
        if tag is usable:  # retired after the page was opened
            usable.active = False
            db.session.commit()
        answer = client.post("/review/bulk", data=form, follow_redirects=True)
        assert f"标签“{tag.name}”已停用，请选择其他标签。" in answer.get_data(as_text=True)
        db.session.expire_all()
        assert all(not row.tags for row in rows)


def test_bulk_start_review_only_moves_legal_rows(app: Flask) -> None:
    author = make_user()
    staff = make_user(Role.REVIEWER)
    rows = [_sent(author) for _ in range(3)]
    filing.decide(staff, rows[0], "start_review")
    result = services.bulk(staff, rows, "start_review", expected_count=3)
    assert (result.changed, result.skipped) == (2, 1)
    assert {r.status for r in rows} == {Status.IN_REVIEW}


def test_similar_submissions_are_shown_and_confirmed(client: FlaskClient) -> None:
    text = (
        "园区周边危险化学品运输车辆专用停车场严重不足，大量车辆在道路两侧临时停放，"
        "存在交通事故和泄漏的双重风险，建议加快专用停车场建设。"
    )
    first = _sent(
        make_user(org=make_org(region_code="320500")),
        title="危化品车辆停车场不足",
        sections={"description": text},
    )
    second = _sent(
        make_user(org=make_org(region_code="330200")),
        title="危化品运输车辆停车难",
        sections={"description": text.replace("严重不足", "明显不足")},
        region_code="330200",
    )
    _sent(make_user(), title="承包商作业票证填写不规范")
    _reviewer(client)
    page = client.get(f"/review/{first.id}").get_data(as_text=True)
    assert "危化品运输车辆停车难" in page and "承包商作业票证" not in page
    assert "2 个单位（2 个省份）" in page
    link = re.search(rf"/review/{first.id}/similar/(\d+)/confirm", page)
    assert link
    token = csrf_token(client, f"/review/{first.id}")
    client.post(f"/review/{first.id}/similar/{link.group(1)}/confirm", data={"csrf_token": token})
    page = client.get(f"/review/{second.id}").get_data(as_text=True)
    assert "已确认同一问题" in page


def test_submitter_never_sees_another_organisations_similar_report(client: FlaskClient) -> None:
    text = (
        "园区周边危险化学品运输车辆专用停车场严重不足，大量车辆在道路两侧临时停放，存在双重风险。"
    )
    mine = make_user(org=make_org(region_code="320500"))
    own = _sent(mine, title="本园区的停车场问题", sections={"description": text})
    _sent(
        make_user(org=make_org(region_code="330200")),
        title="别的园区的停车场问题",
        sections={"description": text},
    )
    login(client, mine.email, PASSWORD)
    assert "别的园区" not in client.get(f"/submissions/{own.id}").get_data(as_text=True)
    assert client.get(f"/review/{own.id}").status_code == 403


def test_queue_queries_do_not_grow_with_the_rows(client: FlaskClient) -> None:
    """No per-row queries (N+1): 3 rows and 20 rows, each from its own organisation and each
    assigned, cost the same."""
    from tests.queries import statements

    reviewer = _reviewer(client)

    def count_queries() -> int:
        with statements() as seen:
            assert client.get("/review/").status_code == 200
        return len(seen)

    def add(n: int) -> None:
        for _ in range(n):
            submission = _sent(make_user())  # a new organisation each time
            services.assign(reviewer, submission, make_user(Role.REVIEWER))  # type: ignore[arg-type]
        db.session.commit()

    add(3)
    few = count_queries()
    add(17)
    assert count_queries() == few


def test_search_shows_where_a_section_matched(client: FlaskClient) -> None:
    author = make_user()
    _sent(
        author,
        title="装置检修期间的安全管理问题",
        summary="检修期间管理薄弱。",
        sections={"description": "部分企业在装置开停车期间未落实专人监护，存在较大风险隐患。"},
    )
    _reviewer(client)
    page = client.get("/review/?q=停车").get_data(as_text=True)
    assert "开<mark>停车</mark>期间" in page
