"""copy-database: SQLite → PostgreSQL (when configured) and SQLite → SQLite, all or nothing.

The source is always SQLite (the move this command exists for); the target is a second SQLite
file, and PostgreSQL when FEEDBACK_TEST_DATABASE_URL points at one (as in CI).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from feedback import create_app
from feedback.api import tokens
from feedback.audit import chain
from feedback.audit.services import record
from feedback.auth import sessions
from feedback.auth.mfa import issue_recovery_codes
from feedback.consolidation import services as consolidation
from feedback.extensions import db
from feedback.filing import services as filing
from feedback.models import (
    Attachment,
    Base,
    Organisation,
    PlanItem,
    ReportVersion,
    Role,
    Status,
    Submission,
    Tag,
)
from feedback.models.user import RecoveryCode
from feedback.reports import services as reports
from feedback.review import services as review
from feedback.search import matching
from tests.conftest import BACKENDS, IsolatedClient, _truncate_postgres, login
from tests.factories import PASSWORD, accepted_submission, make_submission, make_user, plan_item

CHINESE = "储罐区可燃气体检测报警仪长期未校准，夜间巡检记录缺失"


def _counts() -> dict[str, int]:
    return {
        table.name: int(db.session.scalar(select(func.count()).select_from(table)) or 0)
        for table in Base.metadata.sorted_tables
    }


def _fill() -> None:
    """A small instance touching every kind of row the copy must carry."""
    plan_item("S3")
    tag = db.session.scalars(select(Tag)).first()
    assert tag is not None
    author = make_user(email="zhang@park.cn", name="张工")
    other = make_user(email="li@park.cn")
    reviewer = make_user(Role.REVIEWER, email="reviewer@cpcif.cn", name="李处长")
    compiler = make_user(Role.COMPILER, email="compiler@cpcif.cn")
    issue_recovery_codes(reviewer)
    sessions.begin(reviewer)  # a live login session (user_session)
    tokens.create(reviewer, name="数据对接", scopes=["read"], expires_days=30)
    first = accepted_submission(author, reviewer, title=CHINESE, tag_ids=[tag.id])
    second = accepted_submission(other, reviewer, title="危化品车辆停车难问题")
    returned = make_submission(author, submit=True, title="需要补充材料的问题")
    filing.decide(reviewer, returned, "start_review")
    filing.decide(reviewer, returned, "return", "请补充气体分析记录")
    review.comment(reviewer, returned, "请补充照片", to_submitter=True)
    make_submission(author, title="还在草稿里的材料")
    db.session.add(
        Attachment(
            submission_id=first.id,
            original_name="检查报告.pdf",
            stored_name="0123456789abcdef0123456789abcdef.pdf",
            media_type="application/pdf",
            size=10,
            sha256="0" * 64,
            uploader_id=author.id,
        )
    )
    # A plan item whose parent comes after it: the copy must not depend on the order of ids.
    child = db.session.scalars(select(PlanItem).where(PlanItem.parent_id.is_not(None))).first()
    assert child is not None
    late_parent = PlanItem(code="Z9", name="后加的上级条目", sort_order=99)
    db.session.add(late_parent)
    db.session.flush()
    child.parent_id = late_parent.id
    consolidation.create(
        reviewer,
        consolidation.SuggestionInput(
            title="统一危化品车辆停车场建设标准",
            description="多地园区反映停车难。",
            suggestion="建议制定统一的危化品车辆专用停车场建设标准。",
            plan_item_ids=[plan_item("S3").id],
            references=f"{first.reference} {second.reference}",
        ),
    )
    report = reports.create(
        compiler,
        reports.ReportInput(title="2026年第四季度实施情况汇总报告", period_label="2026年第四季度",
                            period_start=date(2026, 10, 1), period_end=date(2026, 12, 31)),
    )  # fmt: skip
    reports.add_items(compiler, report, submissions=[first, second])
    reports.freeze(compiler, report)
    record("test_marker", actor=None, note="复制前的最后一条")
    db.session.commit()


@pytest.fixture
def source(tmp_path: Path, sqlite_template: Path) -> Iterator[Flask]:
    path = tmp_path / "source.sqlite3"
    shutil.copy(sqlite_template, path)
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
                                 "UPLOAD_DIR": str(tmp_path / "uploads")})  # fmt: skip
    app.test_client_class = IsolatedClient
    with app.app_context():
        _fill()
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(params=BACKENDS)
def target_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """An empty database at the current migration head."""
    if request.param == "sqlite":
        path = tmp_path / "target.sqlite3"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_migrated")
    _truncate_postgres(url)
    return url


def _copy(app: Flask, target: str) -> Any:
    db.session.commit()
    return app.test_cli_runner().invoke(args=["copy-database", "--to", target])


def test_copy_keeps_every_row_and_the_target_works(source: Flask, target_url: str) -> None:
    result = _copy(source, target_url)
    assert result.exit_code == 0, result.output
    assert "各表行数与源数据库一致" in result.output and "审计链完整" in result.output
    expected = _counts()
    assert expected["submission"] == 4 and expected["report_version"] == 1
    empty = {name for name, count in expected.items() if not count}
    assert empty <= {"audit_anchor", "campaign", "campaign_target", "export_job", "import_batch",
                     "saved_view", "ministry_response"}, empty  # fmt: skip
    workbook = db.session.scalars(select(ReportVersion.workbook)).one()

    target = create_app("testing", {"SQLALCHEMY_DATABASE_URI": target_url,
                                    "UPLOAD_DIR": str(source.config["UPLOAD_DIR"])})  # fmt: skip
    target.test_client_class = IsolatedClient
    with target.app_context():
        try:
            assert _counts() == expected
            assert chain.verify(db.session).ok
            found = db.session.scalars(select(Submission.title).where(matching("可燃气体"))).all()
            assert found == [CHINESE]
            assert db.session.scalars(select(ReportVersion.workbook)).one() == workbook
            parent = db.session.scalars(select(PlanItem).where(PlanItem.code == "Z9")).one()
            assert db.session.scalars(select(PlanItem).where(PlanItem.parent_id == parent.id)).all()
            assert db.session.scalar(select(func.count()).select_from(RecoveryCode)) == 10

            client = target.test_client()
            response = login(client, "reviewer@cpcif.cn", PASSWORD)
            assert response.status_code == 302 and response.headers["Location"] != "/auth/login"
            page = client.get("/review/?q=可燃气体").get_data(as_text=True)
            assert "长期未校准" in page and "危化品车辆停车难" not in page

            # New rows get fresh ids (PostgreSQL sequences moved past the copied ones).
            newcomer = make_user(email="wang@park.cn")
            submission = make_submission(newcomer, submit=True, title="复制后新报送的材料")
            assert submission.status == Status.SUBMITTED
            assert submission.id > max(expected["submission"], 4)
            assert db.session.scalar(select(func.count()).select_from(Organisation)) == (
                expected["organisation"] + 1
            )
            assert chain.verify(db.session).ok
        finally:
            db.session.remove()
            db.engine.dispose()


def test_a_target_with_data_is_refused_and_left_alone(source: Flask, target_url: str) -> None:
    assert _copy(source, target_url).exit_code == 0
    before = _counts()
    again = _copy(source, target_url)
    assert again.exit_code == 1
    assert "目标数据库不是空的" in again.output
    target = create_app("testing", {"SQLALCHEMY_DATABASE_URI": target_url})
    with target.app_context():
        try:
            # Unchanged: not even the source's second "database_copy" record came over.
            assert _counts() == before
        finally:
            db.session.remove()
            db.engine.dispose()


def test_a_target_without_the_schema_is_refused(source: Flask, tmp_path: Path) -> None:
    result = _copy(source, f"sqlite:///{tmp_path / 'blank.sqlite3'}")
    assert result.exit_code == 1 and "db upgrade" in result.output


def test_a_failed_copy_leaves_the_target_empty(
    source: Flask, target_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feedback import search
    from feedback.dbcopy import CopyError

    def broken(_connection: object, _ids: object = None) -> int:
        raise CopyError("模拟的索引故障")

    # The last step before the checks: every table has been written by then.
    monkeypatch.setattr(search, "reindex_connection", broken)
    result = _copy(source, target_url)
    assert result.exit_code == 1 and "模拟的索引故障" in result.output
    target = create_app("testing", {"SQLALCHEMY_DATABASE_URI": target_url})
    with target.app_context():
        try:
            assert not any(_counts().values())
        finally:
            db.session.remove()
            db.engine.dispose()
    monkeypatch.undo()
    assert _copy(source, target_url).exit_code == 0  # and the retry simply works


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("mysql://root@localhost/feedback", "不支持的目标数据库"),
        ("not a url", "无法解析"),
        ("sqlite://", "须是一个数据库文件"),
    ],
)
def test_unusable_targets_are_refused(source: Flask, target: str, message: str) -> None:
    result = _copy(source, target)
    assert result.exit_code == 1 and message in result.output


def test_the_source_itself_is_refused(source: Flask) -> None:
    result = _copy(source, source.config["SQLALCHEMY_DATABASE_URI"])
    assert result.exit_code == 1 and "就是当前数据库" in result.output
