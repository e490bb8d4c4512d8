"""No GET writes, except the writes listed here with their reason (SECURITY.md row 28).

Every GET rule of ``app.url_map`` (the web pages and the JSON API) is requested by every persona,
by organisation B's owner of the objects and by the staff member who owns the export and the
saved view, with the real objects of ``tests/security/conftest.py``. A ``before_flush`` hook on
every session notes what each request would INSERT, UPDATE or DELETE, and a ``do_orm_execute``
hook the bulk statements; anything not in :data:`ALLOWED` fails, as does an entry that no
request needed any more.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, inspect
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from feedback.exceptions import PermissionDenied
from feedback.extensions import db
from feedback.models import AuditRecord, User
from feedback.reports import exports
from tests.api.conftest import bearer, token_for
from tests.conftest import login
from tests.factories import PASSWORD
from tests.security.conftest import World
from tests.security.routes import is_api, urls

Write = tuple[str, str, str]  # insert/update/delete, table, audit action or changed columns

# endpoint ("*": any GET) and write -> why this GET writes by design.
ALLOWED: dict[tuple[str, Write], str] = {
    ("filing.download", ("insert", "audit_record", "attachment_download")): (
        "an attachment download is audited (row 32)"
    ),
    ("api.download_attachment", ("insert", "audit_record", "attachment_download")): (
        "an attachment download through the API is audited (row 32)"
    ),
    ("reports.download", ("insert", "audit_record", "report_download")): (
        "a frozen report's workbook leaving the system is audited"
    ),
    ("reports.preview_workbook", ("insert", "audit_record", "report_preview_download")): (
        "a draft report's workbook leaving the system is audited too"
    ),
    ("api.report_workbook", ("insert", "audit_record", "report_download")): (
        "the same, through the API"
    ),
    ("exports.download", ("insert", "audit_record", "export_download")): (
        "an export's file leaving the system is audited (row 32)"
    ),
    ("audit.export", ("insert", "audit_record", "audit_export")): (
        "the auditor's CSV of the audit trail is itself audited"
    ),
    ("audit.verify", ("insert", "audit_record", "audit_verify")): (
        "a verification of the chain is recorded with its verdict"
    ),
    ("api.export_xlsx", ("insert", "audit_record", "export")): "an API export is audited",
    ("api.export_csv", ("insert", "audit_record", "export")): "an API export is audited",
    ("*", ("insert", "audit_record", "access_denied")): (
        "a 403, or a 404 for another organisation's object, is audited (row 32), in a transaction"
        " of its own (feedback/audit/refusals.py)"
    ),
    ("*", ("update", "api_token", "last_used_at")): (
        "a token's last use is stamped, at most once a minute (feedback/api/tokens.py)"
    ),
}

# Allowed as well, but not reached by the walk's fresh sessions: write -> the test that makes it.
ALLOWED_ELSEWHERE: dict[tuple[str, Write], str] = {
    ("*", ("insert", "audit_record", "session_timeout")): (
        "the request that finds the session idle too long logs it out and audits it: "
        "tests/security/test_audit_events.py::test_the_action_leaves_one_complete_audit_record"
        "[timeout]"
    ),
}


def _describe(obj: Any, operation: str) -> Write:
    table = str(inspect(obj).mapper.local_table.name)
    if isinstance(obj, AuditRecord):
        return operation, table, str(obj.action)
    if operation == "update":
        state = inspect(obj)
        changed = sorted(a.key for a in state.attrs if a.history.has_changes())
        return operation, table, ",".join(changed)
    return operation, table, ""


@contextmanager
def writes() -> Iterator[list[Write]]:
    """What every session flushes or executes as a write inside the block."""
    seen: list[Write] = []

    def flushing(session: Session, _context: UOWTransaction, _instances: object) -> None:
        seen.extend(_describe(obj, "insert") for obj in session.new)
        seen.extend(_describe(obj, "delete") for obj in session.deleted)
        seen.extend(
            _describe(obj, "update")
            for obj in session.dirty
            if session.is_modified(obj, include_collections=False)
        )

    def executing(state: ORMExecuteState) -> None:
        if state.is_insert or state.is_update or state.is_delete:
            kind = "insert" if state.is_insert else "update" if state.is_update else "delete"
            table = getattr(state.statement, "table", None)
            seen.append((f"bulk {kind}", str(getattr(table, "name", table)), ""))

    event.listen(Session, "before_flush", flushing)
    event.listen(Session, "do_orm_execute", executing)
    try:
        yield seen
    finally:
        event.remove(Session, "before_flush", flushing)
        event.remove(Session, "do_orm_execute", executing)


def _get_urls(app: Flask, world: World) -> Iterator[tuple[str, str, bool]]:
    """(endpoint, url, is API) for every GET rule, each choice of its any() parts and drafts."""
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or rule.endpoint == "static":
            continue
        for url, _draft in urls(app, world, rule):
            yield rule.endpoint, url, is_api(rule)


def _visitors(app: Flask, world: World) -> dict[str, tuple[FlaskClient, dict[str, str]]]:
    """Every persona, B's submitter and the other staff member, each with a client and the
    Authorization header of a token of their own; and an anonymous visitor."""
    people: dict[str, User] = {
        **world.personas,
        "owner_b": world.user_b,
        "other_staff": world.other_staff,
    }
    visitors: dict[str, tuple[FlaskClient, dict[str, str]]] = {"anonymous": (app.test_client(), {})}
    for label, user in people.items():
        client = app.test_client()
        response = login(client, user.email, PASSWORD)
        assert response.status_code == 302 and "/auth/" not in response.headers["Location"]
        try:
            headers = bearer(token_for(user))
        except PermissionDenied:  # the three administrator roles hold no tokens
            headers = {}
        visitors[label] = (client, headers)
    return visitors


def test_no_get_writes_outside_the_allowlist(app: Flask, world: World) -> None:
    visitors = _visitors(app, world)
    exports.run_job(world.ids["job"])  # a finished export, for its download (ends the session)
    urls = list(_get_urls(app, world))
    assert len(urls) > 80
    unexpected: list[str] = []
    used: set[tuple[str, Write]] = set()
    statuses: set[int] = set()
    for (label, (client, headers)), (endpoint, url, api) in itertools.product(
        visitors.items(), urls
    ):
        db.session.commit()
        with writes() as seen:
            response = client.get(url, headers=headers if api else {})
            response.close()
        statuses.add(response.status_code)
        for write in seen:
            allowed = ALLOWED.keys() | ALLOWED_ELSEWHERE.keys()
            key = next((k for k in ((endpoint, write), ("*", write)) if k in allowed), None)
            if key is None:
                unexpected.append(f"{label} GET {url} ({endpoint}) {response.status_code}: {write}")
            else:
                used.add(key)
    assert unexpected == [], "\n".join(unexpected)
    # Each entry is still needed (a write that went away leaves no stale permission behind).
    assert set(ALLOWED) - used == set(), f"stale entries: {set(ALLOWED) - used}"
    assert {200, 302, 403, 404} <= statuses  # the walk reached pages, walls and refusals


def test_the_hook_sees_a_get_that_writes(app: Flask, client: FlaskClient) -> None:
    """Control: a GET that changes a row is noticed."""

    @app.route("/_writes")
    def writer() -> str:
        user = db.session.get(User, user_id)
        assert user is not None
        user.name = "改了"
        db.session.commit()
        return ""

    from tests.factories import make_user

    user = make_user()
    user_id = user.id
    login(client, user.email, PASSWORD)
    with writes() as seen:
        assert client.get("/_writes").status_code == 200
    assert seen == [("update", "user", "name")]
