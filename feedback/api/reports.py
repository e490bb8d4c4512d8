"""Reports and exports through the API: the compiler's steps and the staff's downloads."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import quote, urlencode

from flask import Response, url_for
from sqlalchemy import select

from feedback import ratelimits
from feedback.api import schemas as s
from feedback.api.core import api_user, operation
from feedback.api.problems import ApiError
from feedback.api.submissions import filters_of
from feedback.audit.services import record
from feedback.consolidation import services as consolidation
from feedback.exceptions import PermissionDenied
from feedback.extensions import db
from feedback.i18n import gettext as _
from feedback.models import ConsolidatedSuggestion, Report, ReportVersion, Scope, utcnow
from feedback.reports import exports, services

TAG = "reports"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"


def _report_out(report: Report) -> s.ReportOut:
    return s.ReportOut(
        id=report.id,
        title=report.title,
        period_label=report.period_label,
        period_start=report.period_start,
        period_end=report.period_end,
        campaign_id=report.campaign_id,
        issuer=report.issuer,
        item_count=len(report.items),
        version=report.version,
        versions=[_version_out(e) for e in report.editions],
        created_at=report.created_at,
        updated_at=report.updated_at,
    )


def _version_out(edition: ReportVersion) -> s.ReportVersionOut:
    return s.ReportVersionOut(
        number=edition.number,
        frozen_at=edition.frozen_at,
        filename=edition.filename,
        sha256=edition.sha256,
        size=edition.size,
        sent_on=edition.sent_on,
    )


def _report_or_404(report_id: int) -> Report:
    services.require_staff(api_user())
    report = db.session.get(Report, report_id)
    if report is None:
        raise ApiError(404, _("报告不存在。"))
    return report


def _disposition(name: str) -> str:
    fallback = "download." + name.rsplit(".", 1)[-1]
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}"


@operation("/reports", "GET", summary="汇总报告", tag=TAG, scope=Scope.READ, response=s.ReportList)
def list_reports() -> s.ReportList:
    """Every report, newest first (federation staff)."""
    services.require_staff(api_user())
    return s.ReportList(items=[_report_out(r) for r in services.listing()])


@operation(
    "/reports",
    "POST",
    summary="新建汇总报告",
    tag=TAG,
    scope=Scope.COMPILE,
    status=201,
    body=s.ReportIn,
    response=s.ReportOut,
)
def create_report(body: s.ReportIn) -> s.ReportOut:
    """Start a report draft (compilers)."""
    data = services.ReportInput(
        title=body.title,
        period_label=body.period_label,
        period_start=body.period_start,
        period_end=body.period_end,
        campaign_id=body.campaign_id,
        issuer=body.issuer or services.ISSUER,
    )
    report = services.create(api_user(), data)
    db.session.commit()
    return _report_out(report)


@operation(
    "/reports/<int:report_id>/items",
    "POST",
    summary="向报告加入条目",
    tag=TAG,
    scope=Scope.COMPILE,
    body=s.ReportItemsIn,
    response=s.AddItemsOut,
)
def add_report_items(report_id: int, body: s.ReportItemsIn) -> s.AddItemsOut:
    """Add accepted submissions and consolidated suggestions at the end of the draft."""
    user = api_user()
    services.require_compiler(user)
    report = _report_or_404(report_id)
    submissions = consolidation.sources_by_id(user, body.submission_ids)
    suggestions = list(
        db.session.scalars(
            select(ConsolidatedSuggestion).where(
                ConsolidatedSuggestion.id.in_(body.consolidated_ids)
            )
        )
    )
    unknown = sorted(set(body.submission_ids) - {x.id for x in submissions})
    unknown_c = sorted(set(body.consolidated_ids) - {x.id for x in suggestions})
    if unknown or unknown_c:
        errors = {}
        if unknown:
            errors["submission_ids"] = [_("不存在或不可见：%(ids)s", ids=unknown)]
        if unknown_c:
            errors["consolidated_ids"] = [_("不存在：%(ids)s", ids=unknown_c)]
        raise ApiError(422, _("部分条目不存在。"), errors=errors)
    result = services.add_items(user, report, submissions=submissions, suggestions=suggestions)
    db.session.commit()
    return s.AddItemsOut(
        added=result.added,
        already=result.already,
        refused=result.refused,
        report=_report_out(report),
    )


@operation(
    "/reports/<int:report_id>/freeze",
    "POST",
    summary="冻结为新版本",
    tag=TAG,
    scope=Scope.COMPILE,
    status=201,
    response=s.ReportVersionOut,
    extra_statuses=(409,),
)
def freeze_report(report_id: int) -> s.ReportVersionOut:
    """Store the draft's workbook as the next numbered version, byte for byte."""
    user = api_user()
    services.require_compiler(user)
    edition = services.freeze(user, _report_or_404(report_id))
    db.session.commit()
    return _version_out(edition)


@operation(
    "/reports/<int:report_id>/versions/<int:number>/workbook",
    "GET",
    summary="下载冻结版本的工作簿",
    tag=TAG,
    scope=Scope.READ,
    files=(XLSX,),
)
def report_workbook(report_id: int, number: int) -> Response:
    """A frozen version's .xlsx, byte-identical to what was frozen (SHA-256 in a header)."""
    report = _report_or_404(report_id)
    edition = services.get_version(report, number)
    if edition is None:
        raise ApiError(404, _("该版本不存在。"))
    record(
        "report_download",
        actor=api_user(),
        object_type="report",
        object_id=report.id,
        number=number,
        sha256=edition.sha256,
    )
    db.session.commit()
    response = Response(edition.workbook, mimetype=XLSX)
    response.headers["Content-Disposition"] = _disposition(edition.filename)
    response.headers["X-Content-SHA256"] = edition.sha256
    return response


def _export(query: s.ExportQuery, file_format: str) -> Response:
    user = api_user()
    if not user.is_staff:
        raise PermissionDenied(_("只有联合会工作人员可以导出材料。"))
    filters = filters_of(query)
    statement = exports.query_for(filters, user)
    total = exports.count(statement)
    if total > exports.DIRECT_LIMIT:
        # Big exports run as background jobs in the web UI; the API does not hold a request
        # open for minutes, nor keep files for tokens (see docs/api.md).
        args: dict[str, Any] = filters.to_args()
        web = url_for("exports.new", **args)
        raise ApiError(
            413,
            _(
                "符合条件的材料有 %(n)d 份，超过接口直接导出的上限 %(limit)d 份。"
                "请缩小筛选范围，或在网页“导出”中生成后台导出任务：%(url)s",
                n=total,
                limit=exports.DIRECT_LIMIT,
                url=web,
            ),
            kind="export-too-large",
        )
    wait = ratelimits.spend_export(user)
    if wait is not None:
        raise ApiError(
            429,
            ratelimits.export_refusal(wait),
            kind="rate-limited",
            headers={"Retry-After": str(wait)},
        )
    record(
        "export",
        actor=user,
        object_type="export",
        object_id=None,
        rows=total,
        query=urlencode(filters.to_args()),
        format=file_format,
        via="api",
    )
    db.session.commit()
    buffer = io.BytesIO()
    exports.write(buffer, file_format, statement, exports.chosen(query.columns))
    response = Response(buffer.getvalue(), mimetype=XLSX if file_format == "xlsx" else CSV)
    response.headers["Content-Disposition"] = _disposition(exports.filename(file_format, utcnow()))
    return response


@operation(
    "/exports/submissions.xlsx",
    "GET",
    summary="导出材料（Excel）",
    tag=TAG,
    scope=Scope.READ,
    query=s.ExportQuery,
    files=(XLSX,),
    extra_statuses=(413,),
)
def export_xlsx(query: s.ExportQuery) -> Response:
    """The filtered submissions as a formula-safe workbook (at most 5,000 rows)."""
    return _export(query, "xlsx")


@operation(
    "/exports/submissions.csv",
    "GET",
    summary="导出材料（CSV）",
    tag=TAG,
    scope=Scope.READ,
    query=s.ExportQuery,
    files=(CSV,),
    extra_statuses=(413,),
)
def export_csv(query: s.ExportQuery) -> Response:
    """The filtered submissions as CSV (UTF-8 with BOM, every field quoted; at most 5,000)."""
    return _export(query, "csv")
