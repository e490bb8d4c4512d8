"""The plan tree and the tag vocabulary: seeding and editing."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from feedback.extensions import db
from feedback.models import PlanItem, Role, Tag, TagGroup
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
