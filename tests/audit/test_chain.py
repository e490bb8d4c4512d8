"""The audit trail is hash-chained, append-only, written with the action, and verifiable."""

from __future__ import annotations

import itertools
import threading

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from feedback.audit import chain
from feedback.audit.services import record
from feedback.extensions import db
from feedback.models import AuditRecord, Organisation, Role
from tests.audit.helpers import add_record, tamper
from tests.conftest import login, post_form
from tests.factories import PASSWORD, make_user


def _records() -> list[AuditRecord]:
    return list(db.session.scalars(select(AuditRecord).order_by(AuditRecord.id)))


def test_records_added_either_way_chain_in_insertion_order(app: Flask) -> None:
    user = make_user(Role.REVIEWER)
    record("first", actor=user)
    db.session.add(AuditRecord(action="second"))
    record("third", actor=None, actor_email="x@example.cn", outcome="failure")
    db.session.commit()

    rows = _records()
    assert [r.action for r in rows][-3:] == ["first", "second", "third"]
    assert rows[0].prev_hash == chain.GENESIS
    for before, after in itertools.pairwise(rows):
        assert after.prev_hash == before.hash
        assert after.id > before.id
    for row in rows:
        assert row.hash == chain.compute_hash(row.prev_hash, row)
    first = rows[-3]
    assert first.actor_roles == "reviewer"
    assert first.actor_org_id == user.organisation_id
    assert first.request_id and len(first.request_id) == 32
    assert chain.verify(db.session).count == len(rows)


def test_canonical_form_is_fixed_json_with_utc_time(app: Flask) -> None:
    row = add_record("login", actor_email="张工@example.cn", ip="10.0.0.1")
    body = chain.canonical(row).decode()
    assert body.startswith('{"action":"login","actor_email":"张工@example.cn",')
    assert f'"at":"{row.at.strftime("%Y-%m-%dT%H:%M:%S.%f")}Z"' in body
    assert body.endswith(',"v":1}')
    assert " " not in body


def test_every_request_gets_its_own_request_id(client: FlaskClient) -> None:
    make_user(email="wang@park.cn")
    login(client, "wang@park.cn", "wrong-password")
    login(client, "wang@park.cn", "wrong-password")
    ids = [r.request_id for r in _records() if r.action == "login"]
    assert len(ids) == 2 and ids[0] and ids[1] and ids[0] != ids[1]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_record SET outcome = 'success'",
        "DELETE FROM audit_record",
        "UPDATE audit_anchor SET last_hash = 'x'",
        "DELETE FROM audit_anchor",
    ],
)
def test_update_and_delete_are_refused_by_the_database(app: Flask, statement: str) -> None:
    add_record("login", days_ago=400, outcome="failure")
    db.session.execute(
        text(
            "INSERT INTO audit_anchor (at, purged_before, purged_count, last_id, last_at,"
            " last_hash) VALUES (:t, :t, 0, 0, :t, :h)"
        ),
        {"t": "2020-01-01 00:00:00", "h": "0" * 64},
    )
    db.session.commit()
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.execute(text(statement))
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(AuditRecord)) == 1


def test_a_second_row_after_the_same_predecessor_is_refused(app: Flask) -> None:
    row = add_record("login")
    with pytest.raises(DBAPIError):
        db.session.execute(
            text(
                "INSERT INTO audit_record (at, action, outcome, prev_hash, hash)"
                " VALUES (:at, 'fork', 'success', :prev, :prev)"
            ),
            {"at": "2026-01-01 00:00:00", "prev": row.prev_hash},
        )
    db.session.rollback()


def test_concurrent_writers_queue_instead_of_forking(app: Flask) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers with BEGIN IMMEDIATE (feedback.database)")
    add_record("seed")
    first, second = Session(db.engine), Session(db.engine)
    first.add(AuditRecord(action="first"))
    first.flush()  # holds the chain lock until it commits
    done = threading.Event()
    errors: list[Exception] = []

    def append_second() -> None:
        try:
            second.add(AuditRecord(action="second"))
            second.commit()
        except Exception as error:  # reported to the test thread
            errors.append(error)
        finally:
            done.set()

    thread = threading.Thread(target=append_second)
    thread.start()
    try:
        assert not done.wait(0.5), "the second writer did not wait for the first"
    finally:
        first.commit()
        thread.join(timeout=10)
        first.close()
        second.close()
    assert errors == []
    rows = _records()
    assert [r.action for r in rows] == ["seed", "first", "second"]
    assert rows[2].prev_hash == rows[1].hash
    assert chain.verify(db.session).ok


def test_verify_passes_and_counts(runner: FlaskCliRunner) -> None:
    for n in range(3):
        add_record(f"action{n}")
    result = runner.invoke(args=["audit-verify"])
    assert result.exit_code == 0, result.output
    assert "审计链完整：共 3 条记录" in result.output


@pytest.mark.parametrize(
    ("statement", "broken", "intact", "reason"),
    [
        ("UPDATE audit_record SET outcome = 'success' WHERE action = 'action1'", 2, 1, "篡改"),
        ("DELETE FROM audit_record WHERE action = 'action1'", 3, 1, "链接不符"),
        (
            "UPDATE audit_record SET at = '2026-01-01 00:00:00' WHERE action = 'action2'",
            3,
            2,
            "篡改",
        ),
    ],
)
def test_verify_names_the_first_broken_record(
    runner: FlaskCliRunner, statement: str, broken: int, intact: int, reason: str
) -> None:
    for n in range(4):
        add_record(f"action{n}", outcome="failure")
    tamper(statement)
    result = runner.invoke(args=["audit-verify"])
    assert result.exit_code == 1
    assert f"第 {broken} 号记录" in result.output
    assert reason in result.output
    assert f"此前 {intact} 条完好" in result.output


def test_failed_audit_write_rolls_the_action_back(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    admin = make_user(Role.ADMIN)
    login(client, admin.email, PASSWORD)
    before = db.session.scalar(select(func.count()).select_from(AuditRecord))

    def refuse(*_args: object) -> None:
        raise RuntimeError("audit store unavailable")

    event.listen(AuditRecord, "before_insert", refuse)
    try:
        response = post_form(
            client,
            "/admin/organisations/new",
            {"name": "不应保存的园区", "kind": "association", "region_code": "110000"},
        )
    finally:
        event.remove(AuditRecord, "before_insert", refuse)
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "系统错误" in body
    assert "Traceback" not in body and "audit store" not in body
    name = db.session.scalar(select(Organisation.id).where(Organisation.name == "不应保存的园区"))
    assert name is None
    assert db.session.scalar(select(func.count()).select_from(AuditRecord)) == before
    assert "audit store unavailable" in caplog.text  # logged with the incident id
