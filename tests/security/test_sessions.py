"""Session lifetime and revocation on a frozen clock (SECURITY.md rows 6-9).

Already covered in tests/auth/test_login.py and not repeated here: logout ends every session
and a replayed cookie, deactivating a user, cookie flags, a new session at login, and idle and
absolute timeouts by editing the session's timestamps. tests/admin/test_users.py covers a role
change. These tests let real time pass instead, per role, and add the other revocations.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from freezegun import freeze_time
from freezegun.api import FrozenDateTimeFactory
from sqlalchemy import select

from feedback.extensions import db
from feedback.models import AuditRecord, Role, User, UserSession
from tests.conftest import csrf_token, login, post_form
from tests.factories import PASSWORD, make_org, make_user
from tests.queries import statements

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


def _session_rows(user: User) -> list[UserSession]:
    query = select(UserSession).where(UserSession.user_id == user.id).order_by(UserSession.id)
    return list(db.session.scalars(query))


def test_a_fourth_login_ends_the_oldest_session_and_is_audited(
    app: Flask, clock: FrozenDateTimeFactory
) -> None:
    user = make_user()
    phones = []
    for _n in range(4):
        phones.append(_logged_in(app, user))
        clock.tick(timedelta(seconds=5))
    oldest, *others = phones
    assert _sent_to_login(oldest)
    for phone in others:
        assert phone.get("/").status_code == 200
    rows = _session_rows(user)
    assert [row.ended_reason for row in rows] == ["evicted", None, None, None]
    evictions = db.session.scalars(
        select(AuditRecord).where(AuditRecord.action == "session_evict")
    ).all()
    assert len(evictions) == 1
    assert evictions[0].actor_id == user.id and evictions[0].object_id == str(user.id)
    assert json.loads(evictions[0].detail or "{}")["session"] == rows[0].id
    # A fifth login ends the second, not one of the newer ones.
    _logged_in(app, user)
    assert _sent_to_login(others[0])
    assert others[1].get("/").status_code == 200 and others[2].get("/").status_code == 200


@pytest.mark.parametrize(("limit", "kept"), [(1, 1), (2, 2), (0, 5)])
def test_the_session_limit_is_configurable(app: Flask, limit: int, kept: int) -> None:
    app.config["MAX_SESSIONS_PER_USER"] = limit
    user = make_user()
    phones = [_logged_in(app, user) for _n in range(5)]
    still_in = [phone.get("/").status_code == 200 for phone in phones]
    assert still_in == [False] * (5 - kept) + [True] * kept


def test_other_users_sessions_do_not_count(app: Flask) -> None:
    first, second = make_user(), make_user()
    mine = [_logged_in(app, first) for _n in range(3)]
    _logged_in(app, second)
    assert all(phone.get("/").status_code == 200 for phone in mine)


def test_an_evicted_cookie_replayed_elsewhere_is_refused(app: Flask) -> None:
    user = make_user()
    oldest = _logged_in(app, user)
    cookie = oldest.get_cookie("feedback_session")
    assert cookie is not None
    for _n in range(3):
        _logged_in(app, user)
    replay = app.test_client()
    replay.set_cookie("feedback_session", cookie.value)
    assert _sent_to_login(replay)


def test_the_table_keeps_only_a_hash_of_the_session_id(app: Flask) -> None:
    user = make_user()
    client = _logged_in(app, user)
    with client.session_transaction() as cookie_session:
        token = cookie_session["sid"]
    (row,) = _session_rows(user)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() != token
    assert row.ended_at is None and row.ip == "127.0.0.1"


def test_each_request_checks_the_session_in_one_query_and_writes_nothing(app: Flask) -> None:
    client = _logged_in(app, make_user())
    client.get("/")
    with statements() as seen:
        assert client.get("/").status_code == 200
    session_queries = [s.replace('"', "") for s in seen if "user_session" in s]
    assert len(session_queries) == 1  # the user and the session row together
    assert "user.session_version" in session_queries[0]
    assert "JOIN user_session ON" in session_queries[0]
    writes = [s for s in seen if s.split()[0].upper() in ("INSERT", "UPDATE", "DELETE")]
    assert writes == []


def test_logout_timeout_and_revocation_end_the_rows(
    app: Flask, clock: FrozenDateTimeFactory
) -> None:
    user = make_user()
    idle = _logged_in(app, user)
    clock.tick(timedelta(minutes=31))
    assert _sent_to_login(idle)
    here = _logged_in(app, user)
    post_form(here, "/auth/logout", {}, page="/")
    assert [row.ended_reason for row in _session_rows(user)] == ["timeout", "logout"]
    _logged_in(app, user)
    _logged_in(app, user)
    admin = _logged_in(app, make_user(Role.ADMIN))
    post_form(
        admin, f"/admin/users/{user.id}/end-sessions", {}, page=f"/admin/users/{user.id}/edit"
    )
    reasons = [row.ended_reason for row in _session_rows(user)]
    assert reasons == ["timeout", "logout", "revoked", "revoked"]


def test_purge_sessions_deletes_ended_and_expired_rows_only(
    app: Flask, runner: FlaskCliRunner, clock: FrozenDateTimeFactory
) -> None:
    app.config["SESSION_IDLE_MINUTES"] = 24 * 60  # only the absolute limit matters here
    user = make_user()
    expired = _logged_in(app, user)
    clock.tick(timedelta(hours=11))
    ended = _logged_in(app, user)
    post_form(ended, "/auth/logout", {}, page="/")
    live = _logged_in(app, user)
    clock.tick(timedelta(hours=1, seconds=1))  # the first is past the 12-hour limit
    result = runner.invoke(args=["purge-sessions"])
    assert result.exit_code == 0, result.output
    assert "已删除 2 条" in result.output
    (kept,) = _session_rows(user)
    assert kept.ended_at is None
    audit = db.session.scalars(
        select(AuditRecord).where(AuditRecord.action == "session_purge")
    ).one()
    assert json.loads(audit.detail or "{}") == {"rows": 2}
    assert live.get("/").status_code == 200 and _sent_to_login(expired)
