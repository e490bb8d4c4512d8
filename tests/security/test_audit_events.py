"""Each security-relevant action leaves exactly one audit record, every field filled (row 32).

One case per event of SECURITY.md row 32. A case prepares what the action needs, then the action
runs through the test client; the records written by the action alone are checked: exactly one
of the expected event with the expected outcome, and every field of the row set — UTC time,
user, role, organisation, IP, event, object type and id, outcome and request id. Only anonymous
failures (an unknown e-mail at login, a login form without a CSRF token) have no user, role or
organisation, and an unknown e-mail names no account (object type ``user``, no id); they still
have everything else.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from feedback.extensions import db
from feedback.models import AuditRecord, Role, Submission, Tag, User, utcnow
from tests.auth.test_mfa import enrol_through_pages
from tests.conftest import csrf_token, login, post_form
from tests.factories import (
    PASSWORD,
    make_org,
    make_submission,
    make_user,
    plan_item,
    seed_taxonomy,
    stored_attachment,
)
from tests.filing.test_views import PDF, _form
from tests.security.conftest import PERSONAS, World
from tests.security.routes import probes
from tests.security.test_idor import _expected, _logged_in
from tests.test_ratelimits import limited  # noqa: F401 (the fixture)

FIELDS = (
    "at",
    "actor_id",
    "actor_email",
    "actor_roles",
    "actor_org_id",
    "action",
    "object_type",
    "object_id",
    "outcome",
    "ip",
    "request_id",
)
ANONYMOUS = frozenset({"actor_id", "actor_email", "actor_roles", "actor_org_id", "object_id"})

Action = Callable[[], Any]


def _client(app: Flask, user: Any = None) -> FlaskClient:
    client = app.test_client()
    if user is not None:
        response = login(client, user.email, PASSWORD)
        assert response.status_code == 302 and "/auth/" not in response.headers["Location"]
    return client


# -- the cases: each prepares and returns the action -------------------------------------------


def login_success(app: Flask) -> Action:
    user, client = make_user(), app.test_client()
    return lambda: login(client, user.email, PASSWORD)


def login_failure(app: Flask) -> Action:
    user, client = make_user(), app.test_client()
    return lambda: login(client, user.email, "Wrong-" + PASSWORD)


def login_failure_unknown(app: Flask) -> Action:
    client = app.test_client()
    return lambda: login(client, "nobody@example.cn", PASSWORD)


def lockout(app: Flask) -> Action:
    user, client = make_user(), app.test_client()
    for _ in range(4):
        login(client, user.email, "Wrong-" + PASSWORD)
    return lambda: login(client, user.email, "Wrong-" + PASSWORD)


def logout(app: Flask) -> Action:
    client = _client(app, make_user())
    token = csrf_token(client, "/")
    return lambda: client.post("/auth/logout", data={"csrf_token": token})


def timeout(app: Flask) -> Action:
    client = _client(app, make_user())
    with client.session_transaction() as session:
        session["last_seen"] = time.time() - 31 * 60
    return lambda: client.get("/")


def password_change(app: Flask) -> Action:
    client = _client(app, make_user())
    new = "Xin-Mima-2026!"
    form = {"current_password": PASSWORD, "new_password": new, "confirm_password": new}
    return lambda: post_form(client, "/auth/password", form)


def mfa_change(app: Flask) -> Action:
    client = _client(app, make_user())  # a submitter: the second factor is optional
    return lambda: enrol_through_pages(client)


def account_create(app: Flask) -> Action:
    client, park = _client(app, make_user(Role.ADMIN)), make_org()
    form = {"email": "new.user@park.cn", "name": "张工", "organisation_id": str(park.id),
            "roles": ["submitter"]}  # fmt: skip
    return lambda: post_form(client, "/admin/users/new", form)


def role_change(app: Flask) -> Action:
    client, staff = _client(app, make_user(Role.ADMIN)), make_user(Role.REVIEWER)
    form = {"email": staff.email, "name": staff.name,
            "organisation_id": str(staff.organisation_id), "roles": ["compiler"]}  # fmt: skip
    return lambda: post_form(client, f"/admin/users/{staff.id}/edit", form)


def _filer(app: Flask) -> FlaskClient:
    plan_item("S3")
    return _client(app, make_user())


def report_create(app: Flask) -> Action:
    client = _filer(app)
    data = _form(client, "/submissions/new?kind=problem", action="save")
    return lambda: client.post("/submissions/new/problem", data=data)


def report_submit(app: Flask) -> Action:
    client = _filer(app)
    data = _form(client, "/submissions/new?kind=problem", action="submit")
    return lambda: client.post("/submissions/new/problem", data=data)


def _own_draft(app: Flask) -> tuple[FlaskClient, Submission]:
    plan_item("S3")
    author = make_user()
    return _client(app, author), make_submission(author)


def report_edit(app: Flask) -> Action:
    client, draft = _own_draft(app)
    page = f"/submissions/{draft.id}/edit"
    data = _form(client, page, action="save", version=str(draft.version))
    return lambda: client.post(page, data=data)


def report_delete(app: Flask) -> Action:
    """Submissions are never deleted: withdrawing one is how it leaves the federation's queue."""
    plan_item("S3")
    author = make_user()
    sent = make_submission(author, submit=True)
    client = _client(app, author)
    token = csrf_token(client, f"/submissions/{sent.id}")
    return lambda: client.post(f"/submissions/{sent.id}/withdraw", data={"csrf_token": token})


def _reviewing(app: Flask) -> tuple[FlaskClient, Submission, str]:
    sent = make_submission(make_user(), submit=True)
    client = _client(app, make_user(Role.REVIEWER))
    return client, sent, csrf_token(client, f"/review/{sent.id}")


def report_review(app: Flask) -> Action:
    client, sent, token = _reviewing(app)
    data = {"csrf_token": token, "action": "start_review"}
    return lambda: client.post(f"/review/{sent.id}/decide", data=data)


def report_tag(app: Flask) -> Action:
    seed_taxonomy()
    client, sent, token = _reviewing(app)
    tag = db.session.scalars(select(Tag)).first()
    assert tag is not None
    items = [str(i.id) for i in sent.plan_items]
    data = {"csrf_token": token, "version": str(sent.version), "priority": "1",
            "plan_item_ids": items, "tag_ids": [str(tag.id)]}  # fmt: skip
    return lambda: client.post(f"/review/{sent.id}/edit", data=data)


def attachment_upload(app: Flask) -> Action:
    client, draft = _own_draft(app)
    page = f"/submissions/{draft.id}/edit"
    data = _form(client, page, action="save", version=str(draft.version),
                 attachments=[(io.BytesIO(PDF), "整改报告.pdf")])  # fmt: skip
    return lambda: client.post(page, data=data, content_type="multipart/form-data")


def attachment_download(app: Flask) -> Action:
    author = make_user()
    draft = make_submission(author)
    attachment = stored_attachment(draft, author, "整改报告.pdf")
    client = _client(app, author)
    return lambda: client.get(f"/submissions/{draft.id}/attachments/{attachment.id}").close()


def attachment_delete(app: Flask) -> Action:
    author = make_user()
    draft = make_submission(author)
    attachment = stored_attachment(draft, author, "整改报告.pdf")
    client = _client(app, author)
    url = f"/submissions/{draft.id}/attachments/{attachment.id}/delete"
    token = csrf_token(client, f"/submissions/{draft.id}/edit")
    return lambda: client.post(url, data={"csrf_token": token})


def export(app: Flask) -> Action:
    make_submission(make_user(), submit=True)
    client = _client(app, make_user(Role.REVIEWER))
    form = {"csrf_token": csrf_token(client, "/exports/new"), "format": "csv",
            "columns": ["reference", "title"]}  # fmt: skip
    return lambda: client.post("/exports/new", data=form)


def config_change(app: Flask) -> Action:
    item = plan_item("S3")
    client = _client(app, make_user(Role.ADMIN))
    form = {"name": "特殊作业安全管理（八大作业）", "sort_order": "1"}
    return lambda: post_form(client, f"/admin/plan/{item.id}/edit", form)


def denial_role_wall(app: Flask) -> Action:
    client = _client(app, make_user(Role.REVIEWER))
    return lambda: client.get("/admin/users")


def denial_other_organisation(app: Flask) -> Action:
    theirs = make_submission(make_user(), submit=True)
    client = _client(app, make_user())
    return lambda: client.get(f"/submissions/{theirs.id}")


def csrf_failure(app: Flask) -> Action:
    client = _client(app, make_user())
    return lambda: client.post("/auth/logout")


def csrf_failure_anonymous(app: Flask) -> Action:
    client = app.test_client()
    return lambda: client.post("/auth/login", data={"email": "a@b.cn", "password": "x"})


def validation_failure(app: Flask) -> Action:
    client = _filer(app)
    data = _form(client, "/submissions/new?kind=problem", action="save", sensitivity="secret")
    return lambda: client.post("/submissions/new/problem", data=data)


# (case, event, outcome, status or None, anonymous)
CASES: list[tuple[Callable[[Flask], Action], str, str, int | None, bool]] = [
    (login_success, "login", "success", 302, False),
    (login_failure, "login", "failure", 200, False),
    (login_failure_unknown, "login", "failure", 200, True),
    (lockout, "account_locked", "success", 200, False),
    (logout, "logout", "success", 302, False),
    (timeout, "session_timeout", "success", 302, False),
    (password_change, "password_change", "success", 302, False),
    (mfa_change, "mfa_enrol", "success", None, False),
    (account_create, "user_create", "success", 200, False),
    (role_change, "user_roles_change", "success", 302, False),
    (report_create, "submission_create", "success", 303, False),
    (report_submit, "submit", "success", 303, False),
    (report_review, "start_review", "success", 303, False),
    (report_tag, "staff_edit", "success", 303, False),
    (report_edit, "submission_update", "success", 303, False),
    (report_delete, "withdraw", "success", 303, False),
    (attachment_upload, "attachment_upload", "success", 303, False),
    (attachment_download, "attachment_download", "success", None, False),
    (attachment_delete, "attachment_delete", "success", 302, False),
    (export, "export", "success", 200, False),
    (config_change, "plan_item_update", "success", 302, False),
    (denial_role_wall, "access_denied", "failure", 403, False),
    (denial_other_organisation, "access_denied", "failure", 404, False),
    (csrf_failure, "csrf_failure", "failure", 400, False),
    (csrf_failure_anonymous, "csrf_failure", "failure", 400, True),
    (validation_failure, "validation_failure", "failure", 422, False),
]


@pytest.mark.parametrize(
    ("case", "event", "outcome", "status", "anonymous"),
    CASES,
    ids=[case.__name__ for case, *_rest in CASES],
)
def test_the_action_leaves_one_complete_audit_record(
    app: Flask,
    case: Callable[[Flask], Action],
    event: str,
    outcome: str,
    status: int | None,
    anonymous: bool,
) -> None:
    action = case(app)
    db.session.commit()
    before = db.session.scalar(select(func.coalesce(func.max(AuditRecord.id), 0)))
    started = utcnow()
    response = action()
    if status is not None:
        assert response.status_code == status, response.get_data(as_text=True)[:2000]
    written = db.session.scalars(
        select(AuditRecord).where(AuditRecord.id > before).order_by(AuditRecord.id)
    ).all()
    mine = [r for r in written if r.action == event]
    assert len(mine) == 1, [(r.action, r.outcome) for r in written]
    row = mine[0]
    assert row.outcome == outcome
    empty = {name for name in FIELDS if getattr(row, name) in (None, "")}
    if anonymous:  # no user: no role or organisation either, everything else is there
        assert "actor_id" in empty and empty <= ANONYMOUS, empty
    else:
        assert empty == set()
    assert started <= row.at <= utcnow() and row.at.utcoffset() is not None
    assert row.ip == "127.0.0.1" and len(row.request_id or "") == 32


def _denials() -> list[AuditRecord]:
    return list(
        db.session.scalars(
            select(AuditRecord)
            .where(AuditRecord.action == "access_denied")
            .order_by(AuditRecord.id)
        )
    )


def test_a_missing_id_is_not_a_denial(app: Flask) -> None:
    """Only an existing object refused is audited: a bot walking ids leaves no records."""
    client = _client(app, make_user())
    theirs = make_submission(make_user(), submit=True)
    assert client.get(f"/submissions/{theirs.id + 1000}").status_code == 404
    assert client.get("/no-such-page").status_code == 404
    assert _denials() == []
    assert client.get(f"/submissions/{theirs.id}").status_code == 404
    assert [(d.object_type, d.object_id) for d in _denials()] == [("submission", str(theirs.id))]


def test_a_denial_writes_nothing_else(app: Flask) -> None:
    """The denial's record is committed on its own: what the request had pending is dropped."""
    user = make_user()
    user_id = user.id  # read here: the view must not touch the test's own session

    @app.route("/_half_written")
    def half_written() -> str:
        from flask import abort

        found = db.session.get(User, user_id)
        assert found is not None
        found.name = "写了一半"
        abort(403)

    client = _client(app, user)
    assert client.get("/_half_written").status_code == 403
    db.session.expire_all()
    assert user.name != "写了一半"
    assert [d.object_id for d in _denials()] == ["half_written"]  # the route's endpoint


@pytest.mark.parametrize("limited", [{"AUDIT_REFUSALS_LIMIT": "2 per minute"}], indirect=True)
def test_refusals_are_audited_up_to_the_allowance_per_address(
    limited: Flask,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    with limited.app_context():
        reviewer = db.session.get(User, make_user(Role.REVIEWER).id)
        assert reviewer is not None
        client = _client(limited, reviewer)
        statuses = [client.get("/admin/users").status_code for _ in range(3)]
        assert statuses == [403, 403, 403]  # the third is refused all the same
        assert len(_denials()) == 2
        assert "over AUDIT_REFUSALS_LIMIT" in caplog.text


@pytest.mark.parametrize("persona", sorted(PERSONAS))
def test_every_refusal_of_the_idor_matrix_is_audited_once(
    app: Flask, world: World, persona: str
) -> None:
    """Each 403 and each 404 of organisation B's real objects (tests/security/test_idor.py)
    leaves exactly one ``access_denied`` record naming this user."""
    client, token = _logged_in(app, world.personas[persona])
    user_id = world.personas[persona].id
    missing = []
    checked = 0
    for probe in probes(app, world):
        expected = _expected(persona, probe)
        if expected is None:
            continue
        before = len(_denials())
        data = None if probe.method == "GET" else {"csrf_token": token}
        response = client.open(probe.url, method=probe.method, data=data)
        response.close()
        assert response.status_code == expected, probe
        new = _denials()[before:]
        checked += 1
        if len(new) != 1 or new[0].actor_id != user_id:
            missing.append(f"{probe.method} {probe.url} ({probe.endpoint}) {expected}: {len(new)}")
    assert missing == []
    assert checked >= 10
