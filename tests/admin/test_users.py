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


def test_security_admin_unlocks_but_cannot_create(client: FlaskClient) -> None:
    security = make_user(Role.SECURITY_ADMIN)
    victim = make_user()
    for _ in range(5):
        login(client.application.test_client(), victim.email, "Wrong-Passw0rd!")
    login(client, security.email, PASSWORD)
    assert client.get("/admin/users/new").status_code == 403
    page = client.get("/admin/users?status=locked").get_data(as_text=True)
    assert victim.email in page
    post_form(client, f"/admin/users/{victim.id}/unlock", {}, page="/admin/users")
    db.session.expire_all()
    assert victim.locked_until is None
    assert login(client.application.test_client(), victim.email, PASSWORD).status_code == 302


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
