"""Report pages: list, compile (items, order, wording), preview, freeze, download, send, answers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any
from urllib.parse import quote

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from feedback.admin.forms import ActionForm
from feedback.audit.services import record
from feedback.consolidation import services as consolidation
from feedback.database import write_after_read
from feedback.exceptions import PermissionDenied, StaleVersion, ValidationFailed
from feedback.extensions import db
from feedback.formatting import china_today
from feedback.forms import show_errors
from feedback.i18n import gettext as _
from feedback.models import (
    STAFF_ROLES,
    Campaign,
    ConsolidatedSource,
    ConsolidatedSuggestion,
    Report,
    ReportItem,
    ReportVersion,
    Role,
    Submission,
    utcnow,
)
from feedback.paging import bounded_ints, expected_version
from feedback.reports import compile as compiling
from feedback.reports import services, xlsx
from feedback.reports.forms import ReportForm, SentForm
from feedback.review.dashboard import quarter_of
from feedback.security import acting_user, require_roles

bp = Blueprint("reports", __name__, url_prefix="/reports")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DEFAULT_TITLE = "关于《“十四五”危险化学品安全生产规划方案》实施情况的汇总报告"


def _report_or_404(report_id: int) -> Report:
    items = selectinload(Report.items)
    submission = items.selectinload(ReportItem.submission)
    consolidated = items.selectinload(ReportItem.consolidated)
    query = (
        select(Report)
        .where(Report.id == report_id)
        .options(
            # Everything the page and the workbook read per item, in a fixed number of queries
            # however many items there are.
            submission.selectinload(Submission.organisation),
            submission.selectinload(Submission.plan_items),
            submission.selectinload(Submission.tags),
            consolidated.selectinload(ConsolidatedSuggestion.plan_items),
            consolidated.selectinload(ConsolidatedSuggestion.links)
            .selectinload(ConsolidatedSource.submission)
            .selectinload(Submission.organisation),
            selectinload(Report.editions),
        )
    )
    report = db.session.scalars(query).one_or_none()
    if report is None:
        abort(404)
    return report


def _version_or_404(report: Report, number: int) -> ReportVersion:
    edition = services.get_version(report, number)
    if edition is None:
        abort(404)
    return edition


def _campaigns() -> list[tuple[int, str]]:
    rows = db.session.execute(select(Campaign.id, Campaign.title).order_by(Campaign.id.desc()))
    return [(ident, title) for ident, title in rows]


@bp.route("/")
@require_roles(*STAFF_ROLES)
def index() -> ResponseReturnValue:
    """Every report, with its versions."""
    return render_template("reports/index.html", reports=services.listing())


@bp.route("/new", methods=["GET", "POST"])
@require_roles(Role.COMPILER)
def new() -> ResponseReturnValue:
    """Start a report for a period."""
    form = ReportForm(campaigns=_campaigns())
    if request.method == "GET":
        start, end, label = quarter_of(china_today())
        form.process(data={"title": DEFAULT_TITLE, "period_label": label, "period_start": start,
                           "period_end": date.fromordinal(end.toordinal() - 1),
                           "issuer": services.ISSUER})  # fmt: skip
    elif form.validate_on_submit():
        try:
            report = services.create(acting_user(), form.to_input())
            db.session.commit()
        except ValidationFailed as failure:
            db.session.rollback()
            show_errors(form, failure)
        else:
            flash(_("报告已创建，请加入条目。"), "success")
            return redirect(url_for(".detail", report_id=report.id), 303)
    status = 422 if request.method == "POST" else 200
    return render_template("reports/form.html", form=form, report=None), status


@bp.route("/<int:report_id>/edit", methods=["GET", "POST"])
@require_roles(Role.COMPILER)
def edit(report_id: int) -> ResponseReturnValue:
    """Change title, period, scope or issuer (version-checked)."""
    report = _report_or_404(report_id)
    form = ReportForm(campaigns=_campaigns())
    status = 200
    if request.method == "GET":
        form.process(obj=report)
        form.campaign_id.data = str(report.campaign_id or "")
    elif form.validate_on_submit():
        try:
            services.update(
                acting_user(),
                report,
                form.to_input(),
                expected_version(request.form.get("version", "")),
            )
            db.session.commit()
        except (StaleVersion, StaleDataError):
            db.session.rollback()
            form.form_errors.append(
                _(
                    "这份报告已被他人修改，您的修改未保存。下方仍是您填写的内容；"
                    "核对后再次保存，将以您的内容为准。"
                )
            )
            report = _report_or_404(report_id)
            form.version.data = str(report.version)
            status = 409
        except ValidationFailed as failure:
            db.session.rollback()
            show_errors(form, failure)
            status = 422
        else:
            flash(_("已保存。"), "success")
            return redirect(url_for(".detail", report_id=report_id), 303)
    else:
        status = 422
    return render_template("reports/form.html", form=form, report=report), status


@bp.route("/<int:report_id>")
@require_roles(*STAFF_ROLES)
def detail(report_id: int) -> ResponseReturnValue:
    """The draft being compiled, what changed since the last freeze, and every version."""
    report = _report_or_404(report_id)
    present = {item.consolidated_id for item in report.items if item.consolidated_id}
    return render_template(
        "reports/detail.html",
        report=report,
        sheets=_sheets(report),
        changes=services.changes(report),
        suggestions=[(i, t) for i, t in consolidation.choices() if i not in present],
        sent_form=SentForm(),
        worded=services.worded,
        plan_items_of=services.plan_items_of,
        action_form=ActionForm(),
        can_edit=acting_user().has_role(Role.COMPILER),
    )


def _sheets(report: Report) -> list[tuple[str, list[ReportItem]]]:
    from feedback.filing.kinds import KINDS, Kind

    order = (Kind.SUGGESTION, Kind.PROBLEM, Kind.EXPERIENCE)
    return [
        (str(KINDS[kind].label), [i for i in report.items if services.item_kind(i) == kind])
        for kind in order
    ]


def _act(report_id: int) -> Report:
    """The report for a compiler's POST (CSRF checked)."""
    report = _report_or_404(report_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    return report


@bp.route("/<int:report_id>/items", methods=["POST"])
@require_roles(Role.COMPILER)
def add_items(report_id: int) -> ResponseReturnValue:
    """Add consolidated suggestions (chosen) and submissions (by reference number)."""
    report = _act(report_id)
    user = acting_user()
    ids = bounded_ints(request.form.getlist("consolidated_id"))
    chosen = list(
        db.session.scalars(select(ConsolidatedSuggestion).where(ConsolidatedSuggestion.id.in_(ids)))
    )
    submissions, unknown = consolidation.sources_by_reference(
        user, request.form.get("references", "")
    )
    if unknown:
        flash(
            _("以下编号找不到或不是已报送联合会的材料：%(refs)s", refs="、".join(unknown[:20])),
            "danger",
        )
        return redirect(url_for(".detail", report_id=report_id), 303)
    try:
        result = services.add_items(user, report, submissions=submissions, suggestions=chosen)
        db.session.commit()
    except ValidationFailed as failure:
        db.session.rollback()
        flash(str(failure), "danger")
    else:
        _flash_added(result)
    return redirect(url_for(".detail", report_id=report_id), 303)


def _flash_added(result: services.AddResult) -> None:
    message = _("已加入 %(n)d 项。", n=result.added)
    if result.already:
        message += _("%(n)d 项已在报告中。", n=result.already)
    for reason, count in result.refused.items():
        message += _("%(n)d 份未加入：%(why)s", n=count, why=reason)
    flash(message, "success" if not result.refused else "warning")


@bp.route("/<int:report_id>/items/<int:item_id>/<any(up, down, remove):action>", methods=["POST"])
@require_roles(Role.COMPILER)
def item_action(report_id: int, item_id: int, action: str) -> ResponseReturnValue:
    """Move an item up or down within its sheet, or take it out of the draft."""
    report = _act(report_id)
    item = next((i for i in report.items if i.id == item_id), None)
    if item is None:
        abort(404)
    user = acting_user()
    if action == "remove":
        services.remove_item(user, report, item)
        flash(_("已移出：%(t)s", t=services.worded(item)["title"]), "success")
    else:
        services.move_item(user, report, item, -1 if action == "up" else 1)
    db.session.commit()
    return redirect(url_for(".detail", report_id=report_id, _anchor=f"item-{item_id}"), 303)


@bp.route("/<int:report_id>/sort", methods=["POST"])
@require_roles(Role.COMPILER)
def sort(report_id: int) -> ResponseReturnValue:
    """Order the items by plan item, then kind."""
    report = _act(report_id)
    services.sort_by_plan(acting_user(), report)
    db.session.commit()
    flash(_("已按规划条目重新排序。"), "success")
    return redirect(url_for(".detail", report_id=report_id), 303)


@bp.route("/<int:report_id>/items/<int:item_id>/reword", methods=["GET", "POST"])
@require_roles(Role.COMPILER)
def reword(report_id: int, item_id: int) -> ResponseReturnValue:
    """The wording the report uses for one item (the original stays as it is)."""
    report = _report_or_404(report_id)
    item = next((i for i in report.items if i.id == item_id), None)
    if item is None:
        abort(404)
    kind = services.item_kind(item)
    values = services.worded(item)
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        if not ActionForm().validate_on_submit():
            abort(400)
        values = {name: request.form.get(name, "") for name in services.WORDING_FIELDS[kind]}
        try:
            services.reword(
                acting_user(),
                report,
                item,
                values,
                expected_version(request.form.get("version", "")),
            )
            db.session.commit()
        except (StaleVersion, StaleDataError):
            db.session.rollback()
            errors[""] = [
                _(
                    "这份报告已被他人修改，您的改写未保存。下方仍是您填写的内容；"
                    "核对后再次保存，将以您的内容为准。"
                )
            ]
            status = 409
        except ValidationFailed as failure:
            db.session.rollback()
            errors = failure.errors
            status = 422
        else:
            flash(_("已保存改写。"), "success")
            return redirect(url_for(".detail", report_id=report_id, _anchor=f"item-{item_id}"), 303)
        report = _report_or_404(report_id)
    return render_template(
        "reports/reword.html",
        report=report,
        item=item,
        labels=services.field_labels(kind),
        values=values,
        original=services.original(item),
        errors=errors,
        action_form=ActionForm(),
    ), status


@bp.route("/<int:report_id>/preview")
@require_roles(*STAFF_ROLES)
def preview(report_id: int) -> ResponseReturnValue:
    """The draft as the workbook will show it."""
    report = _report_or_404(report_id)
    compiled = compiling.compile_report(report, number=report.next_number, generated_at=utcnow())
    data = compiled.data
    sheets: list[tuple[Any, Sequence[Any]]] = [
        (xlsx.SUGGESTIONS, data.suggestions),
        (xlsx.PROBLEMS, data.problems),
        (xlsx.EXPERIENCES, data.experiences),
        (xlsx.SOURCES, data.sources),
    ]
    tables = [
        (table.name, table.headers, [[n, *row.cells()] for n, row in enumerate(rows, start=1)])
        for table, rows in sheets
    ]
    return render_template("reports/preview.html", report=report, data=data, tables=tables)


@bp.route("/<int:report_id>/preview.xlsx")
@require_roles(*STAFF_ROLES)
def preview_workbook(report_id: int) -> ResponseReturnValue:
    """The draft's workbook, not frozen (for checking in Excel before freezing)."""
    report = _report_or_404(report_id)
    content = compiling.build_workbook(report, number=report.next_number, generated_at=utcnow())
    write_after_read()
    record("report_preview_download", actor=acting_user(), object_type="report",
           object_id=report.id)  # fmt: skip
    db.session.commit()
    name = f"汇总报告-{report.id}-第{report.next_number}版-未冻结.xlsx"
    return _xlsx(content, name)


def _xlsx(content: bytes, filename: str, sha256: str | None = None) -> Response:
    response = Response(content, mimetype=XLSX)
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"report.xlsx\"; filename*=UTF-8''{quote(filename)}"
    )
    if sha256:
        response.headers["ETag"] = f'"{sha256}"'
    return response


@bp.route("/<int:report_id>/freeze", methods=["POST"])
@require_roles(Role.COMPILER)
def freeze(report_id: int) -> ResponseReturnValue:
    """Store the draft as the next version."""
    report = _act(report_id)
    try:
        edition = services.freeze(acting_user(), report)
        db.session.commit()
    except ValidationFailed as failure:
        db.session.rollback()
        flash(str(failure), "danger")
    else:
        flash(_("已冻结为第 %(n)d 版（SHA-256 %(h)s…）。", n=edition.number, h=edition.sha256[:12]),
              "success")  # fmt: skip
    return redirect(url_for(".detail", report_id=report_id), 303)


@bp.route("/<int:report_id>/versions/<int:number>.xlsx")
@require_roles(*STAFF_ROLES)
def download(report_id: int, number: int) -> ResponseReturnValue:
    """A frozen version, byte for byte as it was frozen."""
    report = _report_or_404(report_id)
    edition = _version_or_404(report, number)
    write_after_read()
    record("report_download", actor=acting_user(), object_type="report", object_id=report.id,
           number=number, sha256=edition.sha256)  # fmt: skip
    db.session.commit()
    return _xlsx(edition.workbook, edition.filename, edition.sha256)


@bp.route("/<int:report_id>/versions/<int:number>/sent", methods=["POST"])
@require_roles(Role.COMPILER)
def mark_sent(report_id: int, number: int) -> ResponseReturnValue:
    """Record that a version went to the ministry."""
    report = _report_or_404(report_id)
    edition = _version_or_404(report, number)
    form = SentForm()
    if not form.validate_on_submit():
        # The messages are lazy strings (translated when shown); join wants real ones.
        flash(" ".join(str(e) for errors in form.errors.values() for e in errors), "danger")
        return redirect(url_for(".detail", report_id=report_id), 303)
    assert form.sent_on.data is not None  # DataRequired
    try:
        changed = services.mark_sent(
            acting_user(),
            edition,
            sent_on=form.sent_on.data,
            channel=form.channel.data or "",
            document_number=form.document_number.data or "",
        )
        db.session.commit()
    except (ValidationFailed, PermissionDenied) as failure:
        db.session.rollback()
        flash(str(failure), "danger")
    else:
        flash(_("已登记第 %(n)d 版报送，%(m)d 份来源材料标记为“已报部”。", n=number, m=changed),
              "success")  # fmt: skip
    return redirect(url_for(".detail", report_id=report_id), 303)


@bp.route("/<int:report_id>/versions/<int:number>/responses", methods=["GET", "POST"])
@require_roles(*STAFF_ROLES)
def responses(report_id: int, number: int) -> ResponseReturnValue:
    """The ministry's response to each item of a sent version."""
    report = _report_or_404(report_id)
    edition = _version_or_404(report, number)
    status = 200
    error: tuple[str, str] | None = None
    if request.method == "POST":
        if not ActionForm().validate_on_submit():
            abort(400)
        key = request.form.get("item_key", "")[:20]
        raw_day = request.form.get("responded_on", "")
        try:
            day = date.fromisoformat(raw_day)
        except ValueError:
            error = (key, _("请选择日期。"))
            status = 422
        else:
            try:
                services.respond(acting_user(), edition, key,
                                 verdict=request.form.get("verdict", ""),
                                 note=request.form.get("note", ""), responded_on=day)  # fmt: skip
                db.session.commit()
            except (ValidationFailed, PermissionDenied) as failure:
                db.session.rollback()
                error = (key, str(failure))
                status = 422 if isinstance(failure, ValidationFailed) else 403
            else:
                flash(_("已登记部里的意见。"), "success")
                return redirect(url_for(".responses", report_id=report_id, number=number,
                                        _anchor=f"r-{key}"), 303)  # fmt: skip
    answered = {r.item_key: r for r in edition.responses}
    return render_template(
        "reports/responses.html",
        report=report,
        edition=edition,
        answered=answered,
        verdicts=services.VERDICT_LABELS(),
        error=error,
        form_values=request.form if status != 200 else {},
        today=china_today(),
        action_form=ActionForm(),
        can_edit=acting_user().has_role(Role.COMPILER),
    ), status
