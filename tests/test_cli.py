"""The command-line contract (DESIGN.md §6): exit codes, one-line reasons, idempotent init."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select, text

from feedback.extensions import db
from feedback.models import AuditRecord, Organisation, OrgKind, PlanItem, Role, Tag, User
from feedback.models.base import Base
from tests.conftest import login
from tests.factories import make_org


def _snapshot() -> dict[str, list[tuple[Any, ...]]]:
    db.session.commit()
    tables = sorted(Base.metadata.tables)
    snapshot = {}
    for name in tables:
        query = text(f'SELECT * FROM "{name}"')  # noqa: S608 (names come from the metadata)
        snapshot[name] = sorted(map(tuple, db.session.execute(query).all()), key=repr)
    return snapshot


def test_init_creates_admin_with_one_time_password(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["init"])
    assert result.exit_code == 0, result.output
    password = re.search(r"一次性密码：(\S+)", result.output)
    assert password and "admin@cpcif.local" in result.output
    admin = db.session.scalars(select(User)).one()
    assert admin.roles == {Role.ADMIN} and admin.must_change_password
    assert admin.organisation.kind == OrgKind.FEDERATION
    assert db.session.scalar(select(func.count()).select_from(PlanItem)) == 24
    client = app.test_client()
    response = login(client, "admin@cpcif.local", password.group(1))
    assert response.headers["Location"] == "/auth/password"


def test_init_twice_changes_nothing(runner: FlaskCliRunner) -> None:
    assert runner.invoke(args=["init"]).exit_code == 0
    before = _snapshot()
    second = runner.invoke(args=["init"])
    assert second.exit_code == 0
    assert "一次性密码" not in second.output
    assert _snapshot() == before


def test_no_user_exists_after_migration(app: Flask) -> None:
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_create_org_and_user(runner: FlaskCliRunner) -> None:
    result = runner.invoke(
        args=[
            "create-org",
            "--name",
            "中国氯碱工业协会",
            "--kind",
            "association",
            "--region",
            "110000",
            "--uscc",
            "91110000600037341L",
        ]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        args=[
            "create-user",
            "--email",
            "li@cpcia.cn",
            "--role",
            "submitter",
            "--role",
            "org_approver",
            "--org",
            "中国氯碱工业协会",
            "--password-stdin",
        ],
        input="Lvjian-2026!\n",
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalars(select(User).where(User.email == "li@cpcia.cn")).one()
    assert user.roles == {Role.SUBMITTER, Role.ORG_APPROVER} and user.must_change_password


def test_create_org_rejects_an_invalid_credit_code(runner: FlaskCliRunner) -> None:
    result = runner.invoke(
        args=[
            "create-org",
            "--name",
            "某园区",
            "--kind",
            "park",
            "--region",
            "320500",
            "--uscc",
            "91110000600037341M",
        ]
    )
    assert result.exit_code == 1
    assert "校验位不正确" in result.output
    assert db.session.scalar(select(Organisation.id).where(Organisation.name == "某园区")) is None


def test_create_user_refuses_combined_admin_roles(runner: FlaskCliRunner) -> None:
    org = make_org(OrgKind.FEDERATION, name="中国石油和化学工业联合会")
    result = runner.invoke(
        args=[
            "create-user",
            "--email",
            "x@cpcif.cn",
            "--role",
            "admin",
            "--role",
            "auditor",
            "--org",
            org.name,
            "--password-stdin",
        ],
        input="Lvjian-2026!\n",
    )
    assert result.exit_code == 1 and "三员分立" in result.output


def test_create_user_refuses_a_weak_password_and_unknown_org(runner: FlaskCliRunner) -> None:
    org = make_org()
    weak = runner.invoke(
        args=[
            "create-user",
            "--email",
            "a@b.cn",
            "--role",
            "submitter",
            "--org",
            org.name,
            "--password-stdin",
        ],
        input="12345678\n",
    )
    assert weak.exit_code == 1 and "至少三类" in weak.output
    unknown = runner.invoke(
        args=[
            "create-user",
            "--email",
            "a@b.cn",
            "--role",
            "submitter",
            "--org",
            "不存在的单位",
            "--password-stdin",
        ],
        input="x\n",
    )
    assert unknown.exit_code == 1 and "找不到单位" in unknown.output


def test_seed_demo_creates_organisations_and_users(runner: FlaskCliRunner) -> None:
    assert runner.invoke(args=["init"]).exit_code == 0
    result = runner.invoke(args=["seed-demo", "--seed", "7"])
    assert result.exit_code == 0, result.output
    kinds = dict(
        db.session.execute(
            select(Organisation.kind, func.count()).group_by(Organisation.kind)
        ).all()
    )
    assert kinds[OrgKind.ASSOCIATION] == 10 and kinds[OrgKind.PARK] == 60
    assert kinds[OrgKind.COMMITTEE] == 2
    parks = db.session.scalars(select(Organisation).where(Organisation.kind == OrgKind.PARK)).all()
    assert len({p.region_code[:2] for p in parks if p.region_code}) >= 10  # across provinces
    assert all(p.park_grade is not None for p in parks)
    for role in Role:
        assert f" {role.value} " in result.output or role == Role.ADMIN
    password = re.search(r"密码（本次随机生成）：(\S+)", result.output)
    reviewer = re.search(r"reviewer\s+(\S+@\S+)", result.output)
    assert password and reviewer
    again = runner.invoke(args=["seed-demo", "--seed", "7"])
    assert again.exit_code == 0 and "新增单位 0 个" in again.output


def test_seed_demo_users_can_log_in(app: Flask, runner: FlaskCliRunner) -> None:
    runner.invoke(args=["init"])
    result = runner.invoke(args=["seed-demo"])
    password = re.search(r"密码（本次随机生成）：(\S+)", result.output)
    email = re.search(r"submitter\s+(\S+@\S+)", result.output)
    assert password and email
    assert login(app.test_client(), email.group(1), password.group(1)).status_code == 302


def test_seed_demo_without_init_explains(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 1 and "init" in result.output


def test_tags_seeded_by_init(runner: FlaskCliRunner) -> None:
    runner.invoke(args=["init"])
    assert db.session.scalar(select(func.count()).select_from(Tag)) == 68


def _create_user(runner: FlaskCliRunner, *args: str, email: str = "u@example.cn") -> Any:
    return runner.invoke(
        args=["create-user", "--email", email, *args, "--password-stdin"],
        input="Lvjian-2026!\n",
    )


def test_create_user_refuses_an_administrator_outside_the_federation(
    runner: FlaskCliRunner,
) -> None:
    association = make_org(OrgKind.ASSOCIATION, name="中国氮肥工业协会")
    result = _create_user(runner, "--role", "auditor", "--org", association.name)
    assert result.exit_code == 1
    assert "--role: " in result.output and "联合会" in result.output
    assert db.session.scalar(select(User.id).where(User.email == "u@example.cn")) is None


def test_create_user_finds_the_organisation_by_full_then_unique_short_name(
    runner: FlaskCliRunner,
) -> None:
    make_org(OrgKind.ASSOCIATION, name="中国氯碱工业协会", short_name="氯碱协会")
    make_org(name="甲园区", short_name="化工园区")
    make_org(name="乙园区", short_name="化工园区")
    # A full name that is also someone else's short name: the full name wins.
    make_org(name="化工园区", short_name="丙")
    ok = _create_user(runner, "--role", "submitter", "--org", "氯碱协会", email="a@lvjian.cn")
    assert ok.exit_code == 0, ok.output
    assert "中国氯碱工业协会" in ok.output
    full = _create_user(runner, "--role", "submitter", "--org", "化工园区", email="b@p.cn")
    assert full.exit_code == 0, full.output
    user = db.session.scalars(select(User).where(User.email == "b@p.cn")).one()
    assert user.organisation.name == "化工园区"


def test_create_user_refuses_an_ambiguous_short_name(runner: FlaskCliRunner) -> None:
    make_org(name="甲园区", short_name="化工园区")
    make_org(name="乙园区", short_name="化工园区")
    result = _create_user(runner, "--role", "submitter", "--org", "化工园区")
    assert result.exit_code == 1
    assert "多个单位的简称为“化工园区”，请使用单位全称：" in result.output
    assert "甲园区" in result.output and "乙园区" in result.output


def test_cli_errors_name_the_options(runner: FlaskCliRunner) -> None:
    result = runner.invoke(
        args=["create-org", "--name", "某园区", "--kind", "park", "--region", "999999"]
    )
    assert result.exit_code == 1
    assert "--region: 行政区划代码不存在" in result.output
    assert "region_code" not in result.output
    org = make_org()
    result = _create_user(runner, "--role", "submitter", "--org", org.name, email="not-an-email")
    assert result.exit_code == 1 and "--email: " in result.output
    weak = runner.invoke(
        args=[
            "create-user",
            "--email",
            "w@p.cn",
            "--role",
            "submitter",
            "--org",
            org.name,
            "--password-stdin",
        ],
        input="Password2026!\n",
    )
    assert weak.exit_code == 1 and "密码: " in weak.output and "password:" not in weak.output


def test_init_states_the_configured_validity(app: Flask, runner: FlaskCliRunner) -> None:
    app.config["INITIAL_PASSWORD_HOURS"] = 24
    result = runner.invoke(args=["init"])
    assert result.exit_code == 0 and "24 小时内有效" in result.output


def test_seed_demo_refuses_production(app: Flask, runner: FlaskCliRunner) -> None:
    assert runner.invoke(args=["init"]).exit_code == 0
    app.config["ENV_NAME"] = "production"
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 1 and "生产环境" in result.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 1  # the first admin only


def test_seed_demo_is_audited_and_gives_parks_unique_short_names(
    runner: FlaskCliRunner,
) -> None:
    assert runner.invoke(args=["init"]).exit_code == 0
    result = runner.invoke(args=["seed-demo", "--seed", "11"])
    assert result.exit_code == 0, result.output
    audit = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "seed_demo")).one()
    detail = json.loads(audit.detail or "{}")
    assert detail["organisations"] > 60 and detail["users"] > 100
    shorts = db.session.scalars(
        select(Organisation.short_name).where(Organisation.short_name.is_not(None))
    ).all()
    assert len(shorts) == len(set(shorts))
    municipal = db.session.scalars(
        select(Organisation).where(
            Organisation.kind == OrgKind.PARK,
            Organisation.region_code.in_(["110000", "120000", "310000", "500000"]),
        )
    ).all()
    assert municipal and all(park.short_name is None for park in municipal)


def test_seed_demo_creates_submissions_across_kinds_and_statuses(runner: FlaskCliRunner) -> None:
    from feedback.filing import services
    from feedback.models import Event, Status, Submission

    runner.invoke(args=["init"])
    result = runner.invoke(args=["seed-demo", "--submissions", "400", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "材料 400 份" in result.output
    kinds = set(db.session.scalars(select(Submission.kind).distinct()))
    statuses = set(db.session.scalars(select(Submission.status).distinct()))
    assert len(kinds) == 3 and {Status.DRAFT, Status.SUBMITTED, Status.ACCEPTED} <= statuses
    references = db.session.scalars(select(Submission.reference)).all()
    assert len(set(references)) == 400
    sent = db.session.scalars(
        select(Submission).where(Submission.status == Status.ACCEPTED)
    ).first()
    assert sent is not None and sent.plan_items and sent.submitted_at is not None
    assert [e.action for e in sent.events][-1] == "accept"
    assert (db.session.scalar(select(func.count()).select_from(Event)) or 0) > 400
    # A new report after the demo gets the next free reference number.
    author = sent.author
    fresh = services.create_draft(author, services.SubmissionInput(kind=sent.kind), "after-demo")
    assert fresh.reference not in references


def test_disable_dormant_marks_unused_accounts_inactive_and_audits_each(
    app: Flask, runner: FlaskCliRunner
) -> None:
    from datetime import timedelta

    from freezegun import freeze_time

    from feedback.models import utcnow
    from tests.factories import PASSWORD, make_user

    start = utcnow()
    dormant = make_user()
    used = make_user()
    reenabled = make_user()
    with freeze_time(start + timedelta(days=60)):
        assert login(app.test_client(), used.email, PASSWORD).status_code == 302
        reenabled.reactivated_at = utcnow()
        db.session.commit()
    with freeze_time(start + timedelta(days=91)):
        result = runner.invoke(args=["disable-dormant"])
        assert result.exit_code == 0, result.output
        assert "已停用 1 个" in result.output
        again = runner.invoke(args=["disable-dormant"])
        assert "已停用 0 个" in again.output  # idempotent
    db.session.expire_all()
    assert not dormant.active and used.active and reenabled.active
    assert dormant.session_version == 2  # its sessions end too
    events = db.session.scalars(
        select(AuditRecord).where(AuditRecord.action == "user_deactivate")
    ).all()
    assert [(e.object_id, e.actor_id) for e in events] == [(str(dormant.id), None)]
    assert '"reason": "dormant"' in (events[0].detail or "")

    app.config["DORMANT_DAYS"] = 0
    with freeze_time(start + timedelta(days=400)):
        off = runner.invoke(args=["disable-dormant"])
    assert "DORMANT_DAYS 为 0" in off.output
    db.session.expire_all()
    assert used.active


def _active(user: User) -> bool:
    db.session.refresh(user)
    return bool(user.active)


def test_enable_user_lets_a_dormant_administrator_back_in(
    app: Flask, runner: FlaskCliRunner
) -> None:
    # Dormancy could otherwise lock out every administrator who could re-enable accounts.
    from datetime import timedelta

    from freezegun import freeze_time

    from feedback.models import Role, utcnow
    from tests.factories import PASSWORD, make_user

    start = utcnow()
    admin = make_user(Role.SECURITY_ADMIN, mfa=False)
    with freeze_time(start + timedelta(days=91)):
        assert login(app.test_client(), admin.email, PASSWORD).status_code == 200  # refused
        assert not _active(admin)

        missing = runner.invoke(args=["enable-user", "--email", "nobody@example.cn"])
        assert missing.exit_code == 1 and "没有邮箱为" in missing.output
        result = runner.invoke(args=["enable-user", "--email", admin.email.upper()])
        assert result.exit_code == 0, result.output
        assert _active(admin)
        assert login(app.test_client(), admin.email, PASSWORD).status_code == 302
    record = db.session.scalars(
        select(AuditRecord).where(AuditRecord.action == "user_activate")
    ).one()
    assert (record.object_id, record.actor_id) == (str(admin.id), None)
