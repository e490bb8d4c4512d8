"""Use cases of campaigns: open a call, track who filed, remind who has not."""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from email.message import EmailMessage

from flask import current_app
from sqlalchemy import func, select

from feedback.audit.services import record
from feedback.codes.regions import get_region
from feedback.exceptions import ValidationFailed
from feedback.extensions import db
from feedback.filing.kinds import Kind
from feedback.i18n import gettext as _
from feedback.models import (
    Campaign,
    Organisation,
    OrgKind,
    Role,
    Status,
    Submission,
    User,
)
from feedback.notifications.services import notify, organisation_members

log = logging.getLogger(__name__)

TARGET_MODES = ("parks_in_province", "all_parks", "all_associations", "all_committees", "picked")
# Statuses that count as "filed" for a campaign (sent to the federation, whatever came after).
FILED = (Status.SUBMITTED, Status.IN_REVIEW, Status.RETURNED, Status.ACCEPTED, Status.REJECTED,
         Status.REPORTED)  # fmt: skip


@dataclass
class CampaignInput:
    """What a compiler fills in to open a campaign."""

    title: str
    period: str
    opens_on: date
    due_on: date
    instructions: str = ""
    target_mode: str = "all_parks"
    province_code: str | None = None
    organisation_ids: list[int] = field(default_factory=list)


def _targets(data: CampaignInput) -> tuple[list[Organisation], str]:
    query = select(Organisation).where(Organisation.active)
    if data.target_mode == "parks_in_province":
        province = get_region(data.province_code or "")
        if province is None or not province.is_province:
            raise ValidationFailed.on("province_code", _("请选择省份。"))
        query = query.where(
            Organisation.kind == OrgKind.PARK,
            Organisation.region_code.like(f"{province.code[:2]}%"),
        )
        description = _("%(province)s全部化工园区", province=province.name)
    elif data.target_mode == "all_parks":
        query = query.where(Organisation.kind == OrgKind.PARK)
        description = _("全部化工园区")
    elif data.target_mode == "all_associations":
        query = query.where(Organisation.kind == OrgKind.ASSOCIATION)
        description = _("全部专业协会")
    elif data.target_mode == "all_committees":
        query = query.where(Organisation.kind == OrgKind.COMMITTEE)
        description = _("全部工作委员会")
    elif data.target_mode == "picked":
        query = query.where(
            Organisation.id.in_(data.organisation_ids), Organisation.kind != OrgKind.FEDERATION
        )
        description = _("指定单位")
    else:
        raise ValidationFailed.on("target_mode", _("请选择填报对象。"))
    targets = list(db.session.scalars(query.order_by(Organisation.name)))
    if not targets:
        raise ValidationFailed.on("target_mode", _("所选范围内没有在用的单位，请调整填报对象。"))
    return targets, f"{description}（{len(targets)}）"


def create_campaign(actor: User, data: CampaignInput) -> Campaign:
    """Open a call for reports and tell the target organisations."""
    errors: dict[str, list[str]] = {}
    if not data.title.strip():
        errors["title"] = [_("请填写任务名称。")]
    if not data.period.strip():
        errors["period"] = [_("请填写报送期间，如“2026年第四季度”。")]
    if data.due_on < data.opens_on:
        errors["due_on"] = [_("截止日期不能早于开始日期。")]
    if errors:
        raise ValidationFailed(errors)
    targets, description = _targets(data)
    campaign = Campaign(
        title=data.title.strip(),
        period=data.period.strip(),
        opens_on=data.opens_on,
        due_on=data.due_on,
        instructions=data.instructions.strip(),
        target_description=description,
        created_by_id=actor.id,
        targets=targets,
    )
    db.session.add(campaign)
    db.session.flush()
    users = _target_users([t.id for t in targets])
    notify(
        users,
        "campaign",
        _("新的填报任务：%(title)s", title=campaign.title),
        _(
            "报送期间：%(period)s；截止日期：%(due)s。",
            period=campaign.period,
            due=official_date(campaign.due_on),
        ),
        link=f"/submissions/new?campaign={campaign.id}",
    )
    record(
        "campaign_create",
        actor=actor,
        object_type="campaign",
        object_id=campaign.id,
        targets=len(targets),
    )
    return campaign


def _target_users(organisation_ids: Sequence[int]) -> list[User]:
    users: list[User] = []
    for org_id in organisation_ids:
        users.extend(organisation_members(org_id, Role.SUBMITTER, Role.ORG_APPROVER))
    return users


def official_date(day: date) -> str:
    """2026年11月28日 (no leading zeros)."""
    return f"{day.year}年{day.month}月{day.day}日"


@dataclass
class TargetProgress:
    """One target organisation's filing for a campaign."""

    organisation: Organisation
    by_kind: dict[Kind, int]
    late: int
    drafts: int

    @property
    def filed(self) -> int:
        return sum(self.by_kind.values())

    @property
    def state(self) -> str:
        if self.filed == 0:
            return "not_filed"
        return "late" if self.late == self.filed else "filed"


def progress(campaign: Campaign) -> list[TargetProgress]:
    """Per target organisation: filed counts by kind, late ones, drafts (two queries)."""
    rows = db.session.execute(
        select(
            Submission.organisation_id,
            Submission.kind,
            Submission.status,
            Submission.late,
            func.count(),
        )
        .where(Submission.campaign_id == campaign.id)
        .group_by(Submission.organisation_id, Submission.kind, Submission.status, Submission.late)
    ).all()
    table = {org.id: TargetProgress(org, dict.fromkeys(Kind, 0), 0, 0) for org in campaign.targets}
    for org_id, kind, status, late, count in rows:
        entry = table.get(org_id)
        if entry is None:
            continue  # filed by an organisation the campaign did not target
        if status in FILED:
            entry.by_kind[kind] += count
            entry.late += count if late else 0
        elif status in (Status.DRAFT, Status.PENDING_APPROVAL):
            entry.drafts += count
    return sorted(table.values(), key=lambda p: (p.filed > 0, p.organisation.name))


@dataclass
class Reminder:
    """What a reminder did: how many organisations, and the e-mails to send after commit."""

    organisations: int
    recipients: list[str]
    subject: str
    body: str

    def send_mail(self) -> None:
        """Send the e-mails (call after the commit: a slow mail server must not hold the
        transaction or its lock)."""
        _send_mail(self.recipients, self.subject, self.body)


def remind(
    actor: User, campaign: Campaign, organisation_ids: Sequence[int] | None = None
) -> Reminder:
    """Notify the organisations that have not filed (or the given ones)."""
    pending = [p.organisation.id for p in progress(campaign) if p.filed == 0]
    chosen = [i for i in (organisation_ids or pending) if i in {t.id for t in campaign.targets}]
    users = _target_users(chosen)
    title = _("提醒：请报送“%(title)s”", title=campaign.title)
    body = _("截止日期：%(due)s。如已报送请忽略。", due=official_date(campaign.due_on))
    notify(users, "reminder", title, body, link=f"/submissions/new?campaign={campaign.id}")
    record(
        "campaign_remind",
        actor=actor,
        object_type="campaign",
        object_id=campaign.id,
        organisations=len(chosen),
    )
    db.session.flush()
    return Reminder(len(chosen), [u.email for u in users], title, body)


def _send_mail(recipients: list[str], subject: str, body: str) -> None:
    """Send reminder e-mails through SMTP when configured; failures are logged, not raised."""
    host = current_app.config.get("MAIL_SMTP_HOST")
    if not host or not recipients:
        return
    try:
        with smtplib.SMTP(host, int(current_app.config["MAIL_SMTP_PORT"]), timeout=10) as smtp:
            for address in recipients:
                message = EmailMessage()
                message["From"] = current_app.config["MAIL_FROM"]
                message["To"] = address
                message["Subject"] = subject
                message.set_content(body)
                smtp.send_message(message)
    except (OSError, smtplib.SMTPException):
        log.warning("reminder e-mail could not be sent to %d recipients", len(recipients))


@dataclass
class OpenCampaign:
    """A campaign on a submitter's home page."""

    campaign: Campaign
    days_left: int
    filed: int
    drafts: int


def open_for_organisation(organisation_id: int, today: date) -> list[OpenCampaign]:
    """Campaigns an organisation is asked to answer, with days left and what it has filed."""
    from feedback.filing.choices import campaigns_for

    shown = [
        campaign
        for campaign in campaigns_for(organisation_id)
        if campaign.is_open(today) and (today - campaign.due_on).days <= 30
    ]
    # One query for every campaign's counts (not one per campaign on the home page).
    counts: dict[int | None, dict[Status, int]] = {campaign.id: {} for campaign in shown}
    if shown:
        rows = db.session.execute(
            select(Submission.campaign_id, Submission.status, func.count())
            .where(
                Submission.campaign_id.in_(counts),
                Submission.organisation_id == organisation_id,
            )
            .group_by(Submission.campaign_id, Submission.status)
        ).all()
        for campaign_id, status, n in rows:
            counts[campaign_id][status] = n
    result = []
    for campaign in shown:
        by_status = counts[campaign.id]
        filed = sum(n for s, n in by_status.items() if s in FILED)
        drafts = by_status.get(Status.DRAFT, 0) + by_status.get(Status.PENDING_APPROVAL, 0)
        result.append(OpenCampaign(campaign, campaign.days_left(today), filed, drafts))
    return result
