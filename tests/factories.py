"""Factory functions for test data. Each flushes; the test decides when to commit."""

from __future__ import annotations

import itertools
from typing import Any

from feedback.admin.services import OrganisationData, create_organisation, create_user
from feedback.codes.uscc import make_uscc
from feedback.extensions import db
from feedback.models import Organisation, OrgKind, Role, Submission, User, utcnow

PASSWORD = "Test-Passw0rd!x"
_counter = itertools.count(1)


def make_org(kind: OrgKind = OrgKind.PARK, name: str | None = None, **fields: Any) -> Organisation:
    """An organisation with a valid credit code; parks get a region."""
    number = next(_counter)
    if kind == OrgKind.PARK:
        fields.setdefault("region_code", "320500")
    data = OrganisationData(
        name=name or f"测试单位{number}号",
        kind=kind,
        uscc=fields.pop("uscc", make_uscc(f"5132050{number:010d}")),
        **fields,
    )
    org = create_organisation(None, data)
    db.session.commit()
    return org


def federation() -> Organisation:
    """The federation organisation (created once per test database)."""
    from sqlalchemy import select

    found = db.session.scalars(
        select(Organisation).where(Organisation.kind == OrgKind.FEDERATION)
    ).first()
    return found or make_org(OrgKind.FEDERATION, name="中国石油和化学工业联合会")


def make_user(
    *roles: Role,
    org: Organisation | None = None,
    email: str | None = None,
    password: str = PASSWORD,
    must_change_password: bool = False,
    name: str = "测试用户",
    mfa: bool | None = None,
) -> User:
    """A user with ``roles`` (default: submitter of a new park) and a known password.

    ``mfa`` None gives a second factor exactly to those who must have one (staff and the three
    administrators), so they can log in as in production; :func:`totp_code` answers its step.
    """
    roles = roles or (Role.SUBMITTER,)
    if org is None:
        needs_federation = any(r not in (Role.SUBMITTER, Role.ORG_APPROVER) for r in roles)
        org = federation() if needs_federation else make_org()
    user, _none = create_user(
        None,
        email=email or f"user{next(_counter)}@example.cn",
        name=name,
        organisation=org,
        roles=set(roles),
        password=password,
        must_change_password=must_change_password,
    )
    if mfa if mfa is not None else user.mfa_required:
        enrol_mfa(user)
    db.session.commit()
    return user


def enrol_mfa(user: User) -> str:
    """Give ``user`` a TOTP authenticator directly (no recovery codes); returns the secret."""
    from feedback.auth.mfa import new_secret

    user.mfa_secret = new_secret()
    user.mfa_enabled_at = utcnow()
    user.mfa_last_step = None
    db.session.commit()
    return user.mfa_secret


def totp_code(email: str, *, forget_last_step: bool = True) -> str:
    """The current code of the user's authenticator, as their phone would show it.

    By default the last accepted step is forgotten first, so a test may log the same person in
    twice within 30 seconds; tests of code reuse pass ``forget_last_step=False``.
    """
    import pyotp
    from sqlalchemy import select

    user = db.session.scalars(select(User).where(User.email == email.strip().lower())).one()
    assert user.mfa_secret is not None, f"{email} has no authenticator"
    if forget_last_step:
        user.mfa_last_step = None
        db.session.commit()
    return pyotp.TOTP(user.mfa_secret).now()


def seed_taxonomy() -> None:
    """The plan tree and tags, as `init` seeds them."""
    from feedback.taxonomy.seed import seed_plan, seed_tags

    seed_plan()
    seed_tags()
    db.session.commit()


def plan_item(code: str) -> Any:
    """The seeded plan item with ``code`` (seeds the taxonomy when needed)."""
    from sqlalchemy import select

    from feedback.models import PlanItem

    found = db.session.scalars(select(PlanItem).where(PlanItem.code == code)).first()
    if found is None:
        seed_taxonomy()
        found = db.session.scalars(select(PlanItem).where(PlanItem.code == code)).one()
    return found


def problem_input(**overrides: Any) -> Any:
    """A complete problem report, ready to submit."""
    from feedback.filing.kinds import Kind
    from feedback.filing.services import SubmissionInput

    values: dict[str, Any] = {
        "kind": Kind.PROBLEM,
        "title": "园区承包商动火作业票证管理不规范",
        "summary": "抽查发现部分承包商动火作业票证填写不全、气体分析记录缺失。",
        "sections": {
            "description": "2026年11月专项检查中，园区内3家企业的承包商动火作业票证存在"
            "审批人签字缺失、气体分析时间晚于动火时间等问题。"
        },
        "plan_item_ids": [plan_item("S3").id],
        "region_code": "320500",
        "contact_name": "张工",
        "contact_phone": "13812345678",
    }
    values.update(overrides)
    return SubmissionInput(**values)


def problem_form(**overrides: Any) -> dict[str, Any]:
    """The web form of a complete problem report (no CSRF token), saved as a draft."""
    form: dict[str, Any] = {
        "idempotency_key": "problem-form",
        "title": "园区承包商动火作业票证管理不规范",
        "summary": "抽查发现部分承包商动火作业票证填写不全。",
        "description": "2026年11月专项检查中，3家企业的动火作业票证存在审批人签字缺失等问题。",
        "plan_item_ids": [str(plan_item("S3").id)],
        "region_code": "320500",
        "contact_name": "张工",
        "contact_phone": "138 1234 5678",
        "sensitivity": "ministry",
        "action": "save",
    }
    form.update(overrides)
    return form


def make_submission(author: User, *, submit: bool = False, **overrides: Any) -> Submission:
    """A problem report by ``author``'s organisation, optionally submitted."""
    import uuid

    from feedback.filing import services

    submission = services.create_draft(author, problem_input(**overrides), uuid.uuid4().hex)
    if submit:
        services.submit(author, submission)
    db.session.commit()
    return submission


def make_campaign(actor: User | None = None, title: str = "2026年第四季度实施情况报送") -> Any:
    """An open campaign addressed to every active park, opened by ``actor`` (a compiler)."""
    from datetime import timedelta

    from feedback.campaigns import services
    from feedback.formatting import china_today

    campaign = services.create_campaign(
        actor or make_user(Role.COMPILER),
        services.CampaignInput(
            title=title,
            period="2026年第四季度",
            opens_on=china_today() - timedelta(days=1),
            due_on=china_today() + timedelta(days=14),
        ),
    )
    db.session.commit()
    return campaign


def accepted_submission(author: User, reviewer: User | None = None, **overrides: Any) -> Submission:
    """A submission sent by ``author`` and accepted by ``reviewer`` (a new one by default)."""
    from feedback.filing import services as filing

    submission = make_submission(author, submit=True, **overrides)
    staff = reviewer or make_user(Role.REVIEWER)
    filing.decide(staff, submission, "start_review")
    filing.decide(staff, submission, "accept")
    db.session.commit()
    return submission


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def stored_attachment(submission: Submission, uploader: User, name: str) -> Any:
    """An attachment row with its stored file (as an upload would leave them)."""
    import uuid
    from pathlib import Path

    from flask import current_app

    from feedback.models import Attachment

    stored = f"{uuid.uuid4().hex}.pdf"
    folder = Path(current_app.config["UPLOAD_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / stored).write_bytes(PDF)
    attachment = Attachment(
        submission_id=submission.id,
        original_name=name,
        stored_name=stored,
        media_type="application/pdf",
        size=len(PDF),
        sha256="0" * 64,
        uploader_id=uploader.id,
    )
    db.session.add(attachment)
    db.session.flush()
    return attachment


def similarity_link(x: Submission, y: Submission) -> Any:
    """The similarity link of two submissions (the detection hooks may have made it already)."""
    from sqlalchemy import select

    from feedback.models import SimilarityLink

    a, b = sorted((x.id, y.id))
    found = db.session.scalars(
        select(SimilarityLink).where(
            SimilarityLink.submission_a_id == a, SimilarityLink.submission_b_id == b
        )
    ).one_or_none()
    if found is None:
        found = SimilarityLink(submission_a_id=a, submission_b_id=b, score=0.8)
        db.session.add(found)
        db.session.flush()
    return found
