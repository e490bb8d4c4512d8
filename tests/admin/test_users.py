"""Administering users: roles (三员分立), one-time passwords, deactivation, unlock."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from feedback.admin.services import validate_roles
from feedback.exceptions import ValidationFailed
from feedback.extensions import db
from feedback.models import OrgKind, Role, User
from tests.conftest import login, post_form
from tests.factories import PASSWORD, federation, make_org, make_user


@pytest.mark.parametrize(
    "roles",
    [
        {Role.ADMIN, Role.SECURITY_ADMIN},
        {Role.ADMIN, Role.AUDITOR},
        {Role.SECURITY_ADMIN, Role.AUDITOR},
        {Role.AUDITOR, Role.REVIEWER},
        {Role.ADMIN, Role.SUBMITTER},
    ],
)
def test_administrator_roles_cannot_be_combined(app: Flask, roles: set[Role]) -> None:
    with pytest.raises(ValidationFailed, match="互斥"):
        validate_roles(roles, federation())


def test_staff_roles_only_in_the_federation(app: Flask) -> None:
    with pytest.raises(ValidationFailed, match="联合会"):
        validate_roles({Role.REVIEWER}, make_org(OrgKind.PARK))
    validate_roles({Role.REVIEWER, Role.COMPILER}, federation())


def test_admin_creates_user_and_sees_one_time_password_once(client: FlaskClient) -> None:
    admin = make_user(Role.ADMIN)
    park = make_org()
    login(client, admin.email, PASSWORD)
    response = post_form(
        client,
        "/admin/users/new",
        {
            "email": "zhang@park.cn",
            "name": "张工",
            "phone": "138 1234 5678",
            "organisation_id": str(park.id),
            "roles": ["submitter"],
        },
    )
    body = response.get_data(as_text=True)
    match = re.search(r'id="otp"[^>]*value="([^"]+)"', body)
    assert match, body
    user = db.session.scalars(select(User).where(User.email == "zhang@park.cn")).one()
    assert user.must_change_password and user.phone == "13812345678"
    fresh = client.application.test_client()
    assert login(fresh, "zhang@park.cn", match.group(1)).headers["Location"] == "/auth/password"


def test_combined_admin_roles_are_refused_in_the_form(client: FlaskClient) -> None:
    admin = make_user(Role.ADMIN)
    login(client, admin.email, PASSWORD)
    response = post_form(
        client,
        "/admin/users/new",
        {
            "email": "two@cpcif.cn",
            "name": "两个角色",
            "organisation_id": str(admin.organisation_id),
            "roles": ["security_admin", "auditor"],
        },
    )
    assert response.status_code == 200 and "三员分立" in response.get_data(as_text=True)
    assert db.session.scalar(select(User.id).where(User.email == "two@cpcif.cn")) is None


def test_nobody_changes_their_own_roles(client: FlaskClient) -> None:
    admin = make_user(Role.ADMIN)
    login(client, admin.email, PASSWORD)
    response = post_form(
        client,
        f"/admin/users/{admin.id}/edit",
        {
            "email": admin.email,
            "name": admin.name,
            "organisation_id": str(admin.organisation_id),
            "roles": ["security_admin"],
        },
    )
    assert "不能修改自己的角色" in response.get_data(as_text=True)
    db.session.expire_all()
    assert admin.roles == {Role.ADMIN}


def test_role_change_ends_the_users_sessions(app: Flask) -> None:
    admin = make_user(Role.ADMIN)
    staff = make_user(Role.REVIEWER)
    staff_client = app.test_client()
    login(staff_client, staff.email, PASSWORD)
    admin_client = app.test_client()
    login(admin_client, admin.email, PASSWORD)
    post_form(
        admin_client,
        f"/admin/users/{staff.id}/edit",
        {
            "email": staff.email,
            "name": staff.name,
            "organisation_id": str(staff.organisation_id),
            "roles": ["compiler"],
        },
    )
    db.session.expire_all()
    assert staff.roles == {Role.COMPILER}
    assert staff_client.get("/").status_code == 302


def test_security_admin_unlocks_but_cannot_create_business_accounts(
    client: FlaskClient,
) -> None:
    security = make_user(Role.SECURITY_ADMIN)
    victim = make_user()
    for _ in range(5):
        login(client.application.test_client(), victim.email, "Wrong-Passw0rd!")
    login(client, security.email, PASSWORD)
    page = client.get("/admin/users/new").get_data(as_text=True)
    assert 'value="auditor"' in page and 'value="submitter"' not in page  # only what it may do
    refused = post_form(
        client,
        "/admin/users/new",
        {
            "email": "biz@park.cn",
            "name": "业务人员",
            "organisation_id": str(security.organisation_id),
            "roles": ["reviewer"],
        },
    )
    assert refused.status_code == 403 and "业务账户由系统管理员管理" in refused.get_data(
        as_text=True
    )
    assert db.session.scalar(select(User.id).where(User.email == "biz@park.cn")) is None
    page = client.get("/admin/users?status=locked").get_data(as_text=True)
    assert victim.email in page
    post_form(client, f"/admin/users/{victim.id}/unlock", {}, page="/admin/users")
    db.session.expire_all()
    assert victim.locked_until is None
    assert login(client.application.test_client(), victim.email, PASSWORD).status_code == 302


def _password_hash(user_id: int) -> str:
    db.session.expire_all()
    found = db.session.get(User, user_id)
    assert found is not None
    return found.password_hash


def test_system_admin_cannot_reset_an_auditors_password(client: FlaskClient) -> None:
    admin = make_user(Role.ADMIN)
    auditor = make_user(Role.AUDITOR)
    before = _password_hash(auditor.id)
    login(client, admin.email, PASSWORD)
    assert client.get(f"/admin/users/{auditor.id}/edit").status_code == 403
    response = post_form(client, f"/admin/users/{auditor.id}/reset", {}, page="/admin/users")
    assert response.status_code == 403
    assert "只能由安全管理员管理" in response.get_data(as_text=True)
    assert 'id="otp"' not in response.get_data(as_text=True)
    assert _password_hash(auditor.id) == before
    for action in ("deactivate", "unlock"):
        assert (
            post_form(
                client, f"/admin/users/{auditor.id}/{action}", {}, page="/admin/users"
            ).status_code
            == 403
        )
    db.session.expire_all()
    assert auditor.active


def test_system_admin_cannot_give_anyone_an_administrator_role(client: FlaskClient) -> None:
    make_user(Role.SECURITY_ADMIN)  # set-up is over: no bootstrap exception
    admin = make_user(Role.ADMIN)
    park_user = make_user()
    reviewer = make_user(Role.REVIEWER)
    login(client, admin.email, PASSWORD)
    form_page = client.get("/admin/users/new").get_data(as_text=True)
    assert 'value="submitter"' in form_page and 'value="auditor"' not in form_page
    created = post_form(
        client,
        "/admin/users/new",
        {
            "email": "new-auditor@cpcif.cn",
            "name": "审计",
            "organisation_id": str(admin.organisation_id),
            "roles": ["auditor"],
        },
    )
    assert created.status_code == 403
    assert db.session.scalar(select(User.id).where(User.email == "new-auditor@cpcif.cn")) is None
    for user in (park_user, reviewer):
        response = post_form(
            client,
            f"/admin/users/{user.id}/edit",
            {
                "email": user.email,
                "name": user.name,
                "organisation_id": str(user.organisation_id),
                "roles": ["auditor"],
            },
        )
        assert response.status_code == 403
        assert "只能由安全管理员管理" in response.get_data(as_text=True)
    db.session.expire_all()
    assert park_user.roles == {Role.SUBMITTER} and reviewer.roles == {Role.REVIEWER}


def test_system_admin_cannot_re_role_an_auditor(client: FlaskClient) -> None:
    admin = make_user(Role.ADMIN)
    auditor = make_user(Role.AUDITOR)
    login(client, admin.email, PASSWORD)
    response = post_form(
        client,
        f"/admin/users/{auditor.id}/edit",
        {
            "email": auditor.email,
            "name": auditor.name,
            "organisation_id": str(auditor.organisation_id),
            "roles": ["reviewer"],
        },
        page="/admin/users",
    )
    assert response.status_code == 403
    db.session.expire_all()
    assert auditor.roles == {Role.AUDITOR}


def test_administrator_roles_only_in_the_federation(app: Flask) -> None:
    park = make_org(OrgKind.PARK)
    association = make_org(OrgKind.ASSOCIATION)
    for org in (park, association):
        for role in (Role.ADMIN, Role.SECURITY_ADMIN, Role.AUDITOR):
            with pytest.raises(ValidationFailed, match="联合会"):
                validate_roles({role}, org)
    validate_roles({Role.AUDITOR}, federation())


def test_security_admin_creates_and_manages_an_auditor(client: FlaskClient) -> None:
    security = make_user(Role.SECURITY_ADMIN)
    login(client, security.email, PASSWORD)
    response = post_form(
        client,
        "/admin/users/new",
        {
            "email": "shenji@cpcif.cn",
            "name": "审计员",
            "organisation_id": str(security.organisation_id),
            "roles": ["auditor"],
        },
    )
    assert response.status_code == 200 and 'id="otp"' in response.get_data(as_text=True)
    auditor = db.session.scalars(select(User).where(User.email == "shenji@cpcif.cn")).one()
    assert auditor.roles == {Role.AUDITOR}
    edit = client.get(f"/admin/users/{auditor.id}/edit").get_data(as_text=True)
    assert "重置密码" in edit and 'value="submitter"' not in edit
    reset = post_form(client, f"/admin/users/{auditor.id}/reset", {}, page="/admin/users")
    assert 'id="otp"' in reset.get_data(as_text=True)
    business = make_user()
    assert client.get(f"/admin/users/{business.id}/edit").status_code == 403
    refused = post_form(client, f"/admin/users/{business.id}/reset", {}, page="/admin/users")
    assert refused.status_code == 403


def test_bootstrap_admin_creates_the_first_security_admin_only_while_there_is_none(
    client: FlaskClient,
) -> None:
    admin = make_user(Role.ADMIN)
    login(client, admin.email, PASSWORD)
    page = client.get("/admin/users/new").get_data(as_text=True)
    assert 'value="security_admin"' in page and 'value="auditor"' in page
    assert 'value="admin"' not in page  # a second system administrator: security admin only

    def create(email: str, role: str) -> int:
        return int(
            post_form(
                client,
                "/admin/users/new",
                {
                    "email": email,
                    "name": "管理员",
                    "organisation_id": str(admin.organisation_id),
                    "roles": [role],
                },
            ).status_code
        )

    assert create("auditor1@cpcif.cn", "auditor") == 200
    assert create("security1@cpcif.cn", "security_admin") == 200
    assert create("auditor2@cpcif.cn", "auditor") == 403  # a security admin exists now
    emails = set(db.session.scalars(select(User.email)))
    assert {"auditor1@cpcif.cn", "security1@cpcif.cn"} <= emails
    assert "auditor2@cpcif.cn" not in emails


def test_bootstrap_reopens_when_no_security_admin_is_active(client: FlaskClient) -> None:
    security = make_user(Role.SECURITY_ADMIN)
    security.active = False
    db.session.commit()
    admin = make_user(Role.ADMIN)
    login(client, admin.email, PASSWORD)
    assert 'value="security_admin"' in client.get("/admin/users/new").get_data(as_text=True)


def test_user_list_offers_each_administrator_only_their_accounts(client: FlaskClient) -> None:
    admin = make_user(Role.ADMIN)
    security = make_user(Role.SECURITY_ADMIN)
    auditor = make_user(Role.AUDITOR)
    business = make_user()
    login(client, admin.email, PASSWORD)
    page = client.get("/admin/users").get_data(as_text=True)
    assert f"/admin/users/{business.id}/edit" in page
    assert f"/admin/users/{auditor.id}/edit" not in page
    assert f"/admin/users/{security.id}/edit" not in page
    other = client.application.test_client()
    login(other, security.email, PASSWORD)
    page = other.get("/admin/users").get_data(as_text=True)
    assert f"/admin/users/{auditor.id}/edit" in page and f"/admin/users/{admin.id}/edit" in page
    assert f"/admin/users/{business.id}/edit" not in page


def test_edit_user_of_a_deactivated_organisation(client: FlaskClient) -> None:
    admin = make_user(Role.ADMIN)
    org = make_org(name="已停用的园区")
    user = make_user(org=org)
    org.active = False
    db.session.commit()
    login(client, admin.email, PASSWORD)
    page = client.get(f"/admin/users/{user.id}/edit").get_data(as_text=True)
    assert "已停用的园区（已停用）" in page
    response = post_form(
        client,
        f"/admin/users/{user.id}/edit",
        {
            "email": user.email,
            "name": "改了名字",
            "organisation_id": str(org.id),
            "roles": ["submitter"],
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.expire_all()
    assert user.name == "改了名字"


def test_one_time_password_page_states_the_configured_validity(client: FlaskClient) -> None:
    client.application.config["INITIAL_PASSWORD_HOURS"] = 48
    admin = make_user(Role.ADMIN)
    user = make_user()
    login(client, admin.email, PASSWORD)
    response = post_form(client, f"/admin/users/{user.id}/reset", {}, page="/admin/users")
    body = response.get_data(as_text=True)
    assert "48 小时内有效" in body and "72 小时" not in body


@pytest.mark.parametrize(
    "query", ["org=99999999999999999999", "page=99999999999999999999", "page=-3", "org=x"]
)
def test_user_list_survives_odd_numbers(client: FlaskClient, query: str) -> None:
    admin = make_user(Role.ADMIN)
    login(client, admin.email, PASSWORD)
    assert client.get(f"/admin/users?{query}").status_code == 200
    assert client.get(f"/admin/users/new?{query}").status_code == 200


def test_oversized_user_id_is_not_found(client: FlaskClient) -> None:
    admin = make_user(Role.ADMIN)
    login(client, admin.email, PASSWORD)
    assert client.get("/admin/users/99999999999999999999/edit").status_code == 404


def test_reset_password_gives_a_new_one_time_password(client: FlaskClient) -> None:
    admin = make_user(Role.ADMIN)
    user = make_user()
    login(client, admin.email, PASSWORD)
    response = post_form(
        client, f"/admin/users/{user.id}/reset", {}, page=f"/admin/users/{user.id}/edit"
    )
    match = re.search(r'id="otp"[^>]*value="([^"]+)"', response.get_data(as_text=True))
    assert match
    assert login(client.application.test_client(), user.email, PASSWORD).status_code == 200
    assert login(client.application.test_client(), user.email, match.group(1)).status_code == 302


def test_auditor_cannot_reach_user_administration(client: FlaskClient) -> None:
    auditor = make_user(Role.AUDITOR)
    login(client, auditor.email, PASSWORD)
    assert client.get("/admin/users").status_code == 403
    user = make_user()
    assert post_form(client, f"/admin/users/{user.id}/deactivate", {}, page="/").status_code == 403


def test_end_all_sessions_is_audited_and_only_for_the_accounts_manager(app: Flask) -> None:
    from feedback.models import AuditRecord

    target = make_user()
    bystander = make_user(org=target.organisation)
    phone, laptop, other = app.test_client(), app.test_client(), app.test_client()
    for client, user in ((phone, target), (laptop, target), (other, bystander)):
        login(client, user.email, PASSWORD)
    admin = make_user(Role.ADMIN)
    admin_client = app.test_client()
    login(admin_client, admin.email, PASSWORD)
    page = admin_client.get(f"/admin/users/{target.id}/edit").get_data(as_text=True)
    assert "结束全部登录" in page
    response = post_form(
        admin_client,
        f"/admin/users/{target.id}/end-sessions",
        {},
        page=f"/admin/users/{target.id}/edit",
        follow_redirects=True,
    )
    assert "已结束该用户的全部登录" in response.get_data(as_text=True)
    assert phone.get("/").status_code == laptop.get("/").status_code == 302
    assert other.get("/").status_code == 200
    assert admin_client.get("/admin/users").status_code == 200
    event = db.session.scalars(
        select(AuditRecord).where(AuditRecord.action == "user_end_sessions")
    ).one()
    assert (event.actor_id, event.object_id) == (admin.id, str(target.id))
    # Not one's own (log out does that), and not across 三员分立: the system administrator
    # does not end a security administrator's sessions; without a token, nothing happens.
    security = make_user(Role.SECURITY_ADMIN)
    own = post_form(admin_client, f"/admin/users/{admin.id}/end-sessions", {}, page="/admin/users")
    assert own.status_code == 403
    across = post_form(
        admin_client, f"/admin/users/{security.id}/end-sessions", {}, page="/admin/users"
    )
    assert across.status_code == 403
    forged = admin_client.post(f"/admin/users/{bystander.id}/end-sessions")
    assert forged.status_code == 400 and other.get("/").status_code == 200
    db.session.expire_all()
    assert security.session_version == 1 and bystander.session_version == 1


def test_user_list_shows_each_accounts_live_sessions(app: Flask) -> None:
    target = make_user(name="两台设备的用户")
    for _device in range(2):
        login(app.test_client(), target.email, PASSWORD)
    admin = make_user(Role.ADMIN)
    admin_client = app.test_client()
    login(admin_client, admin.email, PASSWORD)

    def row_of(user: User) -> str:
        page = admin_client.get("/admin/users").get_data(as_text=True)
        match = re.search(rf"<tr>(?:(?!</tr>).)*{re.escape(user.email)}.*?</tr>", page, re.S)
        assert match, user.email
        return match.group(0)

    assert "在线会话 2 个" in row_of(target)
    assert "在线会话 1 个" in row_of(admin)
    post_form(
        admin_client,
        f"/admin/users/{target.id}/end-sessions",
        {},
        page=f"/admin/users/{target.id}/edit",
    )
    assert "在线会话" not in row_of(target)
