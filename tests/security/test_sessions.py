"""Session lifetime and revocation on a frozen clock (SECURITY.md rows 6-9).

Already covered in tests/auth/test_login.py and not repeated here: logout ends every session
and a replayed cookie, deactivating a user, cookie flags, a new session at login, and idle and
absolute timeouts by editing the session's timestamps. tests/admin/test_users.py covers a role
change. These tests let real time pass instead, per role, and add the other revocations.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from freezegun import freeze_time
from freezegun.api import FrozenDateTimeFactory

from feedback.models import Role, User
from tests.conftest import csrf_token, login, post_form
from tests.factories import PASSWORD, make_org, make_user

NEW_PASSWORD = "Another-Passw0rd!y"


@pytest.fixture
def clock() -> Iterator[FrozenDateTimeFactory]:
    with freeze_time(datetime.now(UTC)) as frozen:
        assert isinstance(frozen, FrozenDateTimeFactory)
        yield frozen


def _logged_in(app: Flask, user: User) -> FlaskClient:
    client = app.test_client()
    response = login(client, user.email, PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    return client


def _sent_to_login(client: FlaskClient) -> bool:
    response = client.get("/")
    return response.status_code == 302 and response.headers["Location"].startswith("/auth/login")


@pytest.mark.parametrize(
    ("role", "idle_minutes"),
    [
        (Role.SUBMITTER, 30),
        (Role.REVIEWER, 30),
        (Role.ADMIN, 15),
        (Role.SECURITY_ADMIN, 15),
        (Role.AUDITOR, 15),
    ],
)
def test_idle_timeout_by_role(
    app: Flask, clock: FrozenDateTimeFactory, role: Role, idle_minutes: int
) -> None:
    client = _logged_in(app, make_user(role))
    clock.tick(timedelta(minutes=idle_minutes - 1))
    assert client.get("/").status_code == 200  # and this request counts as activity
    clock.tick(timedelta(minutes=idle_minutes - 1))
    assert client.get("/").status_code == 200
    clock.tick(timedelta(minutes=idle_minutes, seconds=1))
    assert _sent_to_login(client)
    clock.tick(timedelta(seconds=1))
    assert _sent_to_login(client)  # the session is gone, not just refused once


def test_absolute_limit_holds_despite_constant_activity(
    app: Flask, clock: FrozenDateTimeFactory
) -> None:
    client = _logged_in(app, make_user())
    for _step in range(12 * 60 // 20 - 1):
        clock.tick(timedelta(minutes=20))
        assert client.get("/").status_code == 200
    clock.tick(timedelta(minutes=20, seconds=1))  # 12 h and a second after login
    assert _sent_to_login(client)


def test_password_change_ends_the_other_sessions_only(app: Flask) -> None:
    user = make_user()
    here, elsewhere = _logged_in(app, user), _logged_in(app, user)
    response = post_form(
        here,
        "/auth/password",
        {
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    assert _sent_to_login(elsewhere)
    assert here.get("/").status_code == 200  # the device that changed it stays in


@pytest.mark.parametrize(
    ("actor_role", "target_role", "action"),
    [
        (Role.ADMIN, Role.SUBMITTER, "reset"),
        (Role.SECURITY_ADMIN, Role.REVIEWER, "reset-mfa"),
        (Role.ADMIN, Role.SUBMITTER, "end-sessions"),
        (Role.SECURITY_ADMIN, Role.AUDITOR, "end-sessions"),
    ],
)
def test_administrator_actions_end_the_users_sessions(
    app: Flask, actor_role: Role, target_role: Role, action: str
) -> None:
    target = make_user(target_role)
    victim = _logged_in(app, target)
    admin = _logged_in(app, make_user(actor_role))
    token = csrf_token(admin, f"/admin/users/{target.id}/edit")
    response = admin.post(f"/admin/users/{target.id}/{action}", data={"csrf_token": token})
    assert response.status_code in (200, 302)
    assert _sent_to_login(victim)


def test_deactivating_an_organisation_ends_its_members_sessions(app: Flask) -> None:
    park = make_org()
    member = _logged_in(app, make_user(org=park))
    outsider = _logged_in(app, make_user())
    admin = _logged_in(app, make_user(Role.ADMIN))
    response = post_form(
        admin,
        f"/admin/organisations/{park.id}/active",
        {"active": "0"},
        page="/admin/organisations",
    )
    assert response.status_code in (302, 303)
    assert _sent_to_login(member)
    assert outsider.get("/").status_code == 200
