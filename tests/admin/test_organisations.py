"""Administering organisations: credit codes, regions, park attributes, deactivation."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from feedback.extensions import db
from feedback.models import AuditRecord, Organisation, OrgKind, ParkGrade, Role
from tests.conftest import login, post_form
from tests.factories import PASSWORD, make_org, make_user

VALID_USCC = "91110000600037341L"
BAD_CHECK = "91110000600037341M"


def _admin_client(client: FlaskClient) -> FlaskClient:
    admin = make_user(Role.ADMIN)
    login(client, admin.email, PASSWORD)
    return client


def _form(**fields: str) -> dict[str, str]:
    base = {
        "name": "苏州工业园区化工区",
        "kind": "park",
        "region_code": "320500",
        "uscc": VALID_USCC,
        "park_grade": "C",
        "park_grade_year": "2025",
        "park_level": "national",
        "park_batch": "第一批",
    }
    return {**base, **fields}


def test_admin_creates_a_park(client: FlaskClient) -> None:
    _admin_client(client)
    response = post_form(client, "/admin/organisations/new", _form())
    assert response.status_code == 302
    org = db.session.scalars(select(Organisation).where(Organisation.uscc == VALID_USCC)).one()
    assert org.kind == OrgKind.PARK and org.park_grade == ParkGrade.C
    assert org.region_code == "320500"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "江苏省 苏州市" in page and "C类" in page


def test_invalid_credit_code_is_rejected_with_chinese_message_and_input_kept(
    client: FlaskClient,
) -> None:
    _admin_client(client)
    response = post_form(client, "/admin/organisations/new", _form(uscc=BAD_CHECK))
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "校验位不正确" in body and "请逐位核对" in body
    assert "“L”" not in body  # the expected character is not given away
    assert "确认代码无误" in body  # only the check character fails: the override is offered
    assert 'value="苏州工业园区化工区"' in body  # what the admin typed is kept
    assert db.session.scalar(select(Organisation.id).where(Organisation.uscc == BAD_CHECK)) is None


def test_admin_override_of_a_failing_code_is_recorded(client: FlaskClient) -> None:
    _admin_client(client)
    response = post_form(
        client, "/admin/organisations/new", _form(uscc=BAD_CHECK, uscc_override="y")
    )
    assert response.status_code == 302
    org = db.session.scalars(select(Organisation).where(Organisation.uscc == BAD_CHECK)).one()
    assert org.uscc_check_overridden
    audit = db.session.scalars(
        select(AuditRecord).where(AuditRecord.action == "uscc_override")
    ).one()
    assert audit.object_id == str(org.id) and audit.actor_id is not None


def test_override_cannot_rescue_a_code_of_the_wrong_length(client: FlaskClient) -> None:
    _admin_client(client)
    response = post_form(
        client, "/admin/organisations/new", _form(uscc="9111000060003734", uscc_override="y")
    )
    assert response.status_code == 200 and "18" in response.get_data(as_text=True)


def test_override_cannot_rescue_a_malformed_code(client: FlaskClient) -> None:
    _admin_client(client)
    for bad in ("OOOOOOOOOOOOOOOOOO", "91A10000600037341L", "9111000060003734-L"):
        response = post_form(client, "/admin/organisations/new", _form(uscc=bad, uscc_override="y"))
        body = response.get_data(as_text=True)
        assert response.status_code == 200, bad
        assert "如确认该代码为早期颁发" not in body  # no override offered for a typo
    assert (
        db.session.scalar(select(Organisation.id).where(Organisation.kind == OrgKind.PARK)) is None
    )


def test_full_width_code_is_normalised(client: FlaskClient) -> None:
    _admin_client(client)
    full_width = "９１１１００００６０００３７３４１Ｌ"
    assert post_form(client, "/admin/organisations/new", _form(uscc=full_width)).status_code == 302
    assert db.session.scalar(select(Organisation.uscc).where(Organisation.uscc == VALID_USCC))


def test_park_attributes_are_cleared_for_other_kinds(client: FlaskClient) -> None:
    _admin_client(client)
    post_form(
        client,
        "/admin/organisations/new",
        _form(name="中国测试工业协会", kind="association", region_code="110000"),
    )
    org = db.session.scalars(
        select(Organisation).where(Organisation.name == "中国测试工业协会")
    ).one()
    assert org.park_grade is None and org.park_level is None


def test_edit_and_deactivate(client: FlaskClient) -> None:
    _admin_client(client)
    org = make_org()
    member = make_user(org=org)
    response = post_form(
        client,
        f"/admin/organisations/{org.id}/edit",
        _form(name="改名后的园区", uscc=org.uscc or ""),
    )
    assert response.status_code == 302
    post_form(
        client,
        f"/admin/organisations/{org.id}/active",
        {"active": "0"},
        page=f"/admin/organisations/{org.id}/edit",
    )
    db.session.expire_all()
    assert org.name == "改名后的园区" and not org.active
    assert login(client.application.test_client(), member.email, PASSWORD).status_code == 200


def test_list_searches_and_filters(client: FlaskClient) -> None:
    _admin_client(client)
    make_org(name="宁波石化经济技术开发区", region_code="330200")
    make_org(name="南京江北新材料科技园", region_code="320100")
    page = client.get("/admin/organisations?q=宁波").get_data(as_text=True)
    assert "宁波石化" in page and "南京江北" not in page
    page = client.get("/admin/organisations?province=320000&kind=park").get_data(as_text=True)
    assert "南京江北" in page and "宁波石化" not in page


def test_list_shows_the_grade_label(client: FlaskClient) -> None:
    _admin_client(client)
    make_org(name="宁波石化经济技术开发区", region_code="330200", park_grade=ParkGrade.C)
    page = client.get("/admin/organisations").get_data(as_text=True)
    assert "C类（一般安全风险）" in page


@pytest.mark.parametrize("page", ["99999999999999999999", "0", "-1", "abc", "1e9", "٣"])
def test_list_with_an_odd_page_number_does_not_fail(client: FlaskClient, page: str) -> None:
    _admin_client(client)
    make_org()
    response = client.get(f"/admin/organisations?status=all&page={page}")
    assert response.status_code == 200


def test_non_admins_cannot_manage_organisations(client: FlaskClient) -> None:
    user = make_user(Role.REVIEWER)
    login(client, user.email, PASSWORD)
    assert client.get("/admin/organisations").status_code == 403
    assert client.get("/admin/organisations/new").status_code == 403
