"""Filing use cases: the state machine, quality rules, idempotency, versions, references."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, text

from feedback.exceptions import PermissionDenied, StaleVersion, ValidationFailed
from feedback.extensions import db
from feedback.filing import services, workflow
from feedback.filing.kinds import Kind
from feedback.models import AuditRecord, Event, Notification, Revision, Role, Status, Submission
from tests.factories import make_org, make_submission, make_user, problem_input

ALL_ACTIONS = list(workflow.TRANSITIONS)


def _status(submission: Submission) -> Status:
    """The current status (a call, so that mypy does not narrow it across transitions)."""
    return submission.status


def _at(status: Status, author: object) -> Submission:
    submission = make_submission(author)  # type: ignore[arg-type]
    submission.status = status
    db.session.commit()
    return submission


# Written out by hand from DESIGN.md §4, not derived from workflow.TRANSITIONS.
EXPECTED: dict[tuple[Status, str], Status] = {
    (Status.DRAFT, "submit"): Status.SUBMITTED,
    (Status.PENDING_APPROVAL, "approve"): Status.SUBMITTED,
    (Status.PENDING_APPROVAL, "return_internal"): Status.DRAFT,
    (Status.DRAFT, "withdraw"): Status.WITHDRAWN,
    (Status.PENDING_APPROVAL, "withdraw"): Status.WITHDRAWN,
    (Status.SUBMITTED, "withdraw"): Status.WITHDRAWN,
    (Status.RETURNED, "resubmit"): Status.SUBMITTED,
    (Status.SUBMITTED, "start_review"): Status.IN_REVIEW,
    (Status.IN_REVIEW, "return"): Status.RETURNED,
    (Status.IN_REVIEW, "accept"): Status.ACCEPTED,
    (Status.IN_REVIEW, "reject"): Status.REJECTED,
    (Status.ACCEPTED, "report"): Status.REPORTED,
}
ORG_ACTIONS = {"submit", "approve", "return_internal", "withdraw", "resubmit"}
ACTIONS = sorted({action for _, action in EXPECTED})


@pytest.mark.parametrize(("status", "action"), list(itertools.product(Status, ACTIONS)))
def test_transition_table(app: Flask, status: Status, action: str) -> None:
    """Every (status, action) pair either lands where DESIGN.md says or is refused."""
    org = make_org()
    author = make_user(Role.SUBMITTER, Role.ORG_APPROVER, org=org)
    staff = make_user(Role.REVIEWER, Role.COMPILER)
    submission = _at(status, author)
    actor = author if action in ORG_ACTIONS else staff
    expected = EXPECTED.get((status, action))
    if expected is None:
        with pytest.raises(workflow.IllegalTransition):
            workflow.apply_transition(actor, submission, action, "说明")
        assert submission.status == status
        return
    workflow.apply_transition(actor, submission, action, "说明")
    assert submission.status == expected
    event = submission.events[-1]
    assert (event.action, event.from_status, event.to_status) == (action, status, expected)


@pytest.mark.parametrize(
    ("roles", "action", "from_status"),
    [
        ((Role.SUBMITTER,), "approve", Status.PENDING_APPROVAL),
        ((Role.SUBMITTER,), "return_internal", Status.PENDING_APPROVAL),
        ((Role.REVIEWER,), "report", Status.ACCEPTED),
        ((Role.COMPILER,), "withdraw", Status.SUBMITTED),
        ((Role.ORG_APPROVER,), "accept", Status.IN_REVIEW),
    ],
)
def test_roles_are_refused(
    app: Flask, roles: tuple[Role, ...], action: str, from_status: Status
) -> None:
    author = make_user(Role.SUBMITTER, Role.ORG_APPROVER)
    submission = _at(from_status, author)
    actor = make_user(
        *roles,
        org=author.organisation
        if Role.REVIEWER not in roles and Role.COMPILER not in roles
        else None,
    )
    with pytest.raises(PermissionDenied):
        workflow.apply_transition(actor, submission, action, "说明")
    assert submission.status == from_status


def test_staff_cannot_act_for_the_organisation_and_vice_versa(app: Flask) -> None:
    author = make_user()
    staff = make_user(Role.REVIEWER)
    submission = make_submission(author, submit=True)
    with pytest.raises(PermissionDenied):
        workflow.apply_transition(author, submission, "accept")
    with pytest.raises(PermissionDenied):
        workflow.apply_transition(staff, submission, "withdraw")
    other = make_user()  # another organisation's submitter
    with pytest.raises(PermissionDenied):
        workflow.apply_transition(other, submission, "withdraw")


def test_return_and_reject_need_a_note(app: Flask) -> None:
    author = make_user()
    staff = make_user(Role.REVIEWER)
    submission = make_submission(author, submit=True)
    services.decide(staff, submission, "start_review")
    with pytest.raises(ValidationFailed):
        services.decide(staff, submission, "reject", "  ")
    services.decide(staff, submission, "reject", "与 FK-2026-000001 重复")
    assert submission.status == Status.REJECTED


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"title": "太短"}, "title"),
        ({"summary": ""}, "summary"),
        ({"plan_item_ids": []}, "plan_item_ids"),
        ({"sections": {"description": "太短的描述"}}, "description"),
        ({"contact_phone": "12345"}, "contact_phone"),
        ({"region_code": None}, "region_code"),
    ],
)
def test_quality_rules_block_submission(app: Flask, overrides: dict[str, Any], field: str) -> None:
    author = make_user()
    submission = make_submission(author, **overrides)
    with pytest.raises(ValidationFailed) as failure:
        services.submit(author, submission)
    assert field in failure.value.errors
    assert submission.status == Status.DRAFT


def test_experience_without_outcome_is_not_submittable(app: Flask) -> None:
    author = make_user()
    submission = make_submission(
        author,
        kind=Kind.EXPERIENCE,
        sections={
            "practice": "园区建立承包商黑名单制度，对违章作业的承包商实行一次违章全园区禁入。"
        },
    )
    with pytest.raises(ValidationFailed) as failure:
        services.submit(author, submission)
    assert "outcome" in failure.value.errors


def test_submit_goes_to_the_approver_when_the_organisation_requires_it(app: Flask) -> None:
    org = make_org(requires_approval=True)
    author = make_user(org=org)
    approver = make_user(Role.ORG_APPROVER, org=org)
    submission = make_submission(author, submit=True)
    assert submission.status == Status.PENDING_APPROVAL
    assert submission.submitted_at is None
    assert db.session.scalar(select(func.count()).where(Notification.user_id == approver.id)) == 1
    services.return_internally(approver, submission, "请补充受影响企业名单")
    assert _status(submission) == Status.DRAFT
    services.submit(author, submission)
    services.approve(approver, submission)
    assert _status(submission) == Status.SUBMITTED and submission.submitted_at is not None


def test_return_resubmit_keeps_both_revisions(app: Flask) -> None:
    author = make_user()
    staff = make_user(Role.REVIEWER)
    submission = make_submission(author, submit=True)
    services.decide(staff, submission, "start_review")
    services.decide(staff, submission, "return", "请补充气体分析记录")
    note = db.session.scalars(select(Notification).where(Notification.user_id == author.id)).one()
    assert "退回" in note.title and note.body == "请补充气体分析记录"
    data = problem_input(summary="已补充气体分析记录。")
    services.update_draft(author, submission, data, submission.version)
    services.submit(author, submission)
    db.session.commit()
    assert submission.status == Status.SUBMITTED
    kept = db.session.scalars(select(Revision).order_by(Revision.number)).all()
    assert [r.number for r in kept] == [1, 2]
    assert kept[0].snapshot["summary"] != kept[1].snapshot["summary"]
    actions = [e.action for e in db.session.scalars(select(Event).order_by(Event.id))]
    assert actions == ["created", "submit", "start_review", "return", "resubmit"]


def test_a_stale_version_does_not_overwrite(app: Flask) -> None:
    author = make_user()
    submission = make_submission(author)
    loaded_version = submission.version
    services.update_draft(
        author, submission, problem_input(title="第一个标签页保存的标题"), loaded_version
    )
    db.session.commit()
    with pytest.raises(StaleVersion):
        services.update_draft(
            author, submission, problem_input(title="旧标签页的标题"), loaded_version
        )
    db.session.rollback()
    assert submission.title == "第一个标签页保存的标题"


def test_same_idempotency_key_gives_one_submission(app: Flask) -> None:
    author = make_user()
    first = services.create_draft(author, problem_input(), "same-key")
    second = services.create_draft(author, problem_input(), "same-key")
    db.session.commit()
    assert first.id == second.id
    assert db.session.scalar(select(func.count()).select_from(Submission)) == 1


def test_bulk_drafts_match_single_drafts_and_reuse_known_keys(app: Flask) -> None:
    author = make_user()
    single = services.create_draft(author, problem_input(), "key-0")
    made = services.create_drafts(
        author,
        [
            (problem_input(title="第一条批量导入的材料标题"), "key-1"),
            (problem_input(), "key-0"),  # already used: the first draft, untouched
            (problem_input(title="第二条批量导入的材料标题"), "key-2"),
        ],
    )
    db.session.commit()
    assert made[1].id == single.id and made[1].title == single.title
    assert [s.title for s in (made[0], made[2])] == [
        "第一条批量导入的材料标题",
        "第二条批量导入的材料标题",
    ]
    year = single.reference[3:7]
    assert [s.reference for s in made] == [f"FK-{year}-{n:06d}" for n in (2, 1, 3)]
    assert services.next_reference(int(year)) == f"FK-{year}-000004"
    for submission in made:
        assert submission.status == Status.DRAFT
        assert [item.id for item in submission.plan_items] == problem_input().plan_item_ids
        created = db.session.scalars(
            select(Event).where(Event.submission_id == submission.id, Event.action == "created")
        ).all()
        assert len(created) == 1 and created[0].to_status == Status.DRAFT
    audits = db.session.scalars(
        select(AuditRecord.object_id).where(AuditRecord.action == "submission_create")
    ).all()
    assert sorted(str(a) for a in audits) == sorted(str(s.id) for s in {*made, single})


def test_bulk_drafts_refuse_an_unknown_plan_item_and_a_federation_user(app: Flask) -> None:
    author = make_user()
    with pytest.raises(ValidationFailed):
        services.create_drafts(author, [(problem_input(plan_item_ids=[999_999]), "key-x")])
    db.session.rollback()
    with pytest.raises(PermissionDenied):
        services.create_drafts(make_user(Role.REVIEWER), [(problem_input(), "key-y")])


def test_references_are_unique_and_sequential(app: Flask) -> None:
    author = make_user()
    refs = [make_submission(author).reference for _ in range(3)]
    year = refs[0][3:7]
    assert refs == [f"FK-{year}-{n:06d}" for n in (1, 2, 3)]


def test_administrators_see_no_submission_content(app: Flask) -> None:
    author = make_user()
    make_submission(author, submit=True)
    for role in (Role.ADMIN, Role.SECURITY_ADMIN, Role.AUDITOR):
        admin = make_user(role)
        assert db.session.scalars(services.visible_submissions(admin)).all() == []


def test_staff_see_only_what_reached_the_federation(app: Flask) -> None:
    author = make_user()
    sent = make_submission(author, submit=True)
    make_submission(author)  # a draft
    staff = make_user(Role.REVIEWER)
    assert [s.id for s in db.session.scalars(services.visible_submissions(staff))] == [sent.id]


def test_organisation_list_reads_page_one_from_the_index(app: Flask) -> None:
    """The park's list (newest first) needs no sort: SQLite walks ix_submission_org_updated."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite query plan")
    author = make_user()
    make_submission(author)
    query = (
        services.visible_submissions(author)
        .order_by(Submission.updated_at.desc(), Submission.id.desc())
        .limit(25)
    )
    compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
    plan = " | ".join(
        str(row[3]) for row in db.session.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))
    )
    assert "ix_submission_org_updated" in plan
    assert "TEMP B-TREE" not in plan


def test_resubmission_goes_through_the_approver_and_keeps_the_filing_date(app: Flask) -> None:
    from datetime import timedelta

    from feedback.campaigns import services as campaigns
    from feedback.formatting import china_today

    org = make_org(requires_approval=True, region_code="320500")
    author = make_user(org=org)
    approver = make_user(Role.ORG_APPROVER, org=org)
    campaign = campaigns.create_campaign(
        make_user(Role.COMPILER),
        campaigns.CampaignInput(
            title="季度报送",
            period="2026年第四季度",
            opens_on=china_today() - timedelta(days=3),
            due_on=china_today(),
            target_mode="picked",
            organisation_ids=[org.id],
        ),
    )
    submission = make_submission(author, campaign_id=campaign.id)
    services.submit(author, submission)
    services.approve(approver, submission)
    first_sent = submission.submitted_at
    assert not submission.late
    staff = make_user(Role.REVIEWER)
    services.decide(staff, submission, "start_review")
    services.decide(staff, submission, "return", "请补充")
    services.submit(author, submission, today=china_today() + timedelta(days=5))
    assert submission.status == Status.PENDING_APPROVAL  # the approver sees it again
    services.approve(approver, submission)
    assert submission.submitted_at == first_sent and not submission.late
    assert [r.number for r in services.revisions(submission)] == [1, 2]


def test_submit_is_refused_when_no_approver_exists(app: Flask) -> None:
    org = make_org(requires_approval=True)
    author = make_user(org=org)
    submission = make_submission(author)
    with pytest.raises(ValidationFailed, match="单位负责人"):
        services.submit(author, submission)
    assert submission.status == Status.DRAFT


def test_deadline_is_a_beijing_date(app: Flask) -> None:
    from datetime import UTC, date, datetime, timedelta

    from freezegun import freeze_time

    from feedback.campaigns import services as campaigns

    org = make_org(region_code="320500")
    author = make_user(org=org)
    due = date(2026, 11, 30)
    campaign = campaigns.create_campaign(
        make_user(Role.COMPILER),
        campaigns.CampaignInput(
            title="季度报送",
            period="2026年第四季度",
            opens_on=due - timedelta(days=10),
            due_on=due,
            target_mode="picked",
            organisation_ids=[org.id],
        ),
    )
    submission = make_submission(author, campaign_id=campaign.id)
    # 01:30 in Beijing on 1 December is 17:30 UTC on 30 November: already late.
    with freeze_time(datetime(2026, 11, 30, 17, 30, tzinfo=UTC)):
        services.submit(author, submission)
    assert submission.late
