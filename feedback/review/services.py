"""Use cases of federation reviewers: assign, decide, edit staff fields, comment, bulk actions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from feedback import menus
from feedback.audit.services import record
from feedback.consolidation import services as consolidation
from feedback.exceptions import PermissionDenied, StaleVersion, ValidationFailed
from feedback.extensions import db
from feedback.filing import services as filing
from feedback.filing import workflow
from feedback.filing.text import clean_text
from feedback.i18n import gettext as _
from feedback.models import (
    STAFF_ROLES,
    Comment,
    ConsolidatedSuggestion,
    PlanItem,
    Report,
    SavedView,
    Status,
    Submission,
    Tag,
    User,
    UserRole,
    utcnow,
)
from feedback.notifications.services import notify
from feedback.reports import services as reports

PRIORITIES = (0, 1, 2)
ABSTRACT_MAX = 500
COMMENT_MAX = 4000


def _require_staff(actor: User) -> None:
    if not actor.has_role(*STAFF_ROLES):
        raise PermissionDenied(_("只有联合会审核人员可以执行此操作。"))


def _staff(*columns: Any) -> Select[Any]:
    """Active federation staff, by name: ``columns`` of each (a user appears once)."""
    return (
        select(*columns).join(UserRole)
        .where(User.active, UserRole.role.in_(STAFF_ROLES))
        .distinct().order_by(User.name, User.id)
    )  # fmt: skip


def reviewer_choices() -> list[tuple[int, str]]:
    """Active federation staff as (id, name), for the assignee menus of the queue and the
    detail page: no user objects (each would load its organisation and roles); kept per
    process."""
    return list(menus.cached("reviewers", _reviewer_choices))


def _reviewer_choices() -> tuple[tuple[int, str], ...]:
    return tuple((ident, name) for ident, name in db.session.execute(_staff(User.id, User.name)))


def assign(actor: User, submission: Submission, assignee: User | None) -> None:
    """Give a submission to a reviewer (or to nobody); claiming is assigning to oneself."""
    _require_staff(actor)
    if assignee is not None and not assignee.has_role(*STAFF_ROLES):
        raise ValidationFailed.on("assignee", _("只能分配给联合会审核人员。"))
    before = submission.assignee.name if submission.assignee else None
    submission.assignee_id = assignee.id if assignee else None
    submission.assignee = assignee
    workflow.record_event(
        submission, actor, "assigned", note=assignee.name if assignee else _("取消分配")
    )
    record(
        "assign",
        actor=actor,
        object_type="submission",
        object_id=submission.id,
        before=before,
        after=assignee.name if assignee else None,
    )
    db.session.flush()


@dataclass
class StaffEdit:
    """What a reviewer may change besides the status."""

    abstract: str
    priority: int
    plan_item_ids: list[int]
    tag_ids: list[int]


def edit(actor: User, submission: Submission, data: StaffEdit, expected_version: int) -> None:
    """Save the abstract, priority, plan items and tags, if nobody saved since the form loaded."""
    _require_staff(actor)
    if expected_version != submission.version:
        raise StaleVersion(_("这份材料已被他人修改（其他审核人员或填报单位）。"))
    abstract = clean_text(data.abstract)
    errors: dict[str, list[str]] = {}
    if len(abstract) > ABSTRACT_MAX:
        errors["abstract"] = [_("提炼要点不能超过 %(n)d 个字。", n=ABSTRACT_MAX)]
    if data.priority not in PRIORITIES:
        errors["priority"] = [_("请选择优先级。")]
    items = list(db.session.scalars(select(PlanItem).where(PlanItem.id.in_(data.plan_item_ids))))
    tags = list(db.session.scalars(select(Tag).where(Tag.id.in_(data.tag_ids))))
    if not items:
        errors["plan_item_ids"] = [_("请至少保留一个规划条目。")]
    if len(items) != len(set(data.plan_item_ids)) or len(tags) != len(set(data.tag_ids)):
        errors[""] = [_("所选规划条目或标签不存在，请刷新页面。")]
    if errors:
        raise ValidationFailed(errors)
    changed = []
    if abstract != (submission.abstract or ""):
        changed.append("abstract")
    if data.priority != submission.priority:
        changed.append("priority")
    if {i.id for i in items} != {i.id for i in submission.plan_items}:
        changed.append("plan_items")
    if {t.id for t in tags} != {t.id for t in submission.tags}:
        changed.append("tags")
    submission.abstract = abstract or None
    submission.priority = data.priority
    submission.plan_items = items
    submission.tags = tags
    if changed:
        # The version counter moves on every flush of a changed row; touching updated_at makes
        # a tag-only change count as a change of the submission too.
        submission.updated_at = utcnow()
        workflow.record_event(submission, actor, "staff_edit", note="、".join(changed))
        record(
            "staff_edit",
            actor=actor,
            object_type="submission",
            object_id=submission.id,
            fields=changed,
        )
    db.session.flush()


def comment(actor: User, submission: Submission, body: str, *, to_submitter: bool) -> Comment:
    """Add an internal note (staff only) or a message the submitting organisation sees."""
    _require_staff(actor)
    body = clean_text(body)
    if not body:
        raise ValidationFailed.on("body", _("请填写内容。"))
    if len(body) > COMMENT_MAX:
        raise ValidationFailed.on("body", _("内容不能超过 %(n)d 个字。", n=COMMENT_MAX))
    note = Comment(
        submission_id=submission.id,
        author_id=actor.id,
        body=body,
        visibility="to_submitter" if to_submitter else "internal",
    )
    db.session.add(note)
    if to_submitter:
        workflow.record_event(submission, actor, "message", note=body)
        notify(
            [submission.author],
            "message",
            _("联合会留言：%(title)s", title=submission.title),
            body,
            link=f"/submissions/{submission.id}",
        )
    record(
        "comment",
        actor=actor,
        object_type="submission",
        object_id=submission.id,
        visibility=note.visibility,
    )
    db.session.flush()
    return note


def comments(submission: Submission, *, internal: bool) -> list[Comment]:
    """The submission's comments: all of them for staff, messages only for the organisation."""
    # The authors in one more statement, not one per person the page names.
    query = (
        select(Comment)
        .where(Comment.submission_id == submission.id)
        .options(selectinload(Comment.author))
    )
    if not internal:
        query = query.where(Comment.visibility == "to_submitter")
    return list(db.session.scalars(query.order_by(Comment.id)))


# -- bulk actions --------------------------------------------------------------------------------


@dataclass
class BulkResult:
    """What a bulk action did."""

    changed: int
    skipped: int


BULK_ACTIONS = ("assign", "tag", "start_review", "consolidate", "report")


def bulk(
    actor: User,
    submissions: Sequence[Submission],
    action: str,
    *,
    expected_count: int,
    assignee: User | None = None,
    tag: Tag | None = None,
    consolidated: ConsolidatedSuggestion | None = None,
    report: Report | None = None,
) -> BulkResult:
    """Apply one action to exactly the submissions the reviewer confirmed.

    ``expected_count`` is the count shown to the reviewer before confirming: if the selection
    changed since (someone else filed or moved rows), nothing is done.
    """
    _require_staff(actor)
    if action not in BULK_ACTIONS:
        raise ValidationFailed.on("action", _("未知的批量操作。"))
    if len(submissions) != expected_count:
        raise StaleVersion(
            _(
                "符合条件的材料数量已变化（确认时 %(a)d 份，现在 %(b)d 份），"
                "未做任何修改。请重新确认。",
                a=expected_count,
                b=len(submissions),
            )
        )
    if action == "tag":
        if tag is None:
            raise ValidationFailed.on("tag_id", _("请选择标签。"))
        # As the detail page offers them (choices.tag_choices): a page opened before an
        # administrator retired the tag or its group must not bring it back.
        if not (tag.active and tag.group.active):
            raise ValidationFailed.on(
                "tag_id", _("标签“%(name)s”已停用，请选择其他标签。", name=tag.name)
            )
    changed = skipped = 0
    if action == "consolidate":
        if consolidated is None:
            raise ValidationFailed.on("consolidated_id", _("请选择汇总建议。"))
        changed = consolidation.link(actor, consolidated, submissions)
        skipped = len(submissions) - changed  # already among its sources
    elif action == "report":
        if report is None:
            raise ValidationFailed.on("report_id", _("请选择汇总报告。"))
        added = reports.add_items(actor, report, submissions=submissions)
        changed, skipped = added.added, added.already + added.refused_count
    for submission in submissions if action not in ("consolidate", "report") else ():
        if action == "assign":
            assign(actor, submission, assignee)
            changed += 1
        elif action == "tag" and tag is not None:  # checked above
            if tag in submission.tags:
                skipped += 1
                continue
            submission.tags.append(tag)
            submission.updated_at = utcnow()
            workflow.record_event(submission, actor, "tagged", note=tag.name)
            changed += 1
        elif action == "start_review":
            if submission.status != Status.SUBMITTED:
                skipped += 1  # only legal transitions happen; the others are counted, not forced
                continue
            filing.decide(actor, submission, "start_review")
            changed += 1
    record(
        "bulk_" + action,
        actor=actor,
        object_type="submission",
        object_id=None,
        count=changed,
        skipped=skipped,
    )
    db.session.flush()
    return BulkResult(changed, skipped)


# -- saved views ---------------------------------------------------------------------------------


def saved_views(user: User) -> list[SavedView]:
    """The user's named queue filters."""
    query = select(SavedView).where(SavedView.user_id == user.id).order_by(SavedView.name)
    return list(db.session.scalars(query))


def save_view(user: User, name: str, query: str) -> SavedView:
    """Name the current filter (the same name replaces the earlier one)."""
    _require_staff(user)
    name = clean_text(name, multiline=False)[:60]
    if not name:
        raise ValidationFailed.on("name", _("请给这个筛选起个名字。"))
    existing = db.session.scalars(
        select(SavedView).where(SavedView.user_id == user.id, SavedView.name == name)
    ).one_or_none()
    view = existing or SavedView(user_id=user.id, name=name)
    view.query = query[:1000]
    db.session.add(view)
    db.session.flush()
    return view


def delete_view(user: User, view_id: int) -> bool:
    """Remove one of the user's own saved views; False if there is none (others' are not found)."""
    view = db.session.get(SavedView, view_id)
    if view is None or view.user_id != user.id:
        return False
    db.session.delete(view)
    db.session.flush()
    return True
