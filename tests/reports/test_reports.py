"""Reports to the ministry: what enters, anonymity, freezing, versions, sending, answers."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from datetime import date
from typing import Any

import openpyxl
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from feedback.consolidation import services as consolidation
from feedback.exceptions import PermissionDenied, ValidationFailed
from feedback.extensions import db
from feedback.filing.kinds import Kind, Sensitivity
from feedback.models import Notification, OrgKind, ParkLevel, Report, Role, Status, User
from feedback.reports import services
from feedback.reports.compile import build_workbook, organisation_for_ministry
from tests.conftest import csrf_token, login, post_form, transaction_begins
from tests.factories import (
    PASSWORD,
    accepted_submission,
    make_org,
    make_submission,
    make_user,
    plan_item,
)


def _report(compiler: User, title: str = "2026年第四季度实施情况汇总报告") -> Report:
    report = services.create(
        compiler,
        services.ReportInput(title=title, period_label="2026年第四季度",
                             period_start=date(2026, 10, 1), period_end=date(2026, 12, 31)),
    )  # fmt: skip
    db.session.commit()
    return report


def _workbook(content: bytes) -> Any:
    return openpyxl.load_workbook(io.BytesIO(content))


def _column(ws: Any, header: str) -> list[Any]:
    """The values under ``header`` in a table sheet (header row found by its text)."""
    for row in ws.iter_rows():
        for cell in row:
            if cell.value == header:
                return [ws.cell(r, cell.column).value for r in range(cell.row + 1, ws.max_row + 1)]
    raise AssertionError(f"no header {header} on {ws.title}")


def test_only_accepted_ministry_material_enters(app: Flask) -> None:
    author = make_user()
    compiler = make_user(Role.COMPILER)
    report = _report(compiler)
    accepted = accepted_submission(author, title="可以报部的问题")
    internal = accepted_submission(author, title="仅限内部的问题", sensitivity=Sensitivity.INTERNAL)
    pending = make_submission(author, submit=True, title="还在审核的问题")
    result = services.add_items(compiler, report, submissions=[accepted, internal, pending])
    assert result.added == 1 and result.refused_count == 2
    assert [i.submission_id for i in report.items] == [accepted.id]


def test_internal_sources_of_a_consolidated_suggestion_stay_out(app: Flask) -> None:
    open_park = make_user(org=make_org(name="开放化工园区"))
    closed_park = make_user(org=make_org(name="内部化工园区"))
    shared = accepted_submission(open_park, title="危化品车辆停车难")
    secret = accepted_submission(
        closed_park, title="内部掌握的停车问题", sensitivity=Sensitivity.INTERNAL
    )
    compiler = make_user(Role.COMPILER)
    suggestion = consolidation.create(
        compiler,
        consolidation.SuggestionInput(
            title="建议加快危化品车辆专用停车场建设", description="多地园区反映停车难。",
            suggestion="建议制定专用停车场建设指南。", plan_item_ids=[plan_item("S3").id],
            references=f"{shared.reference} {secret.reference}",
        ),
    )  # fmt: skip
    report = _report(compiler)
    services.add_items(compiler, report, suggestions=[suggestion])
    db.session.commit()
    content = build_workbook(report, number=1, generated_at=report.created_at)
    book = _workbook(content)
    assert _column(book["来源清单"], "编号") == [shared.reference]
    flat = " ".join(str(c.value) for ws in book for row in ws.iter_rows() for c in row if c.value)
    assert "内部化工园区" not in flat and (secret.reference or "") not in flat
    assert "开放化工园区" in flat


def test_anonymous_organisations_appear_as_kind_and_province(app: Flask) -> None:
    park = make_org(name="某某精细化工园区", region_code="320500", park_level=ParkLevel.PROVINCIAL)
    submission = accepted_submission(make_user(org=park), anonymous=True, region_code="320500")
    assert organisation_for_ministry(submission) == "某省级化工园区（江苏省）"
    association = make_org(OrgKind.ASSOCIATION, name="某协会", region_code="110000")
    named = accepted_submission(make_user(org=association), region_code="110000")
    assert organisation_for_ministry(named) == "某协会"


def test_freeze_keeps_bytes_and_the_next_version_shows_changes(app: Flask) -> None:
    author = make_user()
    first, second = (
        accepted_submission(author, title="第一个问题"),
        accepted_submission(author, title="第二个问题"),
    )
    compiler = make_user(Role.COMPILER)
    report = _report(compiler)
    services.add_items(compiler, report, submissions=[first])
    v1 = services.freeze(compiler, report)
    db.session.commit()
    frozen = bytes(v1.workbook)
    assert hashlib.sha256(frozen).hexdigest() == v1.sha256
    with pytest.raises(ValidationFailed):  # nothing changed since version 1
        services.freeze(compiler, report)

    services.add_items(compiler, report, submissions=[second])
    [item] = [i for i in report.items if i.submission_id == first.id]
    services.reword(compiler, report, item, {"title": "改写后的第一个问题"}, report.version)
    db.session.commit()
    changes = services.changes(report)
    assert changes is not None
    assert [e["text"]["title"] for e in changes.added] == ["第二个问题"]
    assert [(e["text"]["title"], fields) for e, fields in changes.reworded] == [
        ("改写后的第一个问题", ["title"])
    ]
    assert first.title == "第一个问题"  # the original is untouched
    v2 = services.freeze(compiler, report)
    db.session.commit()
    db.session.expire_all()
    assert (v1.number, v2.number) == (1, 2)
    assert bytes(services.get_version(report, 1).workbook) == frozen  # type: ignore[union-attr]


def test_same_data_gives_the_same_bytes(app: Flask) -> None:
    compiler = make_user(Role.COMPILER)
    report = _report(compiler)
    services.add_items(compiler, report, submissions=[accepted_submission(make_user())])
    db.session.commit()
    at = report.created_at
    assert build_workbook(report, number=1, generated_at=at) == build_workbook(
        report, number=1, generated_at=at
    )


def test_formula_text_stays_text(app: Flask) -> None:
    compiler = make_user(Role.COMPILER)
    report = _report(compiler)
    evil = accepted_submission(make_user(), title='=HYPERLINK("http://evil.example","点此")')
    services.add_items(compiler, report, submissions=[evil])
    db.session.commit()
    content = build_workbook(report, number=1, generated_at=report.created_at)
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/sheet")]
        assert not any(re.search(rb"<f[ >]", archive.read(n)) for n in sheets)
    ws = _workbook(content)["发现问题"]
    cells = [c for row in ws.iter_rows() for c in row if str(c.value).startswith("=HYPERLINK")]
    assert cells and all(c.data_type == "s" and c.quotePrefix for c in cells)


def test_sending_marks_sources_reported_and_answers_reach_the_submitter(app: Flask) -> None:
    author = make_user(name="张工")
    direct = accepted_submission(author, title="直接报部的问题")
    behind = accepted_submission(make_user(), title="汇总建议背后的材料")
    compiler = make_user(Role.COMPILER)
    suggestion = consolidation.create(
        compiler,
        consolidation.SuggestionInput(
            title="建议完善特殊作业管理", description="多家园区特殊作业管理薄弱。",
            suggestion="建议修订特殊作业安全规范。", plan_item_ids=[plan_item("S3").id],
            references=behind.reference or "",
        ),
    )  # fmt: skip
    report = _report(compiler)
    services.add_items(compiler, report, submissions=[direct], suggestions=[suggestion])
    edition = services.freeze(compiler, report)
    with pytest.raises(ValidationFailed):
        services.respond(compiler, edition, f"s{direct.id}", verdict="adopted", note="",
                         responded_on=date(2026, 11, 1))  # fmt: skip
    changed = services.mark_sent(
        compiler, edition, sent_on=date(2026, 11, 20), channel="公文交换",
        document_number="石化联〔2026〕45号",
    )  # fmt: skip
    db.session.commit()
    assert changed == 2
    assert direct.status == Status.REPORTED and behind.status == Status.REPORTED
    with pytest.raises(ValidationFailed):
        services.mark_sent(compiler, edition, sent_on=date(2026, 11, 21), channel="x",
                           document_number="y")  # fmt: skip

    services.respond(compiler, edition, f"c{suggestion.id}", verdict="partly",
                     note="已纳入规范修订计划", responded_on=date(2026, 11, 25))  # fmt: skip
    db.session.commit()
    [response] = services.responses_for(behind)
    assert response.verdict == "partly"
    assert db.session.scalars(
        select(Notification).where(Notification.user_id == behind.author_id)
    ).all()
    client = app.test_client()
    login(client, behind.author.email, PASSWORD)
    page = client.get(f"/submissions/{behind.id}").get_data(as_text=True)
    assert "部分采纳" in page and "已纳入规范修订计划" in page and "石化联〔2026〕45号" in page


def test_reviewers_read_compilers_write(app: Flask) -> None:
    reviewer = make_user(Role.REVIEWER)
    with pytest.raises(PermissionDenied):
        _report(reviewer)
    compiler = make_user(Role.COMPILER)
    report = _report(compiler)
    services.add_items(compiler, report, submissions=[accepted_submission(make_user())])
    services.freeze(compiler, report)
    db.session.commit()
    client = app.test_client()
    login(client, reviewer.email, PASSWORD)
    assert client.get(f"/reports/{report.id}").status_code == 200
    assert client.get(f"/reports/{report.id}/versions/1.xlsx").status_code == 200
    token = csrf_token(client, f"/reports/{report.id}")
    response = client.post(f"/reports/{report.id}/freeze", data={"csrf_token": token})
    assert response.status_code == 403


@pytest.mark.parametrize("role", [Role.SUBMITTER, Role.ORG_APPROVER, Role.ADMIN, Role.AUDITOR])
def test_no_one_else_opens_or_downloads_reports(app: Flask, role: Role) -> None:
    compiler = make_user(Role.COMPILER)
    report = _report(compiler)
    services.add_items(compiler, report, submissions=[accepted_submission(make_user())])
    services.freeze(compiler, report)
    db.session.commit()
    client = app.test_client()
    login(client, make_user(role).email, PASSWORD)
    for path in (
        "/reports/",
        f"/reports/{report.id}",
        f"/reports/{report.id}/preview",
        f"/reports/{report.id}/preview.xlsx",
        f"/reports/{report.id}/versions/1.xlsx",
    ):
        assert client.get(path).status_code == 403, path


def test_download_is_the_frozen_file(client: FlaskClient) -> None:
    compiler = make_user(Role.COMPILER)
    login(client, compiler.email, PASSWORD)
    report = _report(compiler)
    services.add_items(compiler, report, submissions=[accepted_submission(make_user())])
    edition = services.freeze(compiler, report)
    db.session.commit()
    response = client.get(f"/reports/{report.id}/versions/1.xlsx")
    assert response.status_code == 200
    assert hashlib.sha256(response.data).hexdigest() == edition.sha256
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]


def test_bulk_add_from_the_queue_takes_only_what_may_go(client: FlaskClient) -> None:
    author = make_user()
    good = accepted_submission(author, title="已采用可报部")
    accepted_submission(author, title="已采用但仅限内部", sensitivity=Sensitivity.INTERNAL)
    make_submission(author, submit=True, title="尚未审核的材料")
    compiler = make_user(Role.COMPILER)
    login(client, compiler.email, PASSWORD)
    report = _report(compiler)
    data = {"action": "report", "scope": "all", "report_id": str(report.id)}
    confirm = post_form(client, "/review/bulk", data, page="/review/")
    assert "将把 3 份材料加入汇总报告" in confirm.get_data(as_text=True)
    post_form(client, "/review/bulk", {**data, "confirmed_count": "3"}, page="/review/")
    db.session.expire_all()
    assert [i.submission_id for i in db.session.get_one(Report, report.id).items] == [good.id]


def test_a_stale_reword_keeps_the_text(app: Flask) -> None:
    compiler = make_user(Role.COMPILER)
    report = _report(compiler)
    services.add_items(
        compiler, report, submissions=[accepted_submission(make_user(), title="原来写的标题")]
    )
    db.session.commit()
    [item] = report.items
    first, second = app.test_client(), app.test_client()
    for c in (first, second):
        login(c, compiler.email, PASSWORD)
    url = f"/reports/{report.id}/items/{item.id}/reword"
    tokens = [csrf_token(c, url) for c in (first, second)]
    version = str(report.version)
    fields = {"version": version, "description": "", "cause": "", "impact": ""}
    response = first.post(url, data={**fields, "title": "甲改的标题", "csrf_token": tokens[0]})
    assert response.status_code == 303
    response = second.post(url, data={**fields, "title": "乙认真改的标题", "csrf_token": tokens[1]})
    assert response.status_code == 409 and "乙认真改的标题" in response.get_data(as_text=True)


def test_the_workbook_is_chinese_whatever_the_interface_language(client: FlaskClient) -> None:
    compiler = make_user(Role.COMPILER)
    login(client, compiler.email, PASSWORD)
    post_form(client, "/language", {"lang": "en"}, page="/")
    report = _report(compiler)
    services.add_items(compiler, report, submissions=[accepted_submission(make_user())])
    db.session.commit()
    response = client.get(f"/reports/{report.id}/preview.xlsx")
    book = _workbook(response.data)
    assert "政策建议" in book.sheetnames
    assert _column(book["来源清单"], "状态")[0] == "已采用"


def test_statistics_count_by_kind_and_plan_item(app: Flask) -> None:
    author = make_user()
    compiler = make_user(Role.COMPILER)
    report = _report(compiler)
    problem = accepted_submission(author, plan_item_ids=[plan_item("S3").id])
    experience = accepted_submission(
        author,
        kind=Kind.EXPERIENCE,
        plan_item_ids=[plan_item("E1").id],
        sections={"practice": "园区建立承包商黑名单制度，违章即禁入，作业票证全部电子化管理。",
                  "outcome": "特殊作业违章下降六成以上。"},
    )  # fmt: skip
    services.add_items(compiler, report, submissions=[problem, experience])
    db.session.commit()
    book = _workbook(build_workbook(report, number=1, generated_at=report.created_at))
    values = [[c.value for c in row] for row in book["统计"].iter_rows()]
    s3 = next(r for r in values if r[0] and str(r[0]).startswith("S3"))
    e1 = next(r for r in values if r[0] and str(r[0]).startswith("E1"))
    assert s3[1:4] == [0, 1, 0] and e1[1:4] == [0, 0, 1]


def test_the_report_page_costs_the_same_with_three_or_twenty_items(client: FlaskClient) -> None:
    """No per-item queries (N+1) on the compiler's page or in the workbook it builds."""
    from tests.queries import statements

    compiler = make_user(Role.COMPILER)
    login(client, compiler.email, PASSWORD)
    accepted = [
        accepted_submission(make_user(), title=f"第{n}份已采用的问题材料") for n in range(20)
    ]
    few, many = _report(compiler, "三项的报告"), _report(compiler, "二十项的报告")
    services.add_items(compiler, few, submissions=accepted[:3])
    services.add_items(compiler, many, submissions=accepted)
    db.session.commit()

    def count_queries(path: str) -> int:
        with statements() as seen:
            response = client.get(path)
            assert response.status_code == 200
        return len(seen)

    for page in ("", "/preview"):
        count_queries(f"/reports/{few.id}{page}")  # the process's menus built (feedback/menus.py)
        assert count_queries(f"/reports/{many.id}{page}") == count_queries(
            f"/reports/{few.id}{page}"
        ), page


@pytest.mark.parametrize("path", ["/reports/{id}/versions/1.xlsx", "/reports/{id}/preview.xlsx"])
def test_downloads_take_the_sqlite_write_lock_only_for_their_record(
    client: FlaskClient, path: str
) -> None:
    # Concurrent downloads failed with "database is locked" (make bench, 10 clients): the GET's
    # deferred read transaction could not be upgraded for the audit record.
    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL has no read-to-write lock upgrade")
    compiler = make_user(Role.COMPILER)
    report = _report(compiler)
    services.add_items(compiler, report, submissions=[accepted_submission(make_user())])
    services.freeze(compiler, report)
    db.session.commit()
    login(client, compiler.email, PASSWORD)
    with transaction_begins() as begins:
        response = client.get(path.format(id=report.id))
    assert response.status_code == 200
    assert begins[0] == "BEGIN", begins
    assert begins.count("BEGIN IMMEDIATE") == 1, begins
