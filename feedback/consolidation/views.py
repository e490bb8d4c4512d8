"""Pages for consolidated suggestions: list, write, edit, and link or remove sources."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from feedback.admin.forms import ActionForm
from feedback.consolidation import services
from feedback.consolidation.forms import SuggestionForm
from feedback.exceptions import StaleVersion, ValidationFailed
from feedback.extensions import db
from feedback.filing.views import visible_or_404
from feedback.forms import show_errors
from feedback.i18n import gettext as _
from feedback.models import STAFF_ROLES, ConsolidatedSource, ConsolidatedSuggestion, Submission
from feedback.paging import bounded_int, bounded_ints, expected_version
from feedback.security import acting_user, is_safe_local_path, require_roles

bp = Blueprint("consolidation", __name__, url_prefix="/review/consolidated")


def _suggestion_or_404(suggestion_id: int) -> ConsolidatedSuggestion:
    # Sources, their organisations and who linked them load in a fixed number of queries,
    # however many sources there are.
    links = selectinload(ConsolidatedSuggestion.links)
    query = (
        select(ConsolidatedSuggestion)
        .where(ConsolidatedSuggestion.id == suggestion_id)
        .options(
            links.selectinload(ConsolidatedSource.submission).selectinload(Submission.organisation),
            links.selectinload(ConsolidatedSource.linked_by),
            links.selectinload(ConsolidatedSource.removed_by),
            selectinload(ConsolidatedSuggestion.plan_items),
        )
    )
    suggestion = db.session.scalars(query).one_or_none()
    if suggestion is None:
        abort(404)
    return suggestion


@bp.route("/")
@require_roles(*STAFF_ROLES)
def index() -> ResponseReturnValue:
    """Every consolidated suggestion with its evidence."""
    q = request.args.get("q", "")[:50]
    return render_template("consolidation/index.html", rows=services.listing(q), q=q)


@bp.route("/new", methods=["GET", "POST"])
@require_roles(*STAFF_ROLES)
def new() -> ResponseReturnValue:
    """Write a suggestion; opened from the queue or a cluster with its sources filled in."""
    user = acting_user()
    form = SuggestionForm()
    if request.method == "GET":
        ids = bounded_ints(request.args.getlist("ids"))
        start = services.SuggestionInput.from_sources(services.sources_by_id(user, ids))
        form.process(data=vars(start))
    elif form.validate_on_submit():
        try:
            suggestion = services.create(user, form.to_input())
            db.session.commit()
        except ValidationFailed as failure:
            db.session.rollback()
            show_errors(form, failure)
        else:
            flash(_("汇总建议已保存。"), "success")
            return redirect(url_for(".detail", suggestion_id=suggestion.id), 303)
    status = 422 if request.method == "POST" else 200
    return render_template("consolidation/form.html", form=form, suggestion=None), status


@bp.route("/<int:suggestion_id>")
@require_roles(*STAFF_ROLES)
def detail(suggestion_id: int) -> ResponseReturnValue:
    """The suggestion, its evidence, its sources and the history of its links."""
    suggestion = _suggestion_or_404(suggestion_id)
    return render_template(
        "consolidation/detail.html",
        suggestion=suggestion,
        evidence=services.evidence(suggestion),
        action_form=ActionForm(),
    )


@bp.route("/<int:suggestion_id>/edit", methods=["GET", "POST"])
@require_roles(*STAFF_ROLES)
def edit(suggestion_id: int) -> ResponseReturnValue:
    """Change the text, plan items or sources (version-checked: a second editor keeps their
    text and is told)."""
    suggestion = _suggestion_or_404(suggestion_id)
    form = SuggestionForm()
    status = 200
    if request.method == "GET":
        form.process(data={**vars(services.SuggestionInput.of(suggestion)),
                           "version": suggestion.version})  # fmt: skip
    elif form.validate_on_submit():
        version = form.version.data or ""
        try:
            services.update(
                acting_user(),
                suggestion,
                form.to_input(),
                expected_version(version),
            )
            db.session.commit()
        except (StaleVersion, StaleDataError):
            db.session.rollback()
            form.form_errors.append(
                _(
                    "这条汇总建议已被他人修改，您的修改未保存。下方仍是您填写的内容；"
                    "核对后再次保存，将以您的内容为准。"
                )
            )
            suggestion = _suggestion_or_404(suggestion_id)
            form.version.data = str(suggestion.version)
            status = 409
        except ValidationFailed as failure:
            db.session.rollback()
            show_errors(form, failure)
            suggestion = _suggestion_or_404(suggestion_id)
            status = 422
        else:
            flash(_("汇总建议已保存。"), "success")
            return redirect(url_for(".detail", suggestion_id=suggestion_id), 303)
    else:
        status = 422
    return render_template("consolidation/form.html", form=form, suggestion=suggestion), status


@bp.route("/sources", methods=["POST"])
@require_roles(*STAFF_ROLES)
def add_sources() -> ResponseReturnValue:
    """Link submissions to the chosen suggestion: by id (from a submission's page) or by
    reference numbers (on the suggestion's page)."""
    if not ActionForm().validate_on_submit():
        abort(400)
    suggestion_id = bounded_int(request.form.get("consolidated_id", ""))
    if suggestion_id is None:
        abort(400)
    suggestion = _suggestion_or_404(suggestion_id)
    user = acting_user()
    ids = bounded_ints(request.form.getlist("submission_id"))
    sources = services.sources_by_id(user, ids)
    unknown: list[str] = []
    if request.form.get("references"):
        named, unknown = services.sources_by_reference(user, request.form["references"])
        sources += named
    back = request.form.get("back", "")
    target = back if is_safe_local_path(back) else url_for(".detail", suggestion_id=suggestion_id)
    if unknown:
        flash(_("以下编号找不到或不是已报送联合会的材料：%(refs)s", refs="、".join(unknown[:20])),
              "danger")  # fmt: skip
        return redirect(target, 303)
    try:
        added = services.link(user, suggestion, sources)
        db.session.commit()
    except ValidationFailed as failure:
        db.session.rollback()
        flash(str(failure), "danger")
    else:
        flash(_("已加入 %(n)d 份来源材料。", n=added) if added else _("这些材料已在来源中。"),
              "success")  # fmt: skip
    return redirect(target, 303)


@bp.route("/<int:suggestion_id>/sources/<int:submission_id>/remove", methods=["POST"])
@require_roles(*STAFF_ROLES)
def remove_source(suggestion_id: int, submission_id: int) -> ResponseReturnValue:
    """Take a source out (recorded, not deleted)."""
    suggestion = _suggestion_or_404(suggestion_id)
    source = visible_or_404(submission_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    if services.unlink(acting_user(), suggestion, source):
        db.session.commit()
        flash(_("已将 %(ref)s 移出来源。", ref=source.reference), "success")
    return redirect(url_for(".detail", suggestion_id=suggestion_id), 303)
