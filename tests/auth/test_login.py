"""Logging in and out, lockout, forced password change, session revocation."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from freezegun import freeze_time
from sqlalchemy import select
from werkzeug.test import TestResponse

from feedback.extensions import db
from feedback.models import AuditRecord, Role, User, utcnow
from feedback.security import is_safe_local_path
from tests.conftest import csrf_token, login, post_form
from tests.factories import PASSWORD, make_user

_CSRF_VALUE = re.compile(r'(name="csrf_token"[^>]*value=")[^"]+')


def test_login_page_is_chinese(client: FlaskClient) -> None:
    page = client.get("/auth/login").get_data(as_text=True)
    assert '<html lang="zh-CN">' in page
    assert "登录" in page and "邮箱" in page


def test_login_then_dashboard(client: FlaskClient) -> None:
    user = make_user()
    response = login(client, user.email, PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    assert "工作台" in page and user.organisation.name in page


def test_unknown_user_and_wrong_password_get_identical_answers(client: FlaskClient) -> None:
    user = make_user()
    locked = make_user()
    for _ in range(5):
        login(client, locked.email, "Wrong-Passw0rd!")
    wrong = login(client, user.email, "Wrong-Passw0rd!")
    unknown = login(client, "nobody@example.cn", "Wrong-Passw0rd!")
    locked_out = login(client, locked.email, PASSWORD)  # the right password, but locked
    assert wrong.status_code == unknown.status_code == locked_out.status_code == 200

    def normalised(response: TestResponse, email: str) -> str:
        # Only the CSRF token and the e-mail the person typed may differ.
        body = _CSRF_VALUE.sub(r"\1CSRF", response.get_data(as_text=True))
        return body.replace(email, "EMAIL")

    reference = normalised(wrong, user.email)
    assert "邮箱或密码不正确" in reference
    assert normalised(unknown, "nobody@example.cn") == reference
    assert normalised(locked_out, locked.email) == reference


def test_email_is_case_insensitive(client: FlaskClient) -> None:
    user = make_user(email="Zhang.Gong@Park.cn")
    assert user.email == "zhang.gong@park.cn"
    assert login(client, "  ZHANG.GONG@park.CN ", PASSWORD).status_code == 302


def test_five_failures_lock_the_account_for_thirty_minutes(client: FlaskClient) -> None:
    user = make_user()
    for _ in range(5):
        login(client, user.email, "Wrong-Passw0rd!")
    refused = login(client, user.email, PASSWORD)
    assert refused.status_code == 200  # the right password is refused while locked
    db.session.expire_all()
    locked = db.session.get(User, user.id)
    assert locked is not None and locked.locked_until is not None
    locked.locked_until = utcnow() - timedelta(seconds=1)  # 30 minutes pass
    db.session.commit()
    assert login(client, user.email, PASSWORD).status_code == 302
    actions = db.session.scalars(select(AuditRecord.action)).all()
    assert "account_locked" in actions


def test_first_login_forces_password_change(client: FlaskClient) -> None:
    user = make_user(must_change_password=True)
    response = login(client, user.email, PASSWORD)
    assert response.headers["Location"] == "/auth/password"
    assert client.get("/").headers["Location"] == "/auth/password"
    response = post_form(
        client,
        "/auth/password",
        {
            "current_password": PASSWORD,
            "new_password": "Xin-Mima-2026!",
            "confirm_password": "Xin-Mima-2026!",
        },
    )
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_password_change_needs_the_current_password_and_ends_other_sessions(app: Flask) -> None:
    """SECURITY.md row 7: a wrong current password changes nothing; a change logs out the rest."""
    user = make_user()
    here, elsewhere = app.test_client(), app.test_client()
    login(here, user.email, PASSWORD)
    login(elsewhere, user.email, PASSWORD)
    fields = {"new_password": "Xin-Mima-2026!", "confirm_password": "Xin-Mima-2026!"}
    refused = post_form(here, "/auth/password", {"current_password": "Wrong-Pass-99!", **fields})
    assert refused.status_code == 200
    assert elsewhere.get("/").status_code == 200  # nothing changed
    changed = post_form(here, "/auth/password", {"current_password": PASSWORD, **fields})
    assert changed.status_code == 302
    assert elsewhere.get("/").status_code == 302  # the other device is logged out


def test_weak_new_password_is_refused_and_explained(client: FlaskClient) -> None:
    user = make_user(must_change_password=True)
    login(client, user.email, PASSWORD)
    response = post_form(
        client,
        "/auth/password",
        {
            "current_password": PASSWORD,
            "new_password": "abcdefgh",
            "confirm_password": "abcdefgh",
        },
    )
    body = response.get_data(as_text=True)
    assert "至少三类" in body
    db.session.expire_all()
    assert db.session.get(User, user.id).must_change_password  # type: ignore[union-attr]


def test_expired_initial_password_is_refused(client: FlaskClient) -> None:
    user = make_user(must_change_password=True)
    user.password_changed_at = utcnow() - timedelta(hours=73)
    db.session.commit()
    body = login(client, user.email, PASSWORD).get_data(as_text=True)
    assert "初始密码已过期" in body


def test_logout_ends_every_session(app: Flask) -> None:
    user = make_user()
    first, second = app.test_client(), app.test_client()
    login(first, user.email, PASSWORD)
    login(second, user.email, PASSWORD)
    assert second.get("/").status_code == 200
    post_form(first, "/auth/logout", {}, page="/")
    assert first.get("/").status_code == 302
    assert second.get("/").status_code == 302  # the other device's cookie is revoked too


def test_replayed_cookie_after_logout_is_refused(app: Flask) -> None:
    user = make_user()
    client = app.test_client()
    login(client, user.email, PASSWORD)
    cookie = client.get_cookie("feedback_session")
    assert cookie is not None
    post_form(client, "/auth/logout", {}, page="/")
    replay = app.test_client()
    replay.set_cookie("feedback_session", cookie.value)
    assert replay.get("/").status_code == 302


def test_deactivated_user_is_logged_out_on_next_request(app: Flask) -> None:
    user = make_user()
    admin = make_user(Role.ADMIN)
    client = app.test_client()
    login(client, user.email, PASSWORD)
    admin_client = app.test_client()
    login(admin_client, admin.email, PASSWORD)
    post_form(
        admin_client, f"/admin/users/{user.id}/deactivate", {}, page=f"/admin/users/{user.id}/edit"
    )
    assert client.get("/").status_code == 302


def test_session_cookie_flags(client: FlaskClient) -> None:
    user = make_user()
    response = login(client, user.email, PASSWORD)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP in development
    secure = post_form(client, "/auth/logout", {}, page="/")
    assert secure.status_code == 302
    https = client.application.test_client().get("/auth/login", base_url="https://localhost")
    assert "Set-Cookie" in https.headers  # the login form's CSRF token starts a session
    assert "Secure" in https.headers["Set-Cookie"]
    assert "remember_token" not in response.headers.get("Set-Cookie", "")


def test_session_id_changes_at_login(client: FlaskClient) -> None:
    user = make_user()
    client.get("/auth/login")
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    login(client, user.email, PASSWORD)
    with client.session_transaction() as session:
        assert "planted" not in session


def test_idle_timeout(client: FlaskClient) -> None:
    user = make_user()
    login(client, user.email, PASSWORD)
    with client.session_transaction() as session:
        session["last_seen"] = session["last_seen"] - 31 * 60
    response = client.get("/")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_activity_is_noted_to_the_minute_without_resending_the_cookie(client: FlaskClient) -> None:
    user = make_user()
    login(client, user.email, PASSWORD)
    client.get("/")
    assert "Set-Cookie" not in client.get("/").headers  # seen seconds ago: nothing to renew
    with client.session_transaction() as session:
        session["last_seen"] = session["last_seen"] - 29 * 60
    renewed = client.get("/")
    assert renewed.status_code == 200 and "Set-Cookie" in renewed.headers
    with client.session_transaction() as session:
        session["last_seen"] = session["last_seen"] - 29 * 60  # 29 minutes after the renewal
    assert client.get("/").status_code == 200


def test_absolute_timeout_applies_despite_activity(client: FlaskClient) -> None:
    user = make_user()
    login(client, user.email, PASSWORD)
    with client.session_transaction() as session:
        session["login_at"] = session["login_at"] - 12 * 3600 - 1
    assert client.get("/").status_code == 302


SAFE_PATH_CASES = [
    ("//evil.example", False),
    ("//evil.example/x", False),
    ("/\t/evil.example", False),  # browsers drop the tab: //evil.example
    ("/\n/x", False),
    ("/\r\n/x", False),
    ("/\x7f/x", False),
    ("https://evil.example", False),
    ("http:/evil.example", False),
    ("/\\evil", False),
    ("\\\\evil.example", False),
    ("javascript:alert(1)", False),
    ("evil.example", False),
    ("", False),
    ("/[", True),  # an odd path, but a path on this site
    ("/", True),
    ("/submissions/3?x=1", True),
    ("/admin/users?q=%E5%BC%A0#top", True),
]


@pytest.mark.parametrize(("target", "safe"), SAFE_PATH_CASES)
def test_is_safe_local_path(target: str, safe: bool) -> None:
    assert is_safe_local_path(target) is safe


@pytest.mark.parametrize(
    ("next_arg", "expected"),
    [
        ("//evil.example/x", "/"),
        ("/%09/evil.example", "/"),  # decoded to a tab by the server
        ("/%0A/x", "/"),  # a newline in Location used to give a 500
        ("/%0D%0ASet-Cookie:x=1", "/"),
        ("https://evil.example", "/"),
        ("/%5Cevil", "/"),
        ("javascript:alert(1)", "/"),
        ("/submissions/3%3Fx%3D1", "/submissions/3?x=1"),
    ],
)
def test_open_redirect_after_login_is_refused(
    client: FlaskClient, next_arg: str, expected: str
) -> None:
    user = make_user()
    token_page = f"/auth/login?next={next_arg}"
    token = csrf_token(client, token_page)
    response = client.post(
        token_page, data={"email": user.email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == expected


def test_language_chosen_before_login_survives_login_logout_and_timeout(
    client: FlaskClient,
) -> None:
    user = make_user()
    post_form(client, "/language", {"lang": "en", "next": "/auth/login"}, page="/auth/login")
    assert '<html lang="en">' in client.get("/auth/login").get_data(as_text=True)
    assert login(client, user.email, PASSWORD).status_code == 302
    page = client.get("/").get_data(as_text=True)
    assert '<html lang="en">' in page and "Dashboard" in page
    with client.session_transaction() as session:
        session["last_seen"] = session["last_seen"] - 31 * 60
    assert client.get("/").status_code == 302  # timed out
    assert '<html lang="en">' in client.get("/auth/login").get_data(as_text=True)
    login(client, user.email, PASSWORD)
    post_form(client, "/auth/logout", {}, page="/")
    assert '<html lang="en">' in client.get("/auth/login").get_data(as_text=True)


def _login_audits(user: User) -> list[str]:
    rows = db.session.scalars(
        select(AuditRecord).where(AuditRecord.actor_id == user.id).order_by(AuditRecord.id)
    )
    return [f"{row.action}:{row.outcome}:{row.detail}" for row in rows]


def test_dormant_account_cannot_log_in_until_an_administrator_re_enables_it(app: Flask) -> None:
    assert app.config["DORMANT_DAYS"] == 90
    user = make_user()
    fresh = make_user()
    with freeze_time(utcnow() + timedelta(days=89)):
        assert login(app.test_client(), fresh.email, PASSWORD).status_code == 302
    with freeze_time(utcnow() + timedelta(days=91)):
        refused = login(app.test_client(), user.email, PASSWORD)
        assert refused.status_code == 200
        assert "该账户已停用" in refused.get_data(as_text=True)  # as for any disabled account
        db.session.expire_all()
        assert not user.active
        assert any('reason": "dormant' in audit for audit in _login_audits(user))
        disabled = db.session.scalars(
            select(AuditRecord).where(
                AuditRecord.action == "user_deactivate", AuditRecord.object_id == str(user.id)
            )
        ).one()
        assert disabled.actor_id is None and "dormant" in (disabled.detail or "")
        # Used within the 90 days (day 89): still welcome on day 91.
        assert login(app.test_client(), fresh.email, PASSWORD).status_code == 302
        # Without the right password the state is not revealed: the generic answer.
        wrong = login(app.test_client(), user.email, "Wrong-Passw0rd!").get_data(as_text=True)
        assert "邮箱或密码不正确" in wrong and "该账户已停用" not in wrong

        admin = make_user(Role.ADMIN)  # the administrators of day 0 are dormant too
        admin_client = app.test_client()
        login(admin_client, admin.email, PASSWORD)
        post_form(admin_client, f"/admin/users/{user.id}/activate", {}, page="/admin/users")
        assert login(app.test_client(), user.email, PASSWORD).status_code == 302
