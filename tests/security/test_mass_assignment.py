"""No mass assignment (SECURITY.md row 14): fields a form does not list are ignored.

Each test posts a valid form plus the columns an attacker would like to set (organisation,
author, status, reviewer, version, account flags) and checks the stored row keeps the values the
services chose, while the form's own fields were saved (so the request did go through).
"""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from feedback.extensions import db
from feedback.models import Role, Status, Submission, User
from tests.conftest import csrf_token, login, post_form
from tests.factories import (
    PASSWORD,
    make_org,
    make_submission,
    make_user,
    plan_item,
    problem_form,
)


def _intruding_fields(victim: User, reviewer: User) -> dict[str, str]:
    """Columns of submissions and users that no form lists."""
    return {
        "organisation_id": str(victim.organisation_id),
        "org_id": str(victim.organisation_id),
        "author_id": str(victim.id),
        "assignee_id": str(reviewer.id),
        "reviewer_id": str(reviewer.id),
        "status": Status.ACCEPTED.value,
        "reference": "FORGED-0001",
        "revision": "42",
        "abstract": "伪造的提炼要点",
        "priority": "2",
        "id": "999",
    }


def test_filing_form_ignores_owner_status_and_version_fields(app: Flask) -> None:
    author = make_user()
    victim = make_user(org=make_org())
    reviewer = make_user(Role.REVIEWER)
    plan_item("S3")
    client = app.test_client()
    login(client, author.email, PASSWORD)
    page = "/submissions/new?kind=problem"
    form = problem_form(idempotency_key="mass-assignment-create")
    extra = _intruding_fields(victim, reviewer)
    created = post_form(client, "/submissions/new/problem", {**form, **extra}, page=page)
    assert created.status_code == 303, created.get_data(as_text=True)
    submission = db.session.scalars(select(Submission)).one()
    assert submission.title == form["title"]
    assert submission.organisation_id == author.organisation_id
    assert submission.author_id == author.id
    assert submission.status == Status.DRAFT
    assert submission.assignee_id is None and submission.abstract is None
    assert submission.priority == 0
    assert submission.reference != "FORGED-0001" and submission.revision == 0
    assert submission.version == 1

    edit_page = f"/submissions/{submission.id}/edit"
    edited = post_form(
        client,
        edit_page,
        {**form, **extra, "title": "修改后的标题：动火作业票证问题", "version": "1"},
    )
    assert edited.status_code == 303, edited.get_data(as_text=True)
    db.session.expire_all()
    assert submission.title == "修改后的标题：动火作业票证问题"
    assert submission.organisation_id == author.organisation_id
    assert submission.author_id == author.id
    assert submission.status == Status.DRAFT and submission.assignee_id is None
    assert submission.reference != "FORGED-0001" and submission.revision == 0
    assert submission.version > 1  # the services count versions; the form only names one


def test_review_edit_ignores_owner_status_and_version_fields(client: FlaskClient) -> None:
    author = make_user()
    victim = make_user(org=make_org())
    other_reviewer = make_user(Role.REVIEWER)
    submission = make_submission(author, submit=True)
    before = (
        submission.organisation_id,
        submission.author_id,
        submission.reference,
        submission.revision,
    )
    loaded = submission.version
    reviewer = make_user(Role.REVIEWER, name="李处长")
    login(client, reviewer.email, PASSWORD)
    token = csrf_token(client, f"/review/{submission.id}")
    extra = _intruding_fields(victim, other_reviewer)
    del extra["abstract"], extra["priority"]  # fields of this form
    response = client.post(
        f"/review/{submission.id}/edit",
        data={
            **extra,
            "csrf_token": token,
            "version": str(loaded),
            "abstract": "审核员写的提炼要点",
            "priority": "1",
            "plan_item_ids": [str(plan_item("S3").id)],
            "submitted_at": "2020-01-01T00:00:00",
        },
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    db.session.expire_all()
    assert submission.abstract == "审核员写的提炼要点" and submission.priority == 1
    after = (
        submission.organisation_id,
        submission.author_id,
        submission.reference,
        submission.revision,
    )
    assert after == before
    assert submission.status == Status.SUBMITTED and submission.assignee_id is None
    assert submission.version == loaded + 1
    assert submission.submitted_at is not None and submission.submitted_at.year != 2020


def test_admin_user_form_ignores_account_state_fields(client: FlaskClient) -> None:
    admin = make_user(Role.ADMIN)
    park = make_org()
    user = make_user(org=park, name="王工")
    before = (
        user.email,
        user.password_hash,
        user.session_version,
        user.mfa_secret,
        user.must_change_password,
    )
    login(client, admin.email, PASSWORD)
    account_state = {
        "active": "",
        "is_active": "0",
        "password_hash": "$argon2id$forged",
        "password": "Forged-Passw0rd!",
        "must_change_password": "y",
        "session_version": "77",
        "failed_logins": "9",
        "locked_until": "2099-01-01T00:00:00",
        "mfa_secret": "JBSWY3DPEHPK3PXP",
        "status": "inactive",
        "version": "5",
        "author_id": str(admin.id),
        "id": str(admin.id),
    }
    response = post_form(
        client,
        f"/admin/users/{user.id}/edit",
        {
            **account_state,
            "email": "forged@example.cn",  # shown but fixed: the login name
            "name": "王工程师",
            "organisation_id": str(park.id),
            "roles": ["submitter"],
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.expire_all()
    assert user.name == "王工程师"
    after = (
        user.email,
        user.password_hash,
        user.session_version,
        user.mfa_secret,
        user.must_change_password,
    )
    assert after == before
    assert user.active and user.failed_logins == 0 and user.locked_until is None
    assert db.session.get(User, admin.id).name == admin.name  # type: ignore[union-attr]

    created = post_form(
        client,
        "/admin/users/new",
        {
            **account_state,
            "must_change_password": "",
            "email": "new@park.cn",
            "name": "新用户",
            "organisation_id": str(park.id),
            "roles": ["submitter"],
        },
    )
    assert created.status_code == 200, created.get_data(as_text=True)
    new = db.session.scalars(select(User).where(User.email == "new@park.cn")).one()
    assert new.must_change_password and new.active  # one-time password, as always
    assert new.password_hash != "$argon2id$forged" and new.session_version != 77
    assert new.failed_logins == 0 and new.locked_until is None and new.mfa_secret is None
