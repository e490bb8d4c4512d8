"""Consolidated suggestions: evidence, links kept forever, conflicts, isolation, entry points."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from feedback.consolidation import services
from feedback.exceptions import PermissionDenied, StaleVersion, ValidationFailed
from feedback.extensions import db
from feedback.models import (
    ConsolidatedSource,
    ConsolidatedSuggestion,
    Event,
    Role,
    Submission,
    User,
)
from feedback.review import similarity
from tests.conftest import csrf_token, login, post_form
from tests.factories import (
    PASSWORD,
    make_org,
    make_submission,
    make_user,
    plan_item,
    similarity_link,
)


def _sent(author: User, **overrides: object) -> Submission:
    return make_submission(author, submit=True, **overrides)


def _input(*sources: Submission, **overrides: object) -> services.SuggestionInput:
    values: dict[str, object] = {
        "title": "建议加快危险化学品运输车辆专用停车场建设",
        "description": "多个园区反映危化品运输车辆缺少专用停车场，车辆沿路停放，风险集中。",
        "suggestion": "建议交通运输部会同应急管理部制定危化品车辆专用停车场建设指南。",
        "basis": "《危险化学品安全法》",
        "department": "交通运输部",
        "plan_item_ids": [plan_item("S3").id],
        "references": "\n".join(s.reference or "" for s in sources),
    }
    values.update(overrides)
    return services.SuggestionInput(**values)  # type: ignore[arg-type]


def _three_sources() -> tuple[Submission, Submission, Submission]:
    jiangsu = make_org(region_code="320500")
    zhejiang = make_org(region_code="330200")
    first_author = make_user(org=jiangsu)
    return (
        _sent(first_author, title="园区周边危化品车辆停车难", region_code="320500"),
        _sent(first_author, title="危化品车辆沿路停放", region_code="320500"),
        _sent(make_user(org=zhejiang), title="缺少危化品车辆停车场", region_code="330200"),
    )


def test_evidence_counts_distinct_organisations_and_provinces(app: Flask) -> None:
    sources = _three_sources()
    staff = make_user(Role.REVIEWER)
    suggestion = services.create(staff, _input(*sources))
    db.session.commit()
    assert services.evidence(suggestion) == services.Evidence(3, 2, 2)
    [row] = services.listing()
    assert (row.sources, row.organisations) == (3, 2)
    assert {e.submission_id for e in db.session.scalars(
        select(Event).where(Event.action == "consolidated")
    )} == {s.id for s in sources}  # fmt: skip


def test_a_removed_source_is_kept_on_record_and_can_come_back(app: Flask) -> None:
    first, second, third = _three_sources()
    staff = make_user(Role.REVIEWER)
    suggestion = services.create(staff, _input(first, second, third))
    db.session.commit()

    assert services.unlink(staff, suggestion, third)
    db.session.commit()
    assert services.evidence(suggestion) == services.Evidence(2, 1, 1)
    assert not services.unlink(staff, suggestion, third)  # already out: nothing happens
    assert services.link(staff, suggestion, [third, first]) == 1  # first was still linked
    db.session.commit()

    rows = db.session.scalars(
        select(ConsolidatedSource).where(ConsolidatedSource.submission_id == third.id)
    ).all()
    assert len(rows) == 2 and rows[0].removed_at is not None and rows[1].removed_at is None
    assert services.evidence(suggestion).sources == 3
    assert [e.action for e in third.events if "consolidated" in e.action] == [
        "consolidated",
        "unconsolidated",
        "consolidated",
    ]


def test_sources_must_have_reached_the_federation(app: Flask) -> None:
    author = make_user()
    draft = make_submission(author, title="尚在草稿的材料")
    staff = make_user(Role.REVIEWER)
    with pytest.raises(ValidationFailed) as failure:
        services.create(staff, _input(draft))
    assert draft.reference is None or draft.reference in str(failure.value.errors)
    with pytest.raises(ValidationFailed) as failure:
        services.create(staff, _input(references="FK-2026-999999 不是编号"))
    message = " ".join(failure.value.errors["references"])
    assert "FK-2026-999999" in message and "不是编号" in message


def test_only_staff_write_suggestions(app: Flask) -> None:
    author = make_user()
    source = _sent(author)
    with pytest.raises(PermissionDenied):
        services.create(author, _input(source))


def test_a_stale_edit_is_refused(app: Flask) -> None:
    (source, *_rest) = _three_sources()
    staff = make_user(Role.REVIEWER)
    suggestion = services.create(staff, _input(source))
    db.session.commit()
    loaded_version = suggestion.version
    services.update(staff, suggestion, _input(source, title="第一位审核人改的标题"), loaded_version)
    db.session.commit()
    with pytest.raises(StaleVersion):
        services.update(staff, suggestion, _input(source, title="第二位的标题"), loaded_version)
    assert suggestion.title == "第一位审核人改的标题"


# -- pages -------------------------------------------------------------------------------------


def _reviewer(client: FlaskClient) -> User:
    reviewer = make_user(Role.REVIEWER, name="李处长")
    login(client, reviewer.email, PASSWORD)
    return reviewer


def _form(
    sources: tuple[Submission, ...], version: str = "", **overrides: object
) -> dict[str, object]:
    data = _input(*sources, **overrides)
    fields = {**vars(data), "plan_item_ids": [str(i) for i in data.plan_item_ids]}
    return {**fields, "version": version} if version else fields


def test_write_a_suggestion_and_see_its_evidence(client: FlaskClient) -> None:
    sources = _three_sources()
    _reviewer(client)
    response = post_form(client, "/review/consolidated/new", _form(sources))
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "2 个单位（2 个省份）的 3 份材料反映了这一问题" in page
    assert all(s.reference in page for s in sources)
    listing = client.get("/review/consolidated/").get_data(as_text=True)
    assert "建议加快危险化学品运输车辆专用停车场建设" in listing


def test_bad_input_is_explained_and_the_text_kept(client: FlaskClient) -> None:
    sources = _three_sources()
    _reviewer(client)
    response = post_form(
        client,
        "/review/consolidated/new",
        _form(sources, suggestion="太短", references=f"{sources[0].reference} FK-2026-123456"),
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "请填写建议内容（至少 10 个字）" in page and "FK-2026-123456" in page
    assert "多个园区反映危化品运输车辆缺少专用停车场" in page  # the description is kept
    assert db.session.scalar(select(func.count()).select_from(ConsolidatedSuggestion)) == 0


def test_the_second_editor_keeps_their_text(app: Flask) -> None:
    sources = _three_sources()
    staff = make_user(Role.REVIEWER)
    suggestion = services.create(staff, _input(*sources))
    db.session.commit()
    first, second = app.test_client(), app.test_client()
    for client in (first, second):
        login(client, staff.email, PASSWORD)
    url = f"/review/consolidated/{suggestion.id}/edit"
    tokens = [csrf_token(c, url) for c in (first, second)]
    version = str(suggestion.version)
    data = _form(sources, version=version, title="第一位的标题")
    assert first.post(url, data={**data, "csrf_token": tokens[0]}).status_code == 303
    data = _form(sources, version=version, title="第二位认真改过的标题")
    response = second.post(url, data={**data, "csrf_token": tokens[1]})
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "已被他人修改" in page and "第二位认真改过的标题" in page
    db.session.expire_all()
    assert db.session.get_one(ConsolidatedSuggestion, suggestion.id).title == "第一位的标题"


def test_removing_a_source_from_the_page(client: FlaskClient) -> None:
    sources = _three_sources()
    staff = _reviewer(client)
    suggestion = services.create(staff, _input(*sources))
    db.session.commit()
    url = f"/review/consolidated/{suggestion.id}"
    response = post_form(
        client, f"{url}/sources/{sources[2].id}/remove", {}, page=url, follow_redirects=True
    )
    assert "1 个单位（1 个省份）的 2 份材料" in response.get_data(as_text=True)
    history = client.get(url).get_data(as_text=True)
    assert re.search(rf"加入 {sources[2].reference}.*移出", history)


def test_submitters_cannot_reach_suggestions_or_see_other_organisations(app: Flask) -> None:
    own, _same_org, other = _three_sources()
    staff = make_user(Role.REVIEWER)
    suggestion = services.create(staff, _input(own, other))
    link = similarity_link(own, other)

    similarity.confirm(staff, link)
    db.session.commit()
    client = app.test_client()
    login(client, own.author.email, PASSWORD)
    for path in ("/review/consolidated/", f"/review/consolidated/{suggestion.id}"):
        assert client.get(path).status_code == 403
    page = client.get(f"/submissions/{own.id}").get_data(as_text=True)
    assert other.reference not in page and suggestion.title not in page


def test_bulk_adds_exactly_the_filtered_rows(client: FlaskClient) -> None:
    first, second, third = _three_sources()
    staff = _reviewer(client)
    suggestion = services.create(staff, _input(first))
    db.session.commit()
    data = {"action": "consolidate", "scope": "all", "province": "320000",
            "consolidated_id": str(suggestion.id)}  # fmt: skip
    confirm = post_form(client, "/review/bulk", data, page="/review/")
    assert "将把 2 份材料加入汇总建议" in confirm.get_data(as_text=True)
    response = post_form(client, "/review/bulk", {**data, "confirmed_count": "2"}, page="/review/")
    assert response.status_code == 303
    db.session.expire_all()
    linked = {s.id for s in db.session.get_one(ConsolidatedSuggestion, suggestion.id).sources}
    assert linked == {first.id, second.id}  # the 浙江 row is outside the filter
    assert third.id not in linked


def test_bulk_new_opens_the_form_with_the_sources(client: FlaskClient) -> None:
    first, second, _third = _three_sources()
    _reviewer(client)
    data = {"action": "consolidate_new", "scope": "selected", "ids": [str(first.id),
            str(second.id)], "confirmed_count": "2"}  # fmt: skip
    response = post_form(client, "/review/bulk", data, page="/review/")
    assert response.status_code == 303
    location = response.headers["Location"]
    assert parse_qs(urlsplit(location).query)["ids"] == [str(first.id), str(second.id)]
    page = client.get(location).get_data(as_text=True)
    assert f"{first.reference}\n{second.reference}" in page


def test_new_from_a_cluster_takes_the_confirmed_similar(client: FlaskClient) -> None:
    own, _same_org, other = _three_sources()
    staff = _reviewer(client)
    link = similarity_link(own, other)
    db.session.commit()
    page = client.get(f"/review/{own.id}").get_data(as_text=True)
    assert "以本材料新建汇总建议" in page
    similarity.confirm(staff, link)
    db.session.commit()
    page = client.get(f"/review/{own.id}").get_data(as_text=True)
    assert "以本材料和 1 份已确认的相似材料新建汇总建议" in page
    href = re.search(r'href="(/review/consolidated/new\?[^"]+)"', page)
    assert href is not None
    ids = parse_qs(urlsplit(href.group(1).replace("&amp;", "&")).query)["ids"]
    assert set(ids) == {str(own.id), str(other.id)}


def test_the_page_costs_the_same_with_three_or_twenty_sources(client: FlaskClient) -> None:
    """No per-source queries (N+1): sources from twenty organisations cost what three do."""
    from tests.queries import statements

    staff = _reviewer(client)
    sources = [_sent(make_user()) for _ in range(20)]
    few = services.create(staff, _input(*sources[:3]))
    many = services.create(staff, _input(*sources))
    db.session.commit()

    def count_queries(suggestion: ConsolidatedSuggestion) -> int:
        with statements() as seen:
            page = client.get(f"/review/consolidated/{suggestion.id}")
            assert page.status_code == 200
        return len(seen)

    assert count_queries(many) == count_queries(few)
