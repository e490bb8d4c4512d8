"""One object of every kind, owned by organisation B or by someone else, for the security tests.

The IDOR matrix builds each ``<int:…>`` URL from these ids, so every route gets a real object to
refuse rather than a missing one (a 404 for a missing id proves nothing).
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pytest
from flask import Flask, current_app
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from feedback.campaigns import services as campaigns
from feedback.consolidation import services as consolidation
from feedback.extensions import db
from feedback.filing import services as filing
from feedback.filing.kinds import Kind
from feedback.filing.spreadsheet import build_template
from feedback.formatting import china_today
from feedback.models import (
    Attachment,
    Campaign,
    Comment,
    ConsolidatedSuggestion,
    Event,
    ImportBatch,
    Notification,
    Organisation,
    PlanItem,
    Report,
    ReportItem,
    ReportVersion,
    Revision,
    Role,
    SavedView,
    Submission,
    Tag,
    TagGroup,
    User,
)
from feedback.reports import exports
from feedback.reports import services as reports
from feedback.review import queue
from feedback.review import services as review
from tests.factories import (
    make_org,
    make_submission,
    make_user,
    plan_item,
    similarity_link,
    stored_attachment,
)

# Who asks: each persona is one user, logged in on its own client.
PERSONAS: dict[str, tuple[Role, ...]] = {
    "org_a_submitter": (Role.SUBMITTER,),
    "org_a_approver": (Role.ORG_APPROVER,),
    "reviewer": (Role.REVIEWER,),
    "compiler": (Role.COMPILER,),
    "admin": (Role.ADMIN,),
    "security_admin": (Role.SECURITY_ADMIN,),
    "auditor": (Role.AUDITOR,),
}
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@dataclass
class World:
    """Ids of organisation B's objects (and of objects owned by another federation user)."""

    org_a: Organisation
    org_b: Organisation
    user_b: User
    other_staff: User
    personas: dict[str, User] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)
    import_token: str = ""


def build_world() -> World:
    """Organisation A's users, federation staff and administrators; B's objects of every kind."""
    org_a, org_b = make_org(), make_org()
    user_b = make_user(Role.SUBMITTER, org=org_b)
    world = World(org_a=org_a, org_b=org_b, user_b=user_b, other_staff=make_user(Role.REVIEWER))
    for label, roles in PERSONAS.items():
        in_a = roles[0] in (Role.SUBMITTER, Role.ORG_APPROVER)
        world.personas[label] = make_user(*roles, org=org_a if in_a else None)
    compiler = world.personas["compiler"]
    reviewer = world.other_staff

    sent = make_submission(user_b)
    sent_file = stored_attachment(sent, user_b, "整改报告.pdf")
    filing.submit(user_b, sent)
    filing.decide(reviewer, sent, "start_review")
    filing.decide(reviewer, sent, "accept")
    draft = make_submission(user_b, title="未报送的草稿")
    draft_file = stored_attachment(draft, user_b, "草稿附件.pdf")
    other = make_submission(user_b, submit=True, title="另一份已报送材料")
    other_file = stored_attachment(
        make_submission(user_b, title="第三份报送材料"), user_b, "别的附件.pdf"
    )
    link = similarity_link(sent, other)
    far_link = similarity_link(
        other, make_submission(user_b, submit=True, title="无关的另一份材料")
    )

    campaign = campaigns.create_campaign(
        compiler,
        campaigns.CampaignInput(
            title="2026年第四季度实施情况报送",
            period="2026年第四季度",
            opens_on=china_today() - timedelta(days=1),
            due_on=china_today() + timedelta(days=14),
        ),
    )
    suggestion = consolidation.create(
        reviewer,
        consolidation.SuggestionInput(
            title="建议加快危化品车辆专用停车场建设",
            description="多个园区反映危化品运输车辆缺少专用停车场。",
            suggestion="建议制定危化品车辆专用停车场建设指南。",
            basis="《危险化学品安全法》",
            department="交通运输部",
            plan_item_ids=[plan_item("S3").id],
            references=sent.reference or "",
        ),
    )
    report = reports.create(
        compiler,
        reports.ReportInput(title="2026年第四季度汇总报告", period_label="2026年第四季度",
                            period_start=date(2026, 10, 1), period_end=date(2026, 12, 31)),
    )  # fmt: skip
    reports.add_items(compiler, report, submissions=[sent])
    reports.freeze(compiler, report)
    second = reports.create(
        compiler,
        reports.ReportInput(title="另一份报告", period_label="2026年第四季度",
                            period_start=date(2026, 10, 1), period_end=date(2026, 12, 31)),
    )  # fmt: skip
    reports.add_items(compiler, second, suggestions=[suggestion])
    job = exports.create_job(reviewer, "xlsx", queue.QueueFilters.from_args(MultiDict()), [], 1)
    view = review.save_view(reviewer, "别人的筛选", "status=submitted")
    from feedback.api import tokens

    api_token = tokens.create(user_b, name="B 的园区平台", scopes=["read"]).token
    db.session.add(Notification(user_id=user_b.id, kind="info", title="给B的通知", link="/"))
    world.import_token = secrets.token_hex(16)
    workbook = f"{uuid.uuid4().hex}.xlsx"
    template = build_template(Kind.PROBLEM, plan_items=[], tags=[])
    (Path(current_app.config["UPLOAD_DIR"]) / workbook).write_bytes(template)
    db.session.add(
        ImportBatch(token=world.import_token, user_id=user_b.id, organisation_id=org_b.id,
                    kind="problem", original_name="导入.xlsx", stored_name=workbook)
    )  # fmt: skip
    db.session.commit()

    notification = db.session.scalars(
        select(Notification).where(Notification.user_id == user_b.id)
    ).first()
    assert notification is not None
    world.ids = {
        "org": org_b.id,
        "user": user_b.id,
        "submission": sent.id,
        "attachment": sent_file.id,
        "draft": draft.id,
        "draft_attachment": draft_file.id,
        "other_attachment": other_file.id,
        "link": link.id,
        "far_link": far_link.id,
        "campaign": campaign.id,
        "suggestion": suggestion.id,
        "report": report.id,
        "report_item": report.items[0].id,
        "second_report_item": second.items[0].id,
        "version": 1,
        "job": job.id,
        "view": view.id,
        "api_token": api_token.id,
        "notification": notification.id,
        "plan_item": db.session.scalars(select(PlanItem.id)).first() or 0,
        "tag": db.session.scalars(select(Tag.id)).first() or 0,
        "tag_group": db.session.scalars(select(TagGroup.id)).first() or 0,
    }
    return world


def poison(world: World, payload: str) -> None:
    """Every user-text field of every object in ``world`` becomes ``payload``."""

    def fit(limit: int, suffix: str = "") -> str:
        return payload[: limit - len(suffix)] + suffix

    world.org_b.name, world.org_b.short_name = fit(200, " B"), fit(60)
    world.org_b.affiliation, world.org_b.notes = fit(200), payload
    world.org_a.name = fit(200, " A")
    for user in db.session.scalars(select(User)):
        user.name = fit(60)
    for submission in db.session.scalars(select(Submission)):
        submission.title, submission.summary, submission.abstract = fit(200), payload, payload
        submission.contact_name = fit(30)
        sections = json.loads(submission.sections_json)
        submission.sections_json = json.dumps(dict.fromkeys(sections or ["description"], payload))
    for revision in db.session.scalars(select(Revision)):
        snapshot = json.loads(revision.snapshot_json)
        for key in ("title", "summary"):
            snapshot[key] = payload
        revision.snapshot_json = json.dumps(snapshot)
    for event in db.session.scalars(select(Event)):
        event.note = payload
    for attachment in db.session.scalars(select(Attachment)):
        attachment.original_name = fit(255, ".pdf")
    sent = db.session.get(Submission, world.ids["submission"])
    assert sent is not None
    for visibility in ("internal", "to_submitter"):
        db.session.add(
            Comment(submission_id=sent.id, author_id=world.other_staff.id,
                    visibility=visibility, body=payload)
        )  # fmt: skip
    for view in db.session.scalars(select(SavedView)):
        view.name = fit(60)
    for item in db.session.scalars(select(PlanItem)):
        item.name, item.description = fit(200), payload
    for number, group in enumerate(db.session.scalars(select(TagGroup))):
        group.name = fit(100, f" {number}")
    for number, tag in enumerate(db.session.scalars(select(Tag))):
        tag.name = fit(100, f" {number}")  # unique within a group
    for suggestion in db.session.scalars(select(ConsolidatedSuggestion)):
        suggestion.title, suggestion.department = fit(200), fit(200)
        suggestion.description = suggestion.suggestion = suggestion.basis = payload
    for report in db.session.scalars(select(Report)):
        report.title, report.period_label, report.issuer = fit(200), fit(60), fit(100)
    for report_item in db.session.scalars(select(ReportItem)):
        report_item.wording = dict.fromkeys(reports.field_labels(Kind.PROBLEM), payload)
    for version in db.session.scalars(select(ReportVersion)):
        version.document_number, version.sent_channel = fit(60), fit(60)
    for campaign in db.session.scalars(select(Campaign)):
        campaign.title, campaign.period = fit(200), fit(40)
        campaign.instructions, campaign.target_description = payload, fit(200)
    for notification in db.session.scalars(select(Notification)):
        notification.title, notification.body, notification.link = fit(200), payload, fit(200)
    for batch in db.session.scalars(select(ImportBatch)):
        batch.original_name = fit(255, ".xlsx")
    db.session.commit()


@pytest.fixture
def world(app: Flask) -> World:
    return build_world()
