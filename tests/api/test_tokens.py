"""API tokens: created for oneself within one's roles, shown once, hashed, revocable."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from feedback.api import tokens
from feedback.exceptions import PermissionDenied, ValidationFailed
from feedback.extensions import db
from feedback.models import ApiToken, AuditRecord, Role, utcnow
from tests.api.conftest import bearer, forced_token, row_of, token_for
from tests.conftest import csrf_token, login, post_form, transaction_begins
from tests.factories import PASSWORD, make_submission, make_user


def test_secret_is_stored_hashed_and_shown_once(client: FlaskClient) -> None:
    user = make_user()
    created = tokens.create(user, name="园区平台", scopes=["read", "file"])
    db.session.commit()
    row = db.session.get(ApiToken, created.token.id)
    assert row is not None
    assert row.secret_hash == hashlib.sha256(created.secret.encode()).hexdigest()
    assert created.secret not in (row.secret_hash, row.prefix)
    assert created.secret.startswith(row.prefix + "_")
    assert row.scopes_text == "read,file"
    audit = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "api_token_create"))
    assert audit.one().object_id == str(row.id)


@pytest.mark.parametrize(
    ("role", "scope"),
    [
        (Role.SUBMITTER, "review"),
        (Role.SUBMITTER, "compile"),
        (Role.REVIEWER, "file"),
        (Role.REVIEWER, "compile"),
    ],
)
def test_scopes_are_limited_to_the_owners_roles(
    client: FlaskClient, role: Role, scope: str
) -> None:
    user = make_user(role)
    with pytest.raises(ValidationFailed) as failure:
        tokens.create(user, name="x", scopes=["read", scope])
    assert "scopes" in failure.value.errors


def test_administrators_get_no_tokens(client: FlaskClient) -> None:
    with pytest.raises(PermissionDenied):
        tokens.create(make_user(Role.AUDITOR), name="x", scopes=["read"])


@pytest.mark.parametrize("days", [0, 366, -1])
def test_expiry_is_bounded(client: FlaskClient, days: int) -> None:
    with pytest.raises(ValidationFailed) as failure:
        tokens.create(make_user(), name="x", scopes=["read"], expires_days=days)
    assert "expires_days" in failure.value.errors


def test_a_live_token_authenticates_and_records_its_use(client: FlaskClient) -> None:
    user = make_user()
    raw = token_for(user, "read")
    assert row_of(raw).last_used_at is None
    response = client.get("/api/v1/organisations", headers=bearer(raw))
    assert response.status_code == 200
    assert row_of(raw).last_used_at is not None


@pytest.mark.parametrize("revoked", [False, True])
def test_a_get_writes_the_tokens_use_under_the_sqlite_write_lock(
    client: FlaskClient, revoked: bool
) -> None:
    # A GET's deferred read transaction cannot be upgraded to write once another process has
    # written ("database is locked"): the stamp of use, or the refusal's audit record, is
    # written in a transaction of its own that takes the lock up front.
    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL has no read-to-write lock upgrade")
    user = make_user()
    raw = token_for(user, "read")
    if revoked:
        tokens.revoke(user, row_of(raw))
        db.session.commit()
    with transaction_begins() as begins:
        response = client.get("/api/v1/organisations", headers=bearer(raw))
    assert response.status_code == (401 if revoked else 200)
    assert begins[:2] == ["BEGIN", "BEGIN IMMEDIATE"], begins
    assert begins.count("BEGIN IMMEDIATE") == 1, begins
    with transaction_begins() as again:
        client.get("/api/v1/organisations", headers=bearer(raw))
    if not revoked:  # stamped a moment ago: the next GET only reads
        assert "BEGIN IMMEDIATE" not in again, again


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Bearer fbk_0000", "Basic dXNlcjpwYXNz", "Bearer not-a-token"],
)
def test_missing_or_malformed_tokens_get_401(client: FlaskClient, header: str) -> None:
    response = client.get("/api/v1/organisations", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.content_type == "application/problem+json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.get_json()["title"] == "未认证"


def test_a_wrong_secret_with_a_real_prefix_gets_401(client: FlaskClient) -> None:
    raw = token_for(make_user(), "read")
    forged = raw[:-4] + ("AAAA" if not raw.endswith("AAAA") else "BBBB")
    assert client.get("/api/v1/organisations", headers=bearer(forged)).status_code == 401


def test_expired_token_gets_401(client: FlaskClient) -> None:
    raw = forced_token(make_user(), "read", expires_at=utcnow() - timedelta(seconds=1))
    assert client.get("/api/v1/organisations", headers=bearer(raw)).status_code == 401


def test_revoked_token_gets_401(client: FlaskClient) -> None:
    user = make_user()
    raw = token_for(user, "read")
    tokens.revoke(user, row_of(raw))
    db.session.commit()
    assert client.get("/api/v1/organisations", headers=bearer(raw)).status_code == 401
    refused = db.session.scalars(
        select(AuditRecord).where(AuditRecord.action == "api_token_refused")
    ).one()
    assert refused.outcome == "failure" and refused.actor_email == user.email
    assert '"reason": "revoked"' in (refused.detail or "")


def test_a_deactivated_owners_token_gets_401(client: FlaskClient) -> None:
    user = make_user()
    raw = token_for(user, "read")
    user.active = False
    db.session.commit()
    assert client.get("/api/v1/organisations", headers=bearer(raw)).status_code == 401


def test_a_token_never_exceeds_its_owner(client: FlaskClient) -> None:
    """A submitter's token carrying `review` (written past the UI) still cannot decide."""
    author = make_user()
    submission = make_submission(author, submit=True)
    raw = forced_token(author, "read,file,review")
    response = client.post(
        f"/api/v1/submissions/{submission.id}/transitions",
        json={"action": "start_review"},
        headers=bearer(raw),
    )
    assert response.status_code == 403
    db.session.refresh(submission)
    assert submission.status == "submitted"


def test_the_token_page_creates_shows_once_and_revokes(client: FlaskClient) -> None:
    user = make_user()
    login(client, user.email, PASSWORD)
    page = client.get("/auth/tokens").get_data(as_text=True)
    assert "审核（review）" not in page  # not offered to a submitter
    response = post_form(
        client,
        "/auth/tokens",
        {"name": "园区平台", "expires_days": "30", "scopes": ["read", "file"]},
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    row = db.session.scalars(select(ApiToken).where(ApiToken.owner_id == user.id)).one()
    assert f"{row.prefix}_" in html  # the whole secret, this once
    again = client.get("/auth/tokens").get_data(as_text=True)
    assert row.prefix in again and f"{row.prefix}_" not in again
    token = csrf_token(client, "/auth/tokens")
    response = client.post(f"/auth/tokens/{row.id}/revoke", data={"csrf_token": token})
    assert response.status_code == 303
    db.session.refresh(row)
    assert row.revoked_at is not None


def test_the_page_refuses_scopes_beyond_the_roles(client: FlaskClient) -> None:
    user = make_user()
    login(client, user.email, PASSWORD)
    response = post_form(
        client, "/auth/tokens", {"name": "x", "expires_days": "30", "scopes": ["review"]}
    )
    assert response.status_code == 422
    assert db.session.scalars(select(ApiToken)).first() is None


def test_others_cannot_revoke_but_the_security_admin_can(client: FlaskClient) -> None:
    owner = make_user()
    raw = token_for(owner, "read")
    row = row_of(raw)
    stranger = make_user()
    login(client, stranger.email, PASSWORD)
    token = csrf_token(client, "/auth/tokens")
    assert (
        client.post(f"/auth/tokens/{row.id}/revoke", data={"csrf_token": token}).status_code == 404
    )
    assert client.get("/auth/tokens/all").status_code == 403
    other = client.application.test_client()
    admin = make_user(Role.SECURITY_ADMIN)
    login(other, admin.email, PASSWORD)
    client = other
    listing = client.get("/auth/tokens/all")
    assert listing.status_code == 200 and row.prefix in listing.get_data(as_text=True)
    assert 'href="/auth/tokens/all"' in client.get("/").get_data(as_text=True)  # in the menu
    token = csrf_token(client, "/auth/tokens/all")
    assert (
        client.post(f"/auth/tokens/{row.id}/revoke", data={"csrf_token": token}).status_code == 303
    )
    assert row_of(raw).revoked_at is not None


def test_account_page_links_to_tokens(client: FlaskClient) -> None:
    user = make_user()
    login(client, user.email, PASSWORD)
    assert "/auth/tokens" in client.get("/auth/account").get_data(as_text=True)


def test_cli_create_token_prints_it_alone_on_the_last_line(
    client: FlaskClient, runner: FlaskCliRunner
) -> None:
    user = make_user()
    result = runner.invoke(
        args=[
            "create-token",
            user.email,
            "--name",
            "脚本",
            "--scopes",
            "read,file",
            "--expires-days",
            "7",
        ]
    )
    assert result.exit_code == 0, result.output
    raw = result.output.strip().splitlines()[-1]
    assert raw.startswith(tokens.PREFIX)
    assert client.get("/api/v1/organisations", headers=bearer(raw)).status_code == 200
    assert row_of(raw).scopes_text == "read,file"


@pytest.mark.parametrize(
    "args",
    [
        ["nobody@example.cn", "--name", "x"],
        ["{email}", "--name", "x", "--scopes", "compile"],
        ["{email}", "--name", "x", "--expires-days", "0"],
    ],
)
def test_cli_create_token_fails_with_a_reason(runner: FlaskCliRunner, args: list[str]) -> None:
    user = make_user()
    result = runner.invoke(args=["create-token", *[a.format(email=user.email) for a in args]])
    assert result.exit_code == 1
    assert result.output.startswith("错误：")


@pytest.mark.parametrize(
    "raw",
    ["fbk_\x00\x00\x00\x00\x00\x00\x00\x00_x", "fbk_zzzzzzzz_" + "a" * 43, "fbk_" + "a" * 500],
)
def test_malformed_tokens_are_refused_before_any_lookup(client: FlaskClient, raw: str) -> None:
    assert tokens.authenticate(raw) is None
