"""The review workbench pages: the queue, a submission under review, bulk actions."""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from feedback import labels
from feedback.admin.forms import ActionForm
from feedback.audit import refusals
from feedback.consolidation import services as consolidation
from feedback.exceptions import Conflict, PermissionDenied, StaleVersion, ValidationFailed
from feedback.extensions import db
from feedback.filing import services as filing
from feedback.filing import workflow
from feedback.filing.choices import plan_item_choices, tag_choices
from feedback.filing.kinds import KINDS
from feedback.filing.views import visible_or_404
from feedback.formatting import china_today
from feedback.i18n import gettext as _
from feedback.models import (
    STAFF_ROLES,
    ConsolidatedSuggestion,
    OrgKind,
    Report,
    Role,
    SavedView,
    SimilarityLink,
    Submission,
    Tag,
    User,
)
from feedback.paging import bounded_int, bounded_ints, expected_version
from feedback.reports import services as reports
from feedback.review import dashboard, queue, services, similarity
from feedback.security import acting_user, is_safe_local_path, require_roles

bp = Blueprint("review", __name__, url_prefix="/review")


@bp.route("/")
@require_roles(*STAFF_ROLES)
def index() -> ResponseReturnValue:
    """Every submission that reached the federation, filtered, with status tabs."""
    user = acting_user()
    filters = queue.QueueFilters.from_args(request.args)
    result = queue.page(filters, user, request.args.get("after", "")[:200], table=True)
    return render_template(
        "review/queue.html",
        filters=filters,
        result=result,
        counts=result.counts,
        count_cap=queue.COUNT_CAP,
        tags=tag_choices(),
        plan_choices=[(label.split(" ")[0], label) for _id, label in plan_item_choices()],
        kind_choices=[(key, spec.label) for key, spec in KINDS.items()],
        kind_names={key: str(spec.label) for key, spec in KINDS.items()},
        status_names={key: str(label) for key, label in workflow.STATUS_LABELS.items()},
        org_kind_choices=[(k, v) for k, v in labels.ORG_KIND.items() if k != OrgKind.FEDERATION],
        reviewers=services.reviewer_choices(),
        saved=services.saved_views(user),
        consolidated_choices=consolidation.choices(),
        report_choices=_report_choices() if user.has_role(Role.COMPILER) else [],
    )


def _report_choices() -> list[tuple[int, str]]:
    rows = db.session.execute(select(Report.id, Report.title, Report.period_label)
                              .order_by(Report.updated_at.desc()).limit(50))  # fmt: skip
    return [(ident, f"{title}（{period}）") for ident, title, period in rows]


@bp.route("/<int:submission_id>")
@require_roles(*STAFF_ROLES)
def detail(submission_id: int) -> ResponseReturnValue:
    """A submission with every reviewer tool."""
    submission = visible_or_404(submission_id)
    return _detail_page(submission)


def _detail_page(submission: Submission, status: int = 200, **extra: object) -> ResponseReturnValue:
    user = acting_user()
    return render_template(
        "review/detail.html",
        submission=submission,
        staff_view=filing.staff_view_of(submission),
        events=filing.federation_events(submission),
        attachments=filing.federation_attachments(submission),
        actions=workflow.allowed_actions(user, submission),
        comments=services.comments(submission, internal=True),
        similar=similarity.similar_to(db.session, submission, user, include_dismissed=True),
        cluster=similarity.cluster_summary(db.session, submission, user),
        reviewers=services.reviewer_choices(),
        plan_items=plan_item_choices(),
        tags=tag_choices(),
        consolidated=consolidation.containing(submission),
        responses=reports.responses_for(submission),
        verdicts=reports.VERDICT_LABELS(),
        consolidated_choices=consolidation.choices(),
        action_form=ActionForm(),
        **extra,
    ), status


@bp.route("/<int:submission_id>/assign", methods=["POST"])
@require_roles(*STAFF_ROLES)
def assign(submission_id: int) -> ResponseReturnValue:
    """Claim (assignee=me), assign to a colleague, or unassign."""
    submission = visible_or_404(submission_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    user = acting_user()
    raw = request.form.get("assignee", "")
    ident = bounded_int(raw)
    target = user if raw == "me" else (db.session.get(User, ident) if ident is not None else None)
    try:
        services.assign(user, submission, target)
    except ValidationFailed as failure:
        db.session.rollback()
        flash(str(failure), "danger")
    else:
        db.session.commit()
        flash(_("已分配给%(name)s。", name=target.name) if target else _("已取消分配。"), "success")
    back = request.form.get("back", "")
    # Only a path on this site: the field comes back from the browser and could name any URL.
    if not is_safe_local_path(back):
        back = url_for("review.detail", submission_id=submission_id)
    return redirect(back, 303)


@bp.route("/<int:submission_id>/decide", methods=["POST"])
@require_roles(*STAFF_ROLES)
def decide(submission_id: int) -> ResponseReturnValue:
    """start_review, return (note required), accept (note optional), reject (reason required)."""
    submission = visible_or_404(submission_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    action = request.form.get("action", "")
    note = request.form.get("note", "")
    try:
        filing.decide(acting_user(), submission, action, note)
        db.session.commit()
    except ValidationFailed as failure:
        db.session.rollback()
        return _detail_page(
            visible_or_404(submission_id),
            422,
            decision_error=str(failure),
            decision_note=note,
            decision=action,
        )
    except (Conflict, PermissionDenied) as error:
        db.session.rollback()
        return _detail_page(
            visible_or_404(submission_id),
            409,
            decision_error=str(error),
            decision_note=note,
            decision=action,
        )
    messages = {
        "start_review": _("已开始审核。"),
        "return": _("已退回填报单位修改。"),
        "accept": _("已采用。"),
        "reject": _("已标记为不予采用。"),
    }
    flash(messages.get(action, _("已更新。")), "success")
    return redirect(url_for("review.detail", submission_id=submission_id), 303)


@bp.route("/<int:submission_id>/edit", methods=["POST"])
@require_roles(*STAFF_ROLES)
def edit(submission_id: int) -> ResponseReturnValue:
    """Save the abstract, priority, plan items and tags (version-checked)."""
    submission = visible_or_404(submission_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    form = request.form
    priority = bounded_int(form.get("priority", "0"))
    data = services.StaffEdit(
        abstract=form.get("abstract", ""),
        priority=-1 if priority is None else priority,
        plan_item_ids=bounded_ints(form.getlist("plan_item_ids")),
        tag_ids=bounded_ints(form.getlist("tag_ids")),
    )
    version = form.get("version", "")
    try:
        services.edit(
            acting_user(),
            submission,
            data,
            expected_version(version),
        )
        db.session.commit()
    except (StaleVersion, StaleDataError):
        db.session.rollback()
        return _detail_page(
            visible_or_404(submission_id),
            409,
            edit_error=_(
                "这份材料已被他人修改，您的修改未保存。您填写的提炼要点仍在下方，请刷新后重新保存。"
            ),
            edit_draft=data,
        )
    except ValidationFailed as failure:
        db.session.rollback()
        return _detail_page(
            visible_or_404(submission_id), 422, edit_error=str(failure), edit_draft=data
        )
    flash(_("已保存。"), "success")
    return redirect(url_for("review.detail", submission_id=submission_id), 303)


@bp.route("/<int:submission_id>/comments", methods=["POST"])
@require_roles(*STAFF_ROLES)
def add_comment(submission_id: int) -> ResponseReturnValue:
    """An internal note, or a message to the submitting organisation."""
    submission = visible_or_404(submission_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    body = request.form.get("body", "")
    try:
        services.comment(
            acting_user(),
            submission,
            body,
            to_submitter=request.form.get("visibility") == "to_submitter",
        )
        db.session.commit()
    except ValidationFailed as failure:
        db.session.rollback()
        return _detail_page(
            visible_or_404(submission_id), 422, comment_error=str(failure), comment_body=body
        )
    flash(
        _("已发送给填报单位。")
        if request.form.get("visibility") == "to_submitter"
        else _("内部备注已保存。"),
        "success",
    )
    return redirect(url_for("review.detail", submission_id=submission_id), 303)


@bp.route("/bulk", methods=["POST"])
@require_roles(*STAFF_ROLES)
def bulk() -> ResponseReturnValue:
    """Confirm, then apply an action to the selected rows or to everything matching the filter."""
    user = acting_user()
    if not ActionForm().validate_on_submit():
        abort(400)
    form = request.form
    filters = queue.QueueFilters.from_args(form)
    scope = form.get("scope", "selected")
    action = form.get("action", "")
    query = queue.filtered(filters, user)
    if scope == "selected":
        ids = bounded_ints(form.getlist("ids"))
        query = query.where(Submission.id.in_(ids))
    targets = list(db.session.scalars(query.order_by(Submission.id)))
    assignee_id = bounded_int(form.get("assignee_id", ""))
    tag_id = bounded_int(form.get("tag_id", ""))
    consolidated_id = bounded_int(form.get("consolidated_id", ""))
    consolidated = (
        db.session.get(ConsolidatedSuggestion, consolidated_id) if consolidated_id else None
    )
    report_id = bounded_int(form.get("report_id", ""))
    report = db.session.get(Report, report_id) if report_id else None
    confirmed = bounded_int(form.get("confirmed_count", ""))
    if confirmed is None:
        # First step: show the exact count and ask for confirmation.
        return render_template(
            "review/bulk_confirm.html",
            count=len(targets),
            action=action,
            scope=scope,
            filters=filters,
            ids=[s.id for s in targets] if scope == "selected" else [],
            assignee=db.session.get(User, assignee_id) if assignee_id else None,
            tag=db.session.get(Tag, tag_id) if tag_id else None,
            consolidated=consolidated,
            report=report,
            sources_max=consolidation.SOURCES_MAX,
            action_form=ActionForm(),
        )
    if action == "consolidate_new":
        return _consolidate_new(filters, targets, confirmed)
    try:
        result = services.bulk(
            user,
            targets,
            action,
            expected_count=confirmed,
            assignee=db.session.get(User, assignee_id) if assignee_id else None,
            tag=db.session.get(Tag, tag_id) if tag_id else None,
            consolidated=consolidated,
            report=report,
        )
        db.session.commit()
    except (StaleVersion, ValidationFailed, PermissionDenied) as error:
        db.session.rollback()
        flash(str(error), "danger")
    else:
        flash(
            _("已处理 %(n)d 份材料。", n=result.changed)
            + (
                _("另有 %(m)d 份无需或不能处理，已跳过。", m=result.skipped)
                if result.skipped
                else ""
            ),
            "success",
        )
    return redirect(f"{url_for('review.index')}?{urlencode(filters.to_args())}", 303)


def _consolidate_new(
    filters: queue.QueueFilters, targets: list[Submission], confirmed: int
) -> ResponseReturnValue:
    """Open a new consolidated suggestion with the confirmed rows as its sources."""
    back = f"{url_for('review.index')}?{urlencode(filters.to_args())}"
    if len(targets) != confirmed:
        flash(
            _(
                "符合条件的材料数量已变化（确认时 %(a)d 份，现在 %(b)d 份），请重新确认。",
                a=confirmed,
                b=len(targets),
            ),
            "danger",
        )
        return redirect(back, 303)
    if not targets or len(targets) > consolidation.SOURCES_MAX:
        flash(
            _("一条汇总建议的来源材料应为 1 至 %(n)d 份。", n=consolidation.SOURCES_MAX), "danger"
        )
        return redirect(back, 303)
    ids = urlencode([("ids", s.id) for s in targets])
    return redirect(f"{url_for('consolidation.new')}?{ids}", 303)


@bp.route("/views", methods=["POST"])
@require_roles(*STAFF_ROLES)
def save_view() -> ResponseReturnValue:
    """Name the current filter so it can be opened again with one click."""
    if not ActionForm().validate_on_submit():
        abort(400)
    filters = queue.QueueFilters.from_args(request.form)
    query = urlencode(filters.to_args())
    try:
        services.save_view(acting_user(), request.form.get("name", ""), query)
        db.session.commit()
    except ValidationFailed as failure:
        db.session.rollback()
        flash(str(failure), "danger")
    else:
        flash(_("已保存筛选。"), "success")
    return redirect(f"{url_for('review.index')}?{query}", 303)


@bp.route("/views/<int:view_id>/delete", methods=["POST"])
@require_roles(*STAFF_ROLES)
def delete_view(view_id: int) -> ResponseReturnValue:
    """Remove one of the user's saved filters."""
    if not ActionForm().validate_on_submit():
        abort(400)
    if not services.delete_view(acting_user(), view_id):
        refusals.deny_if_exists(SavedView, view_id)
        abort(404)  # as for every object of someone else: its existence is not revealed
    db.session.commit()
    return redirect(url_for("review.index"), 303)


@bp.route("/dashboard")
@require_roles(*STAFF_ROLES)
def dashboard_page() -> ResponseReturnValue:
    """This quarter's material by plan item, kind, province and organisation kind."""
    day = china_today()
    raw = request.args.get("day", "")
    if raw:
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            day = china_today()
    start, end, label = dashboard.quarter_of(day)
    previous = dashboard.quarter_of(start - timedelta(days=1))[0]
    following = end if end <= china_today() else None
    return render_template(
        "review/dashboard.html",
        board=dashboard.build(start, end, label),
        previous=previous,
        following=following,
    )


@bp.route(
    "/<int:submission_id>/similar/<int:link_id>/<any(confirm, dismiss):decision>", methods=["POST"]
)
@require_roles(*STAFF_ROLES)
def decide_similar(submission_id: int, link_id: int, decision: str) -> ResponseReturnValue:
    """Confirm two submissions as the same issue, or dismiss the match (nothing is deleted)."""
    submission = visible_or_404(submission_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    link = db.session.get(SimilarityLink, link_id)
    if link is None or submission.id not in (link.submission_a_id, link.submission_b_id):
        abort(404)
    if decision == "confirm":
        similarity.confirm(acting_user(), link)
        flash(_("已确认为同一问题。"), "success")
    else:
        similarity.dismiss(acting_user(), link)
        flash(_("已标记为不相同。"), "success")
    db.session.commit()
    return redirect(url_for("review.detail", submission_id=submission_id), 303)
