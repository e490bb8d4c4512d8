"""Use cases of filing: drafts, submission, approval, withdrawal, attachments.

Services take plain arguments and the acting user, raise domain errors and flush; the caller
(view, API handler or CLI) commits once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, cast

from flask import current_app
from sqlalchemy import ColumnElement, Select, false, func, select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from feedback.audit.services import record
from feedback.codes.phone import normalise_phone, phone_error
from feedback.codes.regions import is_valid_region
from feedback.database import upsert_insert
from feedback.exceptions import PermissionDenied, StaleVersion, ValidationFailed
from feedback.extensions import db
from feedback.filing import uploads, workflow
from feedback.filing.kinds import (
    CONTACT_NAME_MAX,
    KINDS,
    SECTORS,
    SUMMARY_MAX,
    TITLE_MAX,
    TITLE_MIN,
    Kind,
    Sensitivity,
)
from feedback.filing.text import clean_text
from feedback.formatting import CHINA, filesize
from feedback.i18n import gettext as _
from feedback.models import (
    ORG_ROLES,
    RECEIVED,
    STAFF_ROLES,
    Attachment,
    Campaign,
    Event,
    PlanItem,
    ReferenceCounter,
    Revision,
    Role,
    Status,
    Submission,
    Tag,
    User,
    campaign_target,
    utcnow,
)
from feedback.notifications.services import notify, organisation_members

MAX_ATTACHMENTS = 10


class QuotaExceeded(ValidationFailed):
    """The organisation's stored attachments and these new files would pass its upload quota."""

    def __init__(self, organisation_id: int, used: int, incoming: int, quota: int) -> None:
        super().__init__(
            {
                "attachments": [
                    _(
                        "本单位已上传的附件合计 %(used)s，加上本次的 %(incoming)s 将超过每个单位"
                        " %(quota)s 的附件总量上限，本次附件未上传。请删除不再需要的附件，"
                        "或联系联合会系统管理员。",
                        used=filesize(used),
                        incoming=filesize(incoming),
                        quota=filesize(quota),
                    )
                ]
            }
        )
        self.organisation_id = organisation_id
        self.used, self.incoming, self.quota = used, incoming, quota


@dataclass
class SubmissionInput:
    """What a person (or an import row, or an API client) typed into a submission."""

    kind: Kind
    title: str = ""
    summary: str = ""
    sections: dict[str, str] = field(default_factory=dict)
    plan_item_ids: list[int] = field(default_factory=list)
    tag_ids: list[int] = field(default_factory=list)
    region_code: str | None = None
    sector: str | None = None
    contact_name: str = ""
    contact_phone: str = ""
    sensitivity: Sensitivity = Sensitivity.MINISTRY
    anonymous: bool = False
    campaign_id: int | None = None


# -- visibility --------------------------------------------------------------------------------


# ``status IN RECEIVED`` written as its complement (the same rows: the CHECK constraint admits only
# Status values). Six statuses of nine are most of the table, but SQLite without statistics takes
# an IN list on an indexed column for a narrow range and sorts what it finds; NOT IN is no range,
# so the review queue walks its date index instead (PERFORMANCE.md §2).
_NOT_RECEIVED = sorted(set(Status) - RECEIVED)


def visible_submissions(user: User) -> Select[Any]:
    """Submissions ``user`` may see: own organisation's, or (staff) what reached the federation.

    Administrators (三员) see no submission content at all.
    """
    if not user.has_role(*STAFF_ROLES, *ORG_ROLES):
        return select(Submission).where(Submission.id.is_(None))
    return select(Submission).where(visible_condition(user, Submission))


def visible_condition(user: User, entity: Any) -> ColumnElement[bool]:
    """The rule of :func:`visible_submissions` for ``entity`` (Submission or an alias of it), for
    queries that check another submission than the one they select."""
    if user.has_role(*STAFF_ROLES):
        return cast(ColumnElement[bool], entity.status.not_in(_NOT_RECEIVED))
    if not user.has_role(*ORG_ROLES):
        return false()
    return cast(ColumnElement[bool], entity.organisation_id == user.organisation_id)


def get_visible(user: User, submission_id: int) -> Submission | None:
    """The submission if ``user`` may see it (None otherwise: answer 404)."""
    statement = visible_submissions(user).where(Submission.id == submission_id)
    return db.session.scalars(statement).one_or_none()


# -- reference numbers -------------------------------------------------------------------------


def next_reference(year: int) -> str:
    """The next reference of ``year``, e.g. FK-2026-000123 (atomic; never reused)."""
    return next_references(year, 1)[0]


def next_references(year: int, count: int) -> list[str]:
    """``count`` consecutive references of ``year``, in one atomic statement (never reused)."""
    if count < 1:
        return []
    insert = upsert_insert(db.session.get_bind().dialect.name)
    statement = (
        insert(ReferenceCounter)
        .values(year=year, last=count)
        .on_conflict_do_update(
            index_elements=["year"], set_={"last": ReferenceCounter.last + count}
        )
        .returning(ReferenceCounter.last)
    )
    last = db.session.execute(statement).scalar_one()
    return [f"FK-{year}-{number:06d}" for number in range(last - count + 1, last + 1)]


# -- drafts ------------------------------------------------------------------------------------


def _require_org_member(actor: User, organisation_id: int) -> None:
    if actor.organisation_id != organisation_id or not actor.has_role(*ORG_ROLES):
        raise PermissionDenied(_("只有本单位的填报人可以修改这份材料。"))


@dataclass
class _Choices:
    """Plan items and tags loaded once for many inputs (a bulk import), by id."""

    items: dict[int, PlanItem]
    tags: dict[int, Tag]


def _load_choices(
    data: SubmissionInput, loaded: _Choices | None = None
) -> tuple[list[PlanItem], list[Tag]]:
    if loaded is not None:
        items = [loaded.items[i] for i in sorted(set(data.plan_item_ids)) if i in loaded.items]
        tags = [loaded.tags[i] for i in sorted(set(data.tag_ids)) if i in loaded.tags]
    else:
        items = list(
            db.session.scalars(select(PlanItem).where(PlanItem.id.in_(data.plan_item_ids)))
        )
        tags = list(db.session.scalars(select(Tag).where(Tag.id.in_(data.tag_ids))))
    if len(items) != len(set(data.plan_item_ids)) or len(tags) != len(set(data.tag_ids)):
        raise ValidationFailed.on("", _("所选规划条目或标签不存在，请刷新页面后重新选择。"))
    return items, tags


def _apply_input(
    submission: Submission, data: SubmissionInput, loaded: _Choices | None = None
) -> None:
    """Copy the input onto the submission, bounded in length but otherwise as typed."""
    spec = KINDS[submission.kind]
    errors: dict[str, list[str]] = {}
    title = clean_text(data.title, multiline=False)
    if len(title) > TITLE_MAX:
        errors["title"] = [_("标题不能超过 %(n)d 个字。", n=TITLE_MAX)]
    summary = clean_text(data.summary)
    if len(summary) > SUMMARY_MAX:
        errors["summary"] = [_("摘要不能超过 %(n)d 个字。", n=SUMMARY_MAX)]
    sections = {}
    for section in spec.sections:
        text = clean_text(data.sections.get(section.key, ""))
        if len(text) > section.max_length:
            errors[section.key] = [_("不能超过 %(n)d 个字。", n=section.max_length)]
        if text:
            sections[section.key] = text
    contact_name = clean_text(data.contact_name, multiline=False)
    if len(contact_name) > CONTACT_NAME_MAX:
        errors["contact_name"] = [_("联系人不能超过 %(n)d 个字。", n=CONTACT_NAME_MAX)]
    phone = clean_text(data.contact_phone, multiline=False)[:30]
    if data.region_code and not is_valid_region(data.region_code):
        errors["region_code"] = [_("所在地区不存在，请从列表中选择。")]
    if data.sector and data.sector not in SECTORS:
        errors["sector"] = [_("请从列表中选择行业领域。")]
    if errors:
        raise ValidationFailed(errors)
    items, tags = _load_choices(data, loaded)
    if data.campaign_id is not None and data.campaign_id != submission.campaign_id:
        # Only a campaign that asks this organisation can be answered (checked here, so the
        # autosave, the import and the API get the same rule as the form).
        targeted = db.session.scalar(
            select(campaign_target.c.campaign_id).where(
                campaign_target.c.campaign_id == data.campaign_id,
                campaign_target.c.organisation_id == submission.organisation_id,
            )
        )
        if targeted is None:
            raise ValidationFailed.on("campaign_id", _("所选填报任务不面向本单位。"))
    inactive = [tag.name for tag in tags if not tag.active and tag not in submission.tags]
    inactive += [
        item.code for item in items if not item.active and item not in submission.plan_items
    ]
    if inactive:
        raise ValidationFailed.on(
            "",
            _(
                "所选标签或规划条目已停用：%(names)s。请刷新页面后重新选择。",
                names="、".join(inactive),
            ),
        )
    submission.title = title
    submission.summary = summary
    submission.sections = sections
    submission.contact_name = contact_name
    submission.contact_phone = normalise_phone(phone) or phone
    submission.region_code = data.region_code or None
    submission.sector = data.sector or None
    submission.sensitivity = data.sensitivity
    submission.anonymous = data.anonymous
    submission.campaign_id = data.campaign_id
    submission.plan_items = items
    submission.tags = tags
    submission.updated_at = utcnow()


def find_by_key(actor: User, idempotency_key: str) -> Submission | None:
    """The submission the actor's organisation created with this form key, if any."""
    return db.session.scalars(
        select(Submission).where(
            Submission.organisation_id == actor.organisation_id,
            Submission.idempotency_key == idempotency_key,
        )
    ).one_or_none()


def create_draft(actor: User, data: SubmissionInput, idempotency_key: str) -> Submission:
    """Create a draft for the actor's organisation; a repeated key returns the first draft."""
    # The caller decides whether a repeated form may update the draft it gets back.
    return create_drafts(actor, [(data, idempotency_key)])[0]


def create_drafts(actor: User, inputs: list[tuple[SubmissionInput, str]]) -> list[Submission]:
    """:func:`create_draft` for many inputs (a template import), with the same rows, events and
    audit records, but one lookup of the keys, one block of references and two flushes instead
    of a lookup, a reference and a flush per row (each autoflushing the growing session): the
    search index is then written once, for all the new rows. A key already used returns its
    first draft, as :func:`create_draft` does."""
    if not actor.has_role(*ORG_ROLES):
        raise PermissionDenied(_("只有填报单位的用户可以填报材料。"))
    keys = [key for _data, key in inputs]
    existing: dict[str, Submission] = {}
    for start in range(0, len(keys), 500):  # autoflushed: a pending draft's key counts too
        existing.update(
            (found.idempotency_key or "", found)
            for found in db.session.scalars(
                select(Submission).where(
                    Submission.organisation_id == actor.organisation_id,
                    Submission.idempotency_key.in_(keys[start : start + 500]),
                )
            )
        )
    with db.session.no_autoflush:
        loaded = _Choices(
            items={
                item.id: item
                for item in db.session.scalars(
                    select(PlanItem).where(
                        PlanItem.id.in_({i for data, _key in inputs for i in data.plan_item_ids})
                    )
                )
            },
            tags={
                tag.id: tag
                for tag in db.session.scalars(
                    select(Tag).where(
                        Tag.id.in_({i for data, _key in inputs for i in data.tag_ids})
                    )
                )
            },
        )
        now = utcnow()
        fresh = [key for key in dict.fromkeys(keys) if key not in existing]
        references = iter(next_references(now.year, len(fresh)))
        created: dict[str, Submission] = {}
        for data, key in inputs:
            if key in existing or key in created:
                continue
            submission = Submission(
                reference=next(references),
                organisation_id=actor.organisation_id,
                author_id=actor.id,
                kind=data.kind,
                idempotency_key=key,
                created_at=now,
            )
            submission.organisation = actor.organisation
            _apply_input(submission, data, loaded)
            db.session.add(submission)
            created[key] = submission
    db.session.flush()
    for submission in created.values():
        workflow.record_event(submission, actor, "created", to_status=Status.DRAFT)
        record("submission_create", actor=actor, object_type="submission", object_id=submission.id)
    return [existing.get(key) or created[key] for _data, key in inputs]


def save_from_form(
    actor: User, data: SubmissionInput, idempotency_key: str, expected_version: int | None
) -> Submission:
    """Create the draft of a form, or update it when the same form (key) comes again.

    A repeated key is the same browser tab (an autosave retry whose answer was lost, a resent
    form): its text is applied while the draft is editable, with the version check only when
    the form knows a version. Anything already sent is returned untouched.
    """
    existing = find_by_key(actor, idempotency_key)
    if existing is None:
        return create_draft(actor, data, idempotency_key)
    if existing.is_editable:
        update_draft(actor, existing, data, expected_version)
    return existing


def update_draft(
    actor: User, submission: Submission, data: SubmissionInput, expected_version: int | None
) -> None:
    """Save the text of a draft (or a returned submission) if nobody saved since it was loaded.

    ``expected_version`` is the version the form was loaded with; None when the form knew none
    (the same form key seen again before its first save answered), which skips the check.
    """
    _require_org_member(actor, submission.organisation_id)
    if expected_version is not None and expected_version != submission.version:
        raise StaleVersion(_("这份材料已在其他页面或由他人保存过更新的内容。"))
    if not submission.is_editable:
        raise workflow.IllegalTransition(
            _(
                "该材料当前状态为“%(status)s”，不能再修改。",
                status=workflow.STATUS_LABELS[submission.status],
            )
        )
    if data.kind != submission.kind:
        raise ValidationFailed.on("kind", _("材料类型创建后不能更改。"))
    _apply_input(submission, data)
    db.session.flush()


# -- quality rules -----------------------------------------------------------------------------


def submission_problems(submission: Submission) -> dict[str, list[str]]:
    """What must be fixed before ``submission`` can be sent, per field (empty when ready)."""
    spec = KINDS[submission.kind]
    problems: dict[str, list[str]] = {}

    def add(field_name: str, message: str) -> None:
        problems.setdefault(field_name, []).append(message)

    if not TITLE_MIN <= len(submission.title) <= TITLE_MAX:
        add("title", _("标题需要 %(a)d 至 %(b)d 个字。", a=TITLE_MIN, b=TITLE_MAX))
    if not submission.summary:
        add("summary", _("请用一两句话概括这份材料。"))
    if not submission.plan_items:
        add("plan_item_ids", _("请至少选择一个相关的规划条目。"))
    elif any(not item.active for item in submission.plan_items):
        add("plan_item_ids", _("所选规划条目中有已停用的条目，请重新选择。"))
    sections = submission.sections
    for section in spec.sections:
        text = sections.get(section.key, "")
        if section.required and not text:
            add(section.key, _("“%(label)s”为必填项。", label=section.label))
        elif section.required and len(text) < section.min_length:
            add(
                section.key,
                _(
                    "“%(label)s”请至少写 %(n)d 个字，说清楚具体情况。",
                    label=section.label,
                    n=section.min_length,
                ),
            )
    if not submission.region_code:
        add("region_code", _("请选择所在地区。"))
    if not submission.contact_name:
        add("contact_name", _("请填写联系人。"))
    problem = phone_error(submission.contact_phone)
    if problem:
        add("contact_phone", problem)
    return problems


# -- sending -----------------------------------------------------------------------------------


def _snapshot(submission: Submission) -> dict[str, Any]:
    return {
        "title": submission.title,
        "summary": submission.summary,
        "sections": submission.sections,
        "plan_items": [item.label for item in submission.plan_items],
        "tags": [tag.name for tag in submission.tags],
        "region_code": submission.region_code,
        "sector": submission.sector,
        "contact_name": submission.contact_name,
        "contact_phone": submission.contact_phone,
        "sensitivity": submission.sensitivity.value,
        "anonymous": submission.anonymous,
        "attachments": [a.original_name for a in submission.attachments],
    }


def _keep_revision(actor: User, submission: Submission) -> None:
    submission.revision += 1
    db.session.add(
        Revision(
            submission_id=submission.id,
            number=submission.revision,
            author_id=actor.id,
            snapshot_json=json.dumps(_snapshot(submission), ensure_ascii=False),
        )
    )


def submit(actor: User, submission: Submission, *, today: date | None = None) -> Status:
    """Send a draft (to the approver or the federation) or resubmit a returned one."""
    problems = submission_problems(submission)
    if problems:
        raise ValidationFailed(problems)
    action = "resubmit" if submission.status == Status.RETURNED else "submit"
    approvers = organisation_members(submission.organisation_id, Role.ORG_APPROVER)
    if submission.organisation.requires_approval and not approvers:
        raise ValidationFailed.on(
            "",
            _(
                "本单位要求报送前经单位负责人审核，但目前没有在用的单位负责人账户。"
                "草稿已保存；请联系联合会系统管理员开通单位负责人账户。"
            ),
        )
    workflow.apply_transition(actor, submission, action)
    record(action, actor=actor, object_type="submission", object_id=submission.id)
    if submission.status == Status.SUBMITTED:
        _reached_federation(actor, submission, today)
    else:
        notify(
            approvers,
            "approval_needed",
            _("待审核：%(title)s", title=submission.title),
            _("%(name)s 提交了一份材料，等待您审核后报送联合会。", name=actor.name),
            link=f"/submissions/{submission.id}",
        )
    db.session.flush()
    return submission.status


def _reached_federation(actor: User, submission: Submission, today: date | None) -> None:
    """Keep the revision the federation receives; date and judge lateness on the first send."""
    _keep_revision(actor, submission)
    if submission.submitted_at is not None:
        return  # a resubmission keeps the original filing date and lateness
    submission.submitted_at = utcnow()
    campaign = db.session.get(Campaign, submission.campaign_id) if submission.campaign_id else None
    if campaign is not None:
        # Deadlines are Beijing dates: a filing at 01:00 on the day after is late.
        filed_on = today or submission.submitted_at.astimezone(CHINA).date()
        submission.late = filed_on > campaign.due_on


def approve(actor: User, submission: Submission, note: str = "") -> None:
    """The organisation's approver sends a pending submission on to the federation."""
    workflow.apply_transition(actor, submission, "approve", note)
    record("approve", actor=actor, object_type="submission", object_id=submission.id)
    _reached_federation(actor, submission, None)
    notify(
        [submission.author],
        "approved",
        _("单位已审核通过：%(title)s", title=submission.title),
        _("已报送联合会。"),
        link=f"/submissions/{submission.id}",
    )
    db.session.flush()


def return_internally(actor: User, submission: Submission, note: str) -> None:
    """The organisation's approver sends a pending submission back to its author."""
    workflow.apply_transition(actor, submission, "return_internal", note)
    record("return_internal", actor=actor, object_type="submission", object_id=submission.id)
    notify(
        [submission.author],
        "returned_internal",
        _("单位负责人退回修改：%(title)s", title=submission.title),
        note,
        link=f"/submissions/{submission.id}",
    )
    db.session.flush()


def withdraw(actor: User, submission: Submission) -> None:
    """Take a submission back before the federation starts reviewing it."""
    was_received = submission.status == Status.SUBMITTED
    workflow.apply_transition(actor, submission, "withdraw")
    record("withdraw", actor=actor, object_type="submission", object_id=submission.id)
    if was_received and submission.submitted_at is not None:
        # Nobody at the federation has started on it yet; the author's colleagues should know.
        notify(
            organisation_members(submission.organisation_id, Role.ORG_APPROVER),
            "withdrawn",
            _("材料已撤回：%(title)s", title=submission.title),
            _("%(name)s 撤回了已报送的材料。", name=actor.name),
            link=f"/submissions/{submission.id}",
        )
    db.session.flush()


def decide(actor: User, submission: Submission, action: str, note: str = "") -> None:
    """A federation reviewer's step: start_review, return, accept or reject."""
    if action not in ("start_review", "return", "accept", "reject"):
        raise workflow.IllegalTransition(_("未知的操作。"))
    workflow.apply_transition(actor, submission, action, note)
    record(action, actor=actor, object_type="submission", object_id=submission.id)
    titles = {
        "return": _("材料被退回修改：%(title)s"),
        "accept": _("材料已被采用：%(title)s"),
        "reject": _("材料未被采用：%(title)s"),
    }
    if action in titles:
        recipients = [
            submission.author,
            *organisation_members(submission.organisation_id, Role.ORG_APPROVER),
        ]
        notify(
            recipients,
            action,
            titles[action] % {"title": submission.title},
            note,
            link=f"/submissions/{submission.id}",
        )
    db.session.flush()


def last_sent_at(submission: Submission) -> datetime | None:
    """When the federation last received this submission (its newest revision), if ever."""
    return db.session.scalar(
        select(func.max(Revision.created_at)).where(Revision.submission_id == submission.id)
    )


def is_unsent(submission: Submission, attachment: Attachment) -> bool:
    """True for an attachment added after the last time the submission was sent."""
    cutoff = last_sent_at(submission)
    return cutoff is None or attachment.created_at > cutoff


def staff_view_of(submission: Submission) -> Revision | None:
    """While a returned submission is being revised, staff see what they received, not the
    organisation's work in progress: the newest revision (None when the live text is what was
    sent)."""
    if submission.status != Status.RETURNED:
        return None
    kept = revisions(submission)
    return kept[-1] if kept else None


# Steps inside the organisation, before anything reached the federation.
INTERNAL_STEPS = frozenset({"created", "return_internal", "approve"})


# Steps of the federation's own work that name other organisations' material (similar pairs,
# consolidated suggestions): shown to staff only.
STAFF_STEPS = frozenset(
    {"similar_confirmed", "similar_dismissed", "consolidated", "unconsolidated",
     "report_included", "report_removed"}
)  # fmt: skip


def _history(submission: Submission) -> list[Event]:
    """Every event of ``submission`` in order (the relationship, which the rest of the page
    reads too), with the people who acted loaded in one statement and set on the events, not
    looked up one person at a time."""
    events = submission.events
    actor_ids = {event.actor_id for event in events if event.actor_id is not None}
    if actor_ids:
        actors = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(actor_ids)))}
        for event in events:
            if event.actor_id is not None:
                set_committed_value(event, "actor", actors.get(event.actor_id))
    return events


def organisation_events(submission: Submission) -> list[Event]:
    """The history the submitting organisation sees: everything but the federation's
    staff-only steps."""
    return [e for e in _history(submission) if e.action not in STAFF_STEPS]


def federation_events(submission: Submission) -> list[Event]:
    """The history the federation sees: from the first send on, no internal approval steps."""
    first_sent = submission.submitted_at
    if first_sent is None:
        return []
    return [
        e for e in _history(submission) if e.at >= first_sent and e.action not in INTERNAL_STEPS
    ]


def federation_attachments(submission: Submission) -> list[Attachment]:
    """The files the federation may open: while a returned submission is being revised, only
    those it was sent."""
    if submission.status != Status.RETURNED:
        return list(submission.attachments)
    return [a for a in submission.attachments if not is_unsent(submission, a)]


def revisions(submission: Submission) -> list[Revision]:
    """Every kept revision, oldest first."""
    query = select(Revision).where(Revision.submission_id == submission.id)
    return list(db.session.scalars(query.order_by(Revision.number)))


# -- attachments -------------------------------------------------------------------------------


def organisation_upload_bytes(organisation_id: int) -> int:
    """The bytes of every attachment the organisation has stored: one SUM over the join of
    ``attachment.submission_id`` and ``submission.organisation_id`` (both indexed)."""
    total = db.session.scalar(
        select(func.coalesce(func.sum(Attachment.size), 0))
        .join(Submission, Submission.id == Attachment.submission_id)
        .where(Submission.organisation_id == organisation_id)
    )
    return int(total or 0)


def check_upload_quota(organisation_id: int, incoming: int) -> None:
    """Raise :class:`QuotaExceeded` if ``incoming`` more bytes would pass the organisation's
    quota (``ORG_UPLOAD_QUOTA_BYTES``; 0 means none), so one organisation cannot fill the
    disk every organisation shares (SECURITY.md row 22)."""
    quota = int(current_app.config["ORG_UPLOAD_QUOTA_BYTES"])
    if quota <= 0 or incoming == 0:
        return
    used = organisation_upload_bytes(organisation_id)
    if used + incoming > quota:
        raise QuotaExceeded(organisation_id, used, incoming, quota)


def record_quota_refusal(actor: User, refusal: QuotaExceeded) -> None:
    """Audit an upload refused by the quota (the caller commits, after rolling back the rest)."""
    record(
        "upload_quota",
        actor=actor,
        object_type="organisation",
        object_id=refusal.organisation_id,
        outcome="failure",
        used=refusal.used,
        incoming=refusal.incoming,
        quota=refusal.quota,
    )


def add_attachments(
    actor: User, submission: Submission, files: list[uploads.CheckedFile], upload_dir: Path
) -> list[str]:
    """Move checked files into storage and add their rows; returns the stored names.

    The caller commits; if the commit fails it must remove the returned files
    (see :func:`commit_with_files`), so that no file outlives its row.
    """
    _require_org_member(actor, submission.organisation_id)
    if not submission.is_editable:
        raise workflow.IllegalTransition(_("该材料已报送，不能再添加附件。"))
    if len(submission.attachments) + len(files) > MAX_ATTACHMENTS:
        raise ValidationFailed.on(
            "attachments", _("每份材料最多 %(n)d 个附件。", n=MAX_ATTACHMENTS)
        )
    check_upload_quota(submission.organisation_id, sum(checked.size for checked in files))
    stored: list[str] = []
    try:
        for checked in files:
            name = uploads.store(checked, upload_dir)
            stored.append(name)
            submission.attachments.append(
                Attachment(
                    original_name=checked.original_name,
                    stored_name=name,
                    media_type=checked.media_type,
                    size=checked.size,
                    sha256=checked.sha256,
                    uploader_id=actor.id,
                )
            )
            workflow.record_event(submission, actor, "attachment_added", note=checked.original_name)
            record(
                "attachment_upload",
                actor=actor,
                object_type="submission",
                object_id=submission.id,
                sha256=checked.sha256,
                size=checked.size,
            )
        db.session.flush()
    except Exception:
        for name in stored:
            uploads.remove_stored(upload_dir, name)
        raise
    return stored


def remove_attachment(actor: User, attachment: Attachment) -> str:
    """Delete an attachment of an editable submission; returns the stored name to unlink."""
    submission = attachment.submission
    _require_org_member(actor, submission.organisation_id)
    if not submission.is_editable or not is_unsent(submission, attachment):
        raise workflow.IllegalTransition(
            _(
                "“%(name)s”已随材料报送联合会，不能删除；如需更正，请上传新的文件并在正文中说明。",
                name=attachment.original_name,
            )
        )
    workflow.record_event(submission, actor, "attachment_removed", note=attachment.original_name)
    record(
        "attachment_delete",
        actor=actor,
        object_type="attachment",
        object_id=attachment.id,
        submission_id=submission.id,
    )
    submission.attachments.remove(attachment)
    db.session.flush()
    return attachment.stored_name


def audit_download(actor: User, attachment: Attachment, *, via: str) -> None:
    """Record that ``actor`` takes the file away (SECURITY.md row 32) and commit it.

    Called by the GET that serves the file, after its access check: the read ends first
    (:func:`feedback.database.write_after_read`), so the write waits for SQLite's lock.
    """
    from feedback.database import write_after_read

    attachment_id, submission_id = attachment.id, attachment.submission_id
    write_after_read()
    record(
        "attachment_download",
        actor=actor,
        object_type="attachment",
        object_id=attachment_id,
        submission_id=submission_id,
        via=via,
    )
    db.session.commit()


def commit_with_files(upload_dir: Path, stored: list[str]) -> None:
    """Commit; if that fails, remove the files stored for this transaction and re-raise."""
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        for name in stored:
            uploads.remove_stored(upload_dir, name)
        raise


def load_for_detail(submission_id: int) -> Submission | None:
    """A submission with what its detail page shows, in a fixed number of queries."""
    query = (
        select(Submission)
        .where(Submission.id == submission_id)
        .options(
            selectinload(Submission.plan_items),
            selectinload(Submission.tags),
            selectinload(Submission.attachments),
            selectinload(Submission.events),
        )
    )
    return db.session.scalars(query).one_or_none()


def sent_at_text(moment: datetime | None) -> str:
    """A moment as 2026年11月28日 (official form, no leading zeros)."""
    if moment is None:
        return ""
    return f"{moment.year}年{moment.month}月{moment.day}日"
