"""The second factor: enrolment, the code step of logging in, recovery codes, reset, lockout."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from freezegun import freeze_time
from sqlalchemy import select

from feedback.auth import mfa
from feedback.extensions import db
from feedback.models import AuditRecord, RecoveryCode, Role, User, utcnow
from tests.conftest import login, post_form
from tests.factories import PASSWORD, enrol_mfa, make_user, totp_code

_SECRET_ON_PAGE = re.compile(r'id="mfa-secret">([A-Z2-7 ]+)</code>')
_RECOVERY_ON_PAGE = re.compile(r"<code>([0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4})</code>")


def wrong_code(secret: str, now: datetime | None = None) -> str:
    """A 6-digit code that is not valid for ``secret`` in the window around ``now``."""
    moment = now or utcnow()
    totp = pyotp.TOTP(secret)
    valid = {totp.at(moment + timedelta(seconds=delta)) for delta in (-30, 0, 30)}
    return next(code for code in ("000000", "111111", "222222", "333333") if code not in valid)


def actions(action: str, outcome: str = "success") -> list[AuditRecord]:
    db.session.expire_all()
    query = select(AuditRecord).where(AuditRecord.action == action, AuditRecord.outcome == outcome)
    return list(db.session.scalars(query))


def reload(user: User) -> User:
    db.session.expire_all()
    found = db.session.get(User, user.id)
    assert found is not None
    return found


def enrol_through_pages(client: FlaskClient) -> tuple[str, list[str]]:
    """Set up the authenticator as a person would: read the secret, type its code."""
    page = client.get("/auth/mfa/setup").get_data(as_text=True)
    match = _SECRET_ON_PAGE.search(page)
    assert match, page
    secret = match.group(1).replace(" ", "")
    response = post_form(client, "/auth/mfa/setup", {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 200
    return secret, _RECOVERY_ON_PAGE.findall(response.get_data(as_text=True))


# -- enrolment ---------------------------------------------------------------------------------


def test_reviewer_enrols_with_a_real_code_and_gets_ten_recovery_codes(client: FlaskClient) -> None:
    reviewer = make_user(Role.REVIEWER, mfa=False)
    response = login(client, reviewer.email, PASSWORD)
    assert response.headers["Location"] == "/auth/mfa/setup"
    page = client.get("/auth/mfa/setup").get_data(as_text=True)
    assert "<svg" in page and 'class="mfa-qr"' in page  # drawn on the server
    assert "<script" not in page.split("</main>")[0]  # nothing inline (CSP)
    secret, codes = enrol_through_pages(client)
    assert len(codes) == 10 and len(set(codes)) == 10
    user = reload(reviewer)
    assert user.mfa_enabled and user.mfa_secret == secret
    stored = db.session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id)).all()
    assert len(stored) == 10
    plain = {code.replace("-", "") for code in codes}
    assert not plain & {row.code_hash for row in stored}  # hashed, not stored as typed
    assert len(actions("mfa_enrol")) == 1
    assert client.get("/review/").status_code == 200  # enrolment done: the work is open


def test_wrong_code_does_not_enrol(client: FlaskClient) -> None:
    reviewer = make_user(Role.REVIEWER, mfa=False)
    login(client, reviewer.email, PASSWORD)
    page = client.get("/auth/mfa/setup").get_data(as_text=True)
    match = _SECRET_ON_PAGE.search(page)
    assert match
    secret = match.group(1).replace(" ", "")
    response = post_form(client, "/auth/mfa/setup", {"code": wrong_code(secret)})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "验证码不正确" in body
    assert 'role="alert"' in body  # announced
    assert not reload(reviewer).mfa_enabled
    assert len(actions("mfa_enrol", "failure")) == 1
    assert client.get("/review/").headers["Location"] == "/auth/mfa/setup"


def test_the_code_field_suits_phones_and_password_managers(client: FlaskClient) -> None:
    reviewer = make_user(Role.REVIEWER, mfa=False)
    login(client, reviewer.email, PASSWORD)
    page = client.get("/auth/mfa/setup").get_data(as_text=True)
    field = re.search(r"<input[^>]*name=\"code\"[^>]*>", page)
    assert field, page
    assert 'autocomplete="one-time-code"' in field.group(0)
    assert 'inputmode="numeric"' in field.group(0)
    assert re.search(r'<label[^>]*for="code"[^>]*>验证码</label>', page)


@pytest.mark.parametrize(
    "role", [Role.REVIEWER, Role.COMPILER, Role.ADMIN, Role.SECURITY_ADMIN, Role.AUDITOR]
)
def test_staff_and_administrators_reach_nothing_before_enrolling(
    client: FlaskClient, role: Role
) -> None:
    user = make_user(role, mfa=False)
    login(client, user.email, PASSWORD)
    for path in ("/", "/review/", "/admin/users", "/audit/", "/auth/account"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"] == "/auth/mfa/setup", path
    assert client.get("/auth/mfa/setup").status_code == 200


def test_organisation_users_may_opt_in(client: FlaskClient) -> None:
    submitter = make_user(Role.SUBMITTER)
    assert login(client, submitter.email, PASSWORD).headers["Location"] == "/"
    account = client.get("/auth/account").get_data(as_text=True)
    assert "/auth/mfa/setup" in account  # the link on their account page
    enrol_through_pages(client)
    post_form(client, "/auth/logout", {}, page="/")
    response = post_form(client, "/auth/login", {"email": submitter.email, "password": PASSWORD})
    assert response.headers["Location"] == "/auth/mfa"  # now the code is asked for too


# -- logging in --------------------------------------------------------------------------------


def test_password_alone_does_not_log_in_a_user_with_mfa(client: FlaskClient) -> None:
    reviewer = make_user(Role.REVIEWER)
    response = post_form(client, "/auth/login", {"email": reviewer.email, "password": PASSWORD})
    assert response.headers["Location"] == "/auth/mfa"
    assert client.get("/review/").headers["Location"].startswith("/auth/login")
    page = client.get("/auth/mfa").get_data(as_text=True)
    assert 'autocomplete="one-time-code"' in page and "恢复码" in page
    assert reload(reviewer).last_login_at is None
    response = post_form(client, "/auth/mfa", {"code": totp_code(reviewer.email)})
    assert response.headers["Location"] == "/"
    assert client.get("/review/").status_code == 200
    assert len(actions("mfa_verify")) == 1
    login_rows = actions("login")
    assert len(login_rows) == 1 and '"mfa": "totp"' in (login_rows[0].detail or "")


def test_wrong_code_is_refused_and_announced(client: FlaskClient) -> None:
    reviewer = make_user(Role.REVIEWER)
    assert reviewer.mfa_secret
    response = login(client, reviewer.email, PASSWORD, code=wrong_code(reviewer.mfa_secret))
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "验证码不正确" in body
    assert 'role="alert"' in body and 'aria-invalid="true"' in body
    assert client.get("/review/").status_code == 302
    assert len(actions("mfa_verify", "failure")) == 1
    assert reload(reviewer).failed_logins == 1


def test_a_code_is_accepted_only_once(app: Flask) -> None:
    reviewer = make_user(Role.REVIEWER)
    code = totp_code(reviewer.email)
    first, second = app.test_client(), app.test_client()
    assert login(first, reviewer.email, PASSWORD, code=code).headers["Location"] == "/"
    replay = login(second, reviewer.email, PASSWORD, code=code)
    assert replay.status_code == 200 and "已使用过" in replay.get_data(as_text=True)
    assert second.get("/review/").status_code == 302


def test_the_next_page_survives_the_code_step(client: FlaskClient) -> None:
    reviewer = make_user(Role.REVIEWER)
    post_form(
        client,
        "/auth/login?next=/review/",
        {"email": reviewer.email, "password": PASSWORD},
        page="/auth/login?next=/review/",
    )
    response = post_form(client, "/auth/mfa", {"code": totp_code(reviewer.email)})
    assert response.headers["Location"] == "/review/"


def test_the_code_step_expires(client: FlaskClient) -> None:
    reviewer = make_user(Role.REVIEWER)
    post_form(client, "/auth/login", {"email": reviewer.email, "password": PASSWORD})
    with client.session_transaction() as session:
        pending = dict(session["mfa_pending"])
        pending["at"] -= 301
        session["mfa_pending"] = pending
    response = client.get("/auth/mfa")
    assert response.headers["Location"] == "/auth/login"


def test_five_wrong_codes_lock_the_account(client: FlaskClient) -> None:
    reviewer = make_user(Role.REVIEWER)
    assert reviewer.mfa_secret
    bad = wrong_code(reviewer.mfa_secret)
    # Four wrong codes, then the password again: the count is not reset by the password.
    for _ in range(4):
        login(client, reviewer.email, PASSWORD, code=bad)
    response = login(client, reviewer.email, PASSWORD, code=bad)
    assert response.headers["Location"] == "/auth/login"
    assert "已锁定" in client.get("/auth/login").get_data(as_text=True)
    user = reload(reviewer)
    assert user.locked_until is not None and user.locked_until > utcnow()
    assert len(actions("account_locked")) == 1
    # Locked: the right password and the right code are refused for 30 minutes.
    refused = post_form(client, "/auth/login", {"email": reviewer.email, "password": PASSWORD})
    assert refused.status_code == 200
    user.locked_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert login(client, reviewer.email, PASSWORD).headers["Location"] == "/"


# -- the time window ---------------------------------------------------------------------------

MOMENT = datetime(2026, 11, 28, 19, 0, 15, tzinfo=UTC)  # 15 s into a step


def test_window_is_one_step_either_side() -> None:
    secret = pyotp.random_base32()
    totp = pyotp.TOTP(secret)
    step = mfa.time_step(MOMENT)
    assert step == int(MOMENT.timestamp()) // 30
    for delta, accepted in [(-60, False), (-30, True), (0, True), (30, True), (60, False)]:
        code = totp.at(MOMENT + timedelta(seconds=delta))
        expected = step + delta // 30 if accepted else None
        assert mfa.matching_step(secret, code, MOMENT) == expected, delta
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in totp.at(MOMENT))  # from a Chinese IME
    assert mfa.matching_step(secret, full_width, MOMENT) == step


def test_frozen_clock_old_reused_and_older_steps_are_refused(client: FlaskClient) -> None:
    reviewer = make_user(Role.REVIEWER)
    assert reviewer.mfa_secret
    totp = pyotp.TOTP(reviewer.mfa_secret)
    step = mfa.time_step(MOMENT)

    def code_of(steps_after_moment: int) -> str:
        return totp.at(MOMENT + timedelta(seconds=30 * steps_after_moment))

    with freeze_time(MOMENT) as frozen:
        frozen.tick(timedelta(seconds=60))  # now in step + 2
        response = login(client, reviewer.email, PASSWORD, code=code_of(0))  # from t − 60 s
        assert response.status_code == 200
        # The phone's clock runs one step ahead: still inside the window.
        response = post_form(client, "/auth/mfa", {"code": code_of(3)})
        assert response.headers["Location"] == "/"
        assert reload(reviewer).mfa_last_step == step + 3
        post_form(client, "/auth/logout", {}, page="/")
        # The current step's code is inside the window and never used, but older than the one
        # accepted: taking it would let an observed code be replayed, so it is refused.
        response = login(client, reviewer.email, PASSWORD, code=code_of(2))
        assert response.status_code == 200
        frozen.tick(timedelta(seconds=30))  # step + 3: the accepted code itself, again
        response = post_form(client, "/auth/mfa", {"code": totp.now()})
        assert response.status_code == 200
        frozen.tick(timedelta(seconds=30))  # step + 4: a new code
        response = post_form(client, "/auth/mfa", {"code": totp.now()})
        assert response.headers["Location"] == "/"


# -- recovery codes ----------------------------------------------------------------------------


def enrolled_with_codes(role: Role = Role.REVIEWER) -> tuple[User, str, list[str]]:
    user = make_user(role, mfa=False)
    secret = mfa.new_secret()
    codes = mfa.enrol(user, secret, pyotp.TOTP(secret).now())
    db.session.commit()
    return user, secret, codes


def test_a_recovery_code_works_once(app: Flask) -> None:
    user, _secret, codes = enrolled_with_codes()
    client = app.test_client()
    page = "/auth/mfa?method=recovery"
    post_form(client, "/auth/login", {"email": user.email, "password": PASSWORD})
    form = client.get(page).get_data(as_text=True)
    assert 'autocomplete="one-time-code"' not in form  # letters must be typeable
    response = post_form(client, page, {"code": codes[3].upper()})
    assert response.headers["Location"] == "/"
    assert "还剩 9 个" in client.get("/").get_data(as_text=True)
    used = actions("mfa_recovery_used")
    assert len(used) == 1 and '"left": 9' in (used[0].detail or "")
    again = app.test_client()
    post_form(again, "/auth/login", {"email": user.email, "password": PASSWORD})
    refused = post_form(again, page, {"code": codes[3]})
    assert refused.status_code == 200
    assert again.get("/review/").status_code == 302
    assert reload(user).failed_logins == 1


def test_regenerating_recovery_codes_needs_a_code_and_voids_the_old_ones(
    client: FlaskClient,
) -> None:
    user, secret, old_codes = enrolled_with_codes()
    login(client, user.email, PASSWORD)
    refused = post_form(
        client, "/auth/mfa/recovery-codes", {"code": wrong_code(secret)}, page="/auth/account"
    )
    assert refused.status_code == 200 and "验证码不正确" in refused.get_data(as_text=True)
    assert len(actions("mfa_recovery_regenerate", "failure")) == 1
    response = post_form(
        client,
        "/auth/mfa/recovery-codes",
        {"code": totp_code(user.email)},
        page="/auth/account",
    )
    new_codes = _RECOVERY_ON_PAGE.findall(response.get_data(as_text=True))
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    assert len(actions("mfa_recovery_regenerate")) == 1
    with pytest.raises(mfa.CodeRejected):
        mfa.accept_recovery_code(reload(user), old_codes[0], utcnow())
    mfa.accept_recovery_code(reload(user), new_codes[0], utcnow())


# -- reset by the security administrator -------------------------------------------------------


def test_security_admin_resets_a_users_mfa(app: Flask) -> None:
    user, _secret, _codes = enrolled_with_codes()
    security = make_user(Role.SECURITY_ADMIN)
    users_client = app.test_client()
    login(users_client, user.email, PASSWORD)
    admin_client = app.test_client()
    login(admin_client, security.email, PASSWORD)
    listing = admin_client.get(f"/admin/users?q={user.email}").get_data(as_text=True)
    assert f"/admin/users/{user.id}/reset-mfa" in listing
    response = post_form(
        admin_client, f"/admin/users/{user.id}/reset-mfa", {}, page=f"/admin/users?q={user.email}"
    )
    assert response.status_code == 302
    reset = reload(user)
    assert not reset.mfa_enabled and reset.mfa_secret is None
    assert (
        db.session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id)).all() == []
    )
    assert users_client.get("/").status_code == 302  # their session ended
    rows = actions("mfa_reset")
    assert len(rows) == 1 and rows[0].actor_id == security.id and rows[0].object_id == str(user.id)
    # At the next login they are sent to set up an authenticator again.
    assert login(users_client, user.email, PASSWORD).headers["Location"] == "/auth/mfa/setup"


@pytest.mark.parametrize("role", [Role.ADMIN, Role.AUDITOR])
def test_only_the_security_admin_resets_mfa(app: Flask, role: Role) -> None:
    user, _secret, _codes = enrolled_with_codes()
    other = make_user(role)
    client = app.test_client()
    login(client, other.email, PASSWORD)
    response = post_form(client, f"/admin/users/{user.id}/reset-mfa", {}, page="/auth/account")
    assert response.status_code == 403
    assert reload(user).mfa_enabled


def test_security_admin_cannot_reset_their_own_mfa(client: FlaskClient) -> None:
    security = make_user(Role.SECURITY_ADMIN)
    login(client, security.email, PASSWORD)
    response = post_form(client, f"/admin/users/{security.id}/reset-mfa", {}, page="/auth/account")
    assert response.status_code == 403
    assert reload(security).mfa_enabled


# -- password expiry ---------------------------------------------------------------------------


def test_expired_password_forces_a_change_for_an_admin_but_not_a_submitter(
    app: Flask,
) -> None:
    admin = make_user(Role.ADMIN)
    submitter = make_user(Role.SUBMITTER)
    app.config["DORMANT_DAYS"] = 0  # unused for 91 days; dormancy: test_login.py
    with freeze_time(utcnow() + timedelta(days=91)):
        admin_client, submitter_client = app.test_client(), app.test_client()
        response = login(admin_client, admin.email, PASSWORD)
        assert response.headers["Location"] == "/auth/password"
        assert admin_client.get("/admin/users").headers["Location"] == "/auth/password"
        assert "使用期限" in admin_client.get("/auth/password").get_data(as_text=True)
        assert login(submitter_client, submitter.email, PASSWORD).headers["Location"] == "/"
        assert submitter_client.get("/").status_code == 200
        post_form(
            admin_client,
            "/auth/password",
            {
                "current_password": PASSWORD,
                "new_password": "Xin-Mima-2026!",
                "confirm_password": "Xin-Mima-2026!",
            },
        )
        assert admin_client.get("/admin/users").status_code == 200


def test_password_expiry_is_off_for_others_until_configured(app: Flask) -> None:
    submitter = make_user(Role.SUBMITTER)
    app.config["PASSWORD_MAX_AGE_DAYS"] = 180
    app.config["DORMANT_DAYS"] = 0  # unused for 181 days; dormancy: test_login.py
    with freeze_time(utcnow() + timedelta(days=181)):
        client = app.test_client()
        assert login(client, submitter.email, PASSWORD).headers["Location"] == "/auth/password"


def test_admin_password_within_its_age_is_not_expired(app: Flask) -> None:
    admin = make_user(Role.ADMIN)
    with freeze_time(utcnow() + timedelta(days=89)):
        client = app.test_client()
        assert login(client, admin.email, PASSWORD).headers["Location"] == "/"


def test_factory_enrols_only_those_who_must(app: Flask) -> None:
    assert make_user(Role.REVIEWER).mfa_enabled
    assert not make_user(Role.SUBMITTER).mfa_enabled
    user = make_user(Role.ORG_APPROVER)
    enrol_mfa(user)
    assert reload(user).mfa_enabled


def test_operator_resets_mfa_at_the_command_line(runner: FlaskCliRunner) -> None:
    security = make_user(Role.SECURITY_ADMIN)
    result = runner.invoke(args=["reset-mfa", "--email", security.email.upper()])
    assert result.exit_code == 0, result.output
    assert not reload(security).mfa_enabled
    rows = actions("mfa_reset")
    assert len(rows) == 1 and rows[0].actor_id is None
    missing = runner.invoke(args=["reset-mfa", "--email", "nobody@example.cn"])
    assert missing.exit_code != 0 and "没有" in missing.output


def test_two_workers_racing_with_one_code_accept_it_once(app: Flask) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers with BEGIN IMMEDIATE (feedback.database)")
    reviewer = make_user(Role.REVIEWER)
    assert reviewer.mfa_secret
    code, now = pyotp.TOTP(reviewer.mfa_secret).now(), utcnow()
    both_have_read = threading.Barrier(2, timeout=10)
    outcomes: list[str] = []

    def attempt() -> None:
        with app.app_context():  # a session of its own, like another worker process
            try:
                user = db.session.get(User, reviewer.id)
                assert user is not None and user.mfa_last_step is None
                both_have_read.wait()
                mfa.accept_totp(user, code, now)
                db.session.commit()
                outcomes.append("accepted")
            except mfa.CodeRejected:
                db.session.rollback()
                outcomes.append("refused")
            except Exception as error:  # reported to the test thread
                outcomes.append(repr(error))
            finally:
                db.session.remove()

    workers = [threading.Thread(target=attempt) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=20)
    assert sorted(outcomes) == ["accepted", "refused"]
