"""The life of a submission as a table of allowed transitions (DESIGN.md §4).

Every change of status goes through :func:`apply_transition`, which checks the table, the actor's
role and organisation, writes an Event in the same transaction, and refuses anything else with
:class:`IllegalTransition` (answered with 409, never a 500).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import LazyString

from feedback.exceptions import Conflict, PermissionDenied, ValidationFailed
from feedback.extensions import db
from feedback.i18n import gettext as _
from feedback.i18n import lazy_gettext as _l
from feedback.models import ORG_ROLES, STAFF_ROLES, Event, Role, Status, Submission, User, utcnow

S = Status
APPROVER = frozenset({Role.ORG_APPROVER})


@dataclass(frozen=True)
class Transition:
    """An action allowed from some statuses, by some roles."""

    action: str
    sources: frozenset[Status]
    roles: frozenset[Role]
    by_organisation: bool  # the actor must belong to the submission's organisation
    note_required: bool = False


TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        # "submit" resolves to pending_approval or submitted (see target_status).
        Transition("submit", frozenset({S.DRAFT}), ORG_ROLES, True),
        Transition("approve", frozenset({S.PENDING_APPROVAL}), APPROVER, True),
        Transition("return_internal", frozenset({S.PENDING_APPROVAL}), APPROVER, True,
                   note_required=True),
        Transition("withdraw", frozenset({S.DRAFT, S.PENDING_APPROVAL, S.SUBMITTED}), ORG_ROLES,
                   True),
        Transition("resubmit", frozenset({S.RETURNED}), ORG_ROLES, True),
        Transition("start_review", frozenset({S.SUBMITTED}), STAFF_ROLES, False),
        Transition("return", frozenset({S.IN_REVIEW}), STAFF_ROLES, False, note_required=True),
        Transition("accept", frozenset({S.IN_REVIEW}), STAFF_ROLES, False),
        Transition("reject", frozenset({S.IN_REVIEW}), STAFF_ROLES, False, note_required=True),
        Transition("report", frozenset({S.ACCEPTED}), frozenset({Role.COMPILER}), False),
    )
}  # fmt: skip

_TARGETS: dict[str, Status] = {
    "approve": S.SUBMITTED,
    "return_internal": S.DRAFT,
    "withdraw": S.WITHDRAWN,
    "start_review": S.IN_REVIEW,
    "return": S.RETURNED,
    "accept": S.ACCEPTED,
    "reject": S.REJECTED,
    "report": S.REPORTED,
}

ACTION_LABELS: dict[str, LazyString] = {
    "created": _l("创建草稿"),
    "edited": _l("修改"),
    "imported": _l("批量导入"),
    "submit": _l("提交"),
    "approve": _l("单位审核通过"),
    "return_internal": _l("单位退回修改"),
    "withdraw": _l("撤回"),
    "resubmit": _l("修改后重新提交"),
    "start_review": _l("开始审核"),
    "return": _l("退回修改"),
    "accept": _l("采用"),
    "reject": _l("不予采用"),
    "report": _l("已报送应急管理部"),
    "assigned": _l("分配审核人"),
    "staff_edit": _l("审核人员修改要点、条目或标签"),
    "message": _l("联合会留言"),
    "tagged": _l("添加标签"),
    "attachment_added": _l("添加附件"),
    "attachment_removed": _l("删除附件"),
    "similar_confirmed": _l("确认与相似材料为同一问题"),
    "similar_dismissed": _l("排除相似材料"),
    "consolidated": _l("纳入汇总建议"),
    "unconsolidated": _l("移出汇总建议"),
    "report_included": _l("纳入汇总报告"),
    "report_removed": _l("移出汇总报告"),
    "ministry_response": _l("应急管理部意见"),
}

STATUS_LABELS: dict[Status, LazyString] = {
    S.DRAFT: _l("草稿"),
    S.PENDING_APPROVAL: _l("待单位审核"),
    S.SUBMITTED: _l("已报送"),
    S.IN_REVIEW: _l("审核中"),
    S.RETURNED: _l("退回修改"),
    S.ACCEPTED: _l("已采用"),
    S.REJECTED: _l("未采用"),
    S.REPORTED: _l("已报部"),
    S.WITHDRAWN: _l("已撤回"),
}


class IllegalTransition(Conflict):
    """The action is not possible from the submission's current status."""


def target_status(action: str, submission: Submission) -> Status:
    """Where ``action`` takes ``submission``."""
    if action in ("submit", "resubmit"):
        # Nothing reaches the federation without the approver when the organisation asks for
        # it (DESIGN.md §2), resubmissions included.
        needs_approval = submission.organisation.requires_approval
        return S.PENDING_APPROVAL if needs_approval else S.SUBMITTED
    return _TARGETS[action]


def allowed_actions(user: User, submission: Submission) -> list[str]:
    """The actions ``user`` may take on ``submission`` now (for buttons)."""
    return [a for a, t in TRANSITIONS.items() if _permitted(user, submission, t)]


def _permitted(user: User, submission: Submission, transition: Transition) -> bool:
    if submission.status not in transition.sources or not user.has_role(*transition.roles):
        return False
    if transition.by_organisation:
        return user.organisation_id == submission.organisation_id
    return True


def record_event(
    submission: Submission,
    actor: User | None,
    action: str,
    *,
    note: str | None = None,
    from_status: Status | None = None,
    to_status: Status | None = None,
) -> Event:
    """Add one history row for ``submission``."""
    event = Event(
        submission=submission,
        actor=actor,
        action=action,
        note=note,
        from_status=from_status,
        to_status=to_status,
        revision=submission.revision or None,
    )
    db.session.add(event)
    return event


def apply_transition(actor: User, submission: Submission, action: str, note: str = "") -> Event:
    """Move ``submission`` by ``action`` if the table allows it; raises on anything else."""
    transition = TRANSITIONS.get(action)
    if transition is None:
        raise IllegalTransition(_("未知的操作。"))
    if not actor.has_role(*transition.roles) or (
        transition.by_organisation and actor.organisation_id != submission.organisation_id
    ):
        raise PermissionDenied(_("您没有执行此操作的权限。"))
    if submission.status not in transition.sources:
        raise IllegalTransition(
            _(
                "该材料当前状态为“%(status)s”，不能执行“%(action)s”。请刷新页面查看最新状态。",
                status=STATUS_LABELS[submission.status],
                action=ACTION_LABELS[action],
            )
        )
    note = (note or "").strip()
    if transition.note_required and not note:
        raise ValidationFailed.on("note", _("请填写说明（将告知填报单位）。"))
    before = submission.status
    submission.status = target_status(action, submission)
    submission.updated_at = utcnow()
    return record_event(
        submission,
        actor,
        action,
        note=note or None,
        from_status=before,
        to_status=submission.status,
    )
