"""The auditor's pages: only the auditor; filters, keyset pages, formula-safe CSV, verification."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from feedback.extensions import db
from feedback.models import AuditRecord, Role, User
from tests.audit.helpers import tamper
from tests.conftest import login, transaction_begins
from tests.factories import PASSWORD, make_user


def _auditor(client: FlaskClient) -> User:
    user = make_user(Role.AUDITOR, email="shenji@cpcif.cn")
    login(client, user.email, PASSWORD)
    return user


def _add(action: str, at: datetime | None = None, **fields: object) -> AuditRecord:
    row = AuditRecord(action=action, **({"at": at} if at else {}), **fields)
    db.session.add(row)
    return row


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (Role.AUDITOR, 200),
        (Role.ADMIN, 403),
        (Role.SECURITY_ADMIN, 403),
        (Role.REVIEWER, 403),
        (Role.COMPILER, 403),
        (Role.SUBMITTER, 403),
    ],
)
@pytest.mark.parametrize("path", ["/audit/", "/audit/export.csv", "/audit/verify"])
def test_only_the_auditor_reads_the_audit_trail(
    client: FlaskClient, role: Role, status: int, path: str
) -> None:
    user = make_user(role)
    login(client, user.email, PASSWORD)
    response = client.get(path)
    response.close()  # the export is a file: let it go
    assert response.status_code == status
    nav = client.get("/").get_data(as_text=True)
    assert ('href="/audit/"' in nav) == (role == Role.AUDITOR)


def test_anonymous_is_sent_to_login(client: FlaskClient) -> None:
    response = client.get("/audit/export.csv")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_filters_combine(client: FlaskClient) -> None:
    _auditor(client)
    beijing_day_start = datetime(2026, 3, 1, 16, 0, tzinfo=UTC)  # 2026-03-02 00:00 Beijing
    _add("login", beijing_day_start, actor_email="Zhang@Park.cn", outcome="failure", ip="10.1.1.1")
    _add("login", beijing_day_start.replace(minute=1), actor_email="li@park.cn", ip="10.1.1.2")
    _add(
        "user_update",
        beijing_day_start.replace(hour=15),
        actor_email="zhang@park.cn",
        object_type="user",
        object_id="42",
        ip="10.1.1.1",
    )
    _add("login", datetime(2026, 3, 3, 16, 0, tzinfo=UTC), actor_email="zhang@park.cn")
    db.session.commit()

    def ids(**args: str) -> list[str]:
        body = client.get("/audit/", query_string=args).get_data(as_text=True)
        rows = [line for line in body.splitlines() if "@park.cn" in line.lower()]
        return rows

    assert len(ids(actor="ZHANG@park")) == 3  # part of the e-mail, any case
    assert len(ids(actor="zhang", outcome="failure")) == 1
    assert len(ids(action="login", **{"from": "2026-03-02", "to": "2026-03-02"})) == 2
    assert len(ids(**{"to": "2026-03-01"})) == 1  # 15:00 UTC on 1 March is 23:00 in Beijing
    assert len(ids(object_type="user", object_id="42")) == 1
    assert len(ids(ip="10.1.1.1")) == 2
    assert len(ids(actor="%")) == 0  # LIKE wildcards are literal
    page = client.get("/audit/", query_string={"action": "user_update"}).get_data(as_text=True)
    assert '<option value="user_update" selected>' in page
    assert '<label class="form-label" for="actor">操作人邮箱</label>' in page


def test_pages_newest_first_by_keyset(client: FlaskClient) -> None:
    _auditor(client)
    for n in range(120):
        _add("probe", actor_email=f"p{n:03d}@x.cn")
    db.session.commit()
    first = client.get("/audit/?action=probe").get_data(as_text=True)
    assert first.index("p119@x.cn") < first.index("p070@x.cn")
    assert "p069@x.cn" not in first
    older = first.split('href="/audit/?before=')[1].split('"')[0].replace("&amp;", "&")
    second = client.get(f"/audit/?before={older}").get_data(as_text=True)
    assert "p069@x.cn" in second and "p020@x.cn" in second and "p019@x.cn" not in second
    assert "最新记录" in second
    third_cursor = second.split('href="/audit/?before=')[1].split('"')[0].replace("&amp;", "&")
    third = client.get(f"/audit/?before={third_cursor}").get_data(as_text=True)
    assert "p000@x.cn" in third and "更早的记录" not in third


PAYLOADS = ['=HYPERLINK("http://evil")', "+8613800000000", "-5", "@SUM(1)", "\t=1", "＝1+2"]


def test_export_is_formula_safe_utf8_bom_quoted_and_audited(
    app: Flask, client: FlaskClient
) -> None:
    auditor = _auditor(client)
    for payload in PAYLOADS:
        _add(
            "login",
            actor_email=payload,
            outcome="failure",
            detail=json.dumps({"名称": "园区"}, ensure_ascii=False),
        )
    db.session.commit()

    response = client.get("/audit/export.csv", query_string={"outcome": "failure"})

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]
    data = response.get_data()
    response.close()  # as a WSGI server does once the body is sent
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    lines = text.split("\r\n")
    assert all(line.startswith('"') for line in lines if line)
    rows = list(csv.reader(io.StringIO(text)))
    header, body = rows[0], rows[1:]
    assert header[:2] == ["编号", "时间（UTC）"]
    emails = [row[header.index("操作人")] for row in body]
    assert emails == ["'" + p for p in PAYLOADS]
    assert body[0][header.index("详情")] == '{"名称": "园区"}'
    assert body[0][1].endswith("Z")
    audit = db.session.scalars(
        select(AuditRecord).where(AuditRecord.action == "audit_export")
    ).one()
    detail = json.loads(audit.detail or "")
    assert audit.actor_id == auditor.id and audit.actor_roles == "auditor"
    assert detail["rows"] == len(PAYLOADS)
    assert detail["filters"] == {"outcome": "failure"}
    assert detail["sha256"] == hashlib.sha256(data).hexdigest()


def test_verify_button_shows_the_verdict(client: FlaskClient) -> None:
    _auditor(client)
    page = client.get("/audit/").get_data(as_text=True)
    assert 'action="/audit/verify"' in page and "校验审计链" in page
    good = client.get("/audit/verify").get_data(as_text=True)
    assert "审计链完整" in good
    target = db.session.scalars(select(AuditRecord).order_by(AuditRecord.id)).first()
    assert target is not None
    tamper("UPDATE audit_record SET ip = '1.2.3.4' WHERE id = (SELECT min(id) FROM audit_record)")
    bad = client.get("/audit/verify")
    body = bad.get_data(as_text=True)
    assert bad.status_code == 200
    assert f"审计链在第 {target.id} 号记录" in body and "被篡改" in body
    last = db.session.scalars(select(AuditRecord).order_by(AuditRecord.id.desc())).first()
    assert last is not None and last.action == "audit_verify" and last.outcome == "failure"


@pytest.mark.parametrize("path", ["/audit/export.csv", "/audit/verify"])
def test_long_reads_do_not_hold_the_sqlite_write_lock(client: FlaskClient, path: str) -> None:
    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL only locks the chain when the record is flushed")
    _auditor(client)
    with transaction_begins() as begins:
        client.get(path).close()
    # The read (and the login check) deferred; only the audit record's transaction IMMEDIATE.
    assert begins[0] == "BEGIN", begins
    assert begins.count("BEGIN IMMEDIATE") == 1, begins
