"""The plan tree and the tag vocabulary: seeding and editing."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from feedback.exceptions import ValidationFailed
from feedback.extensions import db
from feedback.filing.choices import plan_item_choices
from feedback.models import AuditRecord, PlanItem, Role, Tag, TagGroup
from feedback.taxonomy import services
from feedback.taxonomy.seed import parent_code, seed_plan, seed_tags
from tests.conftest import login, post_form
from tests.factories import PASSWORD, make_user


def _seed() -> None:
    seed_plan()
    seed_tags()
    db.session.commit()


def test_seed_builds_the_plan_tree(app: Flask) -> None:
    _seed()
    tree = services.plan_tree()
    codes = [item.code for item in tree]
    assert codes[:5] == ["G", "G.T1", "G.T2", "G.T3", "S"]
    assert {f"S{i}" for i in range(1, 7)} <= set(codes)
    assert {f"E{i}" for i in range(1, 6)} <= set(codes)
    assert {f"R{i}" for i in range(1, 6)} <= set(codes)
    by_code = {item.code: item for item in tree}
    assert by_code["E2"].name == "大型油气储存基地安全防控工程"
    assert by_code["E2"].parent is by_code["E"]
    assert by_code["G.T2"].depth == 2


def test_seed_tags_has_the_eighteen_processes(app: Flask) -> None:
    _seed()
    group = db.session.scalars(select(TagGroup).where(TagGroup.code == "process")).one()
    assert len(group.tags) == 18
    assert "特殊作业" in {t.name for t in db.session.scalars(select(Tag))}


def test_seeding_does_not_resurrect_what_an_admin_renamed(app: Flask) -> None:
    _seed()
    tag = db.session.scalars(select(Tag).where(Tag.name == "特殊作业")).one()
    tag.name = "特殊作业（动火、受限空间）"
    db.session.commit()
    assert seed_tags() == 0 and seed_plan() == 0
    assert db.session.scalar(select(func.count()).where(Tag.name == "特殊作业")) == 0


def test_parent_code() -> None:
    assert parent_code("S1") == "S"
    assert parent_code("G.T1") == "G"
    assert parent_code("S3.2") == "S3"
    assert parent_code("S") is None


def test_admin_adds_renames_and_deactivates_plan_items(client: FlaskClient) -> None:
    _seed()
    admin = make_user(Role.ADMIN)
    login(client, admin.email, PASSWORD)
    s3 = db.session.scalars(select(PlanItem).where(PlanItem.code == "S3")).one()
    response = post_form(
        client, f"/admin/plan/new?parent={s3.id}", {"code": "S3.1", "name": "特殊作业安全管理"}
    )
    assert response.status_code == 302
    item = db.session.scalars(select(PlanItem).where(PlanItem.code == "S3.1")).one()
    assert item.parent_id == s3.id
    post_form(
        client,
        f"/admin/plan/{item.id}/edit",
        {"code": "IGNORED", "name": "特殊作业安全管理（八大作业）", "sort_order": "1"},
    )
    post_form(client, f"/admin/plan/{item.id}/active", {"active": "0"}, page="/admin/plan")
    db.session.expire_all()
    assert item.code == "S3.1"  # codes never change
    assert item.name == "特殊作业安全管理（八大作业）" and not item.active
    assert "S3.1" not in [i.code for i in services.plan_tree(active_only=True)]


def test_duplicate_or_malformed_codes_are_refused(client: FlaskClient) -> None:
    _seed()
    admin = make_user(Role.ADMIN)
    login(client, admin.email, PASSWORD)
    body = post_form(client, "/admin/plan/new", {"code": "S", "name": "重复"}).get_data(
        as_text=True
    )
    assert "已存在" in body
    body = post_form(client, "/admin/plan/new", {"code": "s-1", "name": "x"}).get_data(as_text=True)
    assert "编号只能" in body


def test_reviewer_adds_and_deactivates_tags(client: FlaskClient) -> None:
    _seed()
    reviewer = make_user(Role.REVIEWER)
    login(client, reviewer.email, PASSWORD)
    group = db.session.scalars(select(TagGroup).where(TagGroup.code == "topic")).one()
    response = post_form(
        client, f"/admin/tags/groups/{group.id}/new", {"name": "危化品停车场"}, page="/admin/tags"
    )
    assert response.status_code == 302
    tag = db.session.scalars(select(Tag).where(Tag.name == "危化品停车场")).one()
    duplicate = post_form(
        client, f"/admin/tags/groups/{group.id}/new", {"name": "危化品停车场"}, page="/admin/tags"
    )
    assert duplicate.status_code == 422 and "已在该分组中" in duplicate.get_data(as_text=True)
    post_form(client, f"/admin/tags/{tag.id}/active", {"active": "0"}, page="/admin/tags")
    db.session.expire_all()
    assert not tag.active
    assert db.session.get(Tag, tag.id) is not None  # deactivated, never deleted


def test_submitters_cannot_edit_the_taxonomy(client: FlaskClient) -> None:
    user = make_user()
    login(client, user.email, PASSWORD)
    assert client.get("/admin/tags").status_code == 403
    assert client.get("/admin/plan").status_code == 403


def _admin(client: FlaskClient) -> None:
    _seed()
    admin = make_user(Role.ADMIN)
    login(client, admin.email, PASSWORD)


def _item(code: str) -> PlanItem:
    return db.session.scalars(select(PlanItem).where(PlanItem.code == code)).one()


def test_deactivating_an_item_deactivates_its_descendants(client: FlaskClient) -> None:
    _admin(client)
    s3 = _item("S3")
    post_form(client, f"/admin/plan/new?parent={s3.id}", {"code": "S3.1", "name": "特殊作业"})
    s = _item("S")
    post_form(client, f"/admin/plan/{s.id}/active", {"active": "0"}, page="/admin/plan")
    db.session.expire_all()
    below = [i for i in services.plan_tree() if i.code.startswith("S")]
    assert len(below) == 8 and not any(i.active for i in below)  # S, S1–S6, S3.1
    active_codes = {i.code for i in services.plan_tree(active_only=True)}
    assert not {"S", "S3", "S3.1"} & active_codes
    # Reactivating the chapter brings back the chapter only; a child needs its parent active.
    post_form(client, f"/admin/plan/{s.id}/active", {"active": "1"}, page="/admin/plan")
    db.session.expire_all()
    assert _item("S").active and not _item("S3").active
    s31 = _item("S3.1")
    post_form(client, f"/admin/plan/{s31.id}/active", {"active": "1"}, page="/admin/plan")
    db.session.expire_all()
    assert not _item("S3.1").active  # its parent S3 is still inactive


@pytest.mark.parametrize(
    ("parent", "code", "ok"),
    [
        ("S", "S7", True),
        ("S3", "S3.1", True),
        ("G", "G.T4", True),
        ("S", "S", False),  # not longer than the parent's code
        ("S", "E6", False),  # another chapter's code
        ("S3", "S4.1", False),
        ("S3", "S31", True),  # starts with S3 and is longer
        ("G", "T4", False),
    ],
)
def test_child_code_extends_the_parents(
    client: FlaskClient, parent: str, code: str, ok: bool
) -> None:
    _admin(client)
    parent_item = _item(parent)
    response = post_form(
        client, f"/admin/plan/new?parent={parent_item.id}", {"code": code, "name": "新条目"}
    )
    created = db.session.scalars(select(PlanItem).where(PlanItem.name == "新条目")).one_or_none()
    if ok:
        assert response.status_code == 302
        assert created is not None and created.parent_id == parent_item.id
    else:
        assert response.status_code == 200 and created is None
        assert "上级编号" in response.get_data(as_text=True)


def test_nothing_is_added_below_a_sub_item(client: FlaskClient) -> None:
    _admin(client)
    sub = _item("G.T1")
    response = client.get(f"/admin/plan/new?parent={sub.id}", follow_redirects=True)
    assert "最下一级" in response.get_data(as_text=True)
    response = post_form(
        client,
        f"/admin/plan/new?parent={sub.id}",
        {"code": "G.T1.1", "name": "第四级"},
        page="/admin/plan",
    )
    assert response.status_code == 302
    assert db.session.scalar(select(PlanItem.id).where(PlanItem.code == "G.T1.1")) is None
    with pytest.raises(ValidationFailed, match="最下一级"):
        services.create_plan_item(None, code="G.T1.1", name="第四级", parent=sub)  # type: ignore[arg-type]


@pytest.mark.parametrize("parent", ["99999999999999999999", "abc", "-1"])
def test_odd_parent_argument_does_not_fail(client: FlaskClient, parent: str) -> None:
    _admin(client)
    assert client.get(f"/admin/plan/new?parent={parent}").status_code in (200, 404)


def test_oversized_sort_order_is_refused(client: FlaskClient) -> None:
    _admin(client)
    response = post_form(
        client, "/admin/plan/new", {"code": "X", "name": "新章节", "sort_order": "9" * 20}
    )
    assert response.status_code == 200 and "排序值" in response.get_data(as_text=True)
    s1 = _item("S1")
    response = post_form(
        client, f"/admin/plan/{s1.id}/edit", {"name": s1.name, "sort_order": "-" + "9" * 20}
    )
    assert response.status_code == 200 and "排序值" in response.get_data(as_text=True)
    assert client.get("/admin/plan/99999999999999999999/edit").status_code == 404


def test_tag_groups_are_renamed_and_deactivated_never_deleted(client: FlaskClient) -> None:
    _seed()
    reviewer = make_user(Role.REVIEWER)
    login(client, reviewer.email, PASSWORD)
    group = db.session.scalars(select(TagGroup).where(TagGroup.code == "topic")).one()
    last = db.session.scalars(select(TagGroup).order_by(TagGroup.sort_order.desc())).first()
    assert last is not None and last.id != group.id
    response = post_form(
        client, f"/admin/tags/groups/{group.id}/edit", {"name": "  专题（重点）  "}
    )
    assert response.status_code == 302
    post_form(client, f"/admin/tags/groups/{group.id}/active", {"active": "0"}, page="/admin/tags")
    db.session.expire_all()
    assert group.name == "专题（重点）" and group.code == "topic" and not group.active
    assert all(tag.active for tag in group.tags)  # tags keep their own state
    page = client.get("/admin/tags").get_data(as_text=True)
    assert "分组已停用" in page
    # Inactive groups are listed last, after every active one.
    assert page.index(f'id="group-{group.id}"') > page.index(f'id="group-{last.id}"')
    refused = post_form(
        client, f"/admin/tags/groups/{group.id}/new", {"name": "新标签"}, page="/admin/tags"
    )
    assert refused.status_code == 422 and "已停用" in refused.get_data(as_text=True)
    post_form(client, f"/admin/tags/groups/{group.id}/active", {"active": "1"}, page="/admin/tags")
    db.session.expire_all()
    reloaded = db.session.get(TagGroup, group.id)
    assert reloaded is not None and reloaded.active
    actions = set(db.session.scalars(select(AuditRecord.action)))
    assert {"tag_group_rename", "tag_group_deactivate", "tag_group_activate"} <= actions


def test_tag_group_rename_requires_a_name(client: FlaskClient) -> None:
    _seed()
    reviewer = make_user(Role.REVIEWER)
    login(client, reviewer.email, PASSWORD)
    group = db.session.scalars(select(TagGroup)).first()
    assert group is not None
    response = post_form(client, f"/admin/tags/groups/{group.id}/edit", {"name": "   "})
    assert response.status_code == 200
    submitter = make_user()
    other = client.application.test_client()
    login(other, submitter.email, PASSWORD)
    assert other.get(f"/admin/tags/groups/{group.id}/edit").status_code == 403


def test_the_menu_of_plan_items_is_the_active_tree_in_order(app: Flask) -> None:
    _seed()
    s = db.session.scalars(select(PlanItem).where(PlanItem.code == "S")).one()
    admin = make_user(Role.ADMIN)
    services.create_plan_item(admin, code="S3.1", name="特殊作业", parent=services_item("S3"))
    db.session.commit()
    expected = [(i.id, i.label) for i in services.plan_tree(active_only=True)]
    assert plan_item_choices() == expected and "S3.1 特殊作业" in dict(expected).values()
    s.active = False  # a retired chapter hides its systems too, as in plan_tree
    db.session.commit()
    choices = dict(plan_item_choices()).values()
    assert not any(label.startswith("S") for label in choices) and "E2" in " ".join(choices)


def services_item(code: str) -> PlanItem:
    return db.session.scalars(select(PlanItem).where(PlanItem.code == code)).one()
