"""The auditor's pages (审计管理员): search, export and verify the audit trail. Read-only."""

from __future__ import annotations

from flask import Blueprint, render_template, request, send_file
from flask.typing import ResponseReturnValue

from feedback import ratelimits
from feedback.audit import chain, queries
from feedback.audit.export import write_csv
from feedback.audit.services import record
from feedback.database import write_after_read
from feedback.extensions import db
from feedback.formatting import china_today
from feedback.models import Role
from feedback.paging import int_arg
from feedback.reports.export_views import refused_export
from feedback.security import acting_user, require_roles

bp = Blueprint("audit", __name__, url_prefix="/audit")


@bp.route("/")
@require_roles(Role.AUDITOR)
def index() -> ResponseReturnValue:
    """Filter the audit trail; newest first, a page at a time."""
    filters = queries.AuditFilters.from_args(request.args)
    result = queries.page(filters, before=int_arg("before"))
    return render_template(
        "audit/index.html",
        result=result,
        paged=int_arg("before") is not None,
        **queries.context(filters),
    )


@bp.route("/export.csv")
@require_roles(Role.AUDITOR)
def export() -> ResponseReturnValue:
    """The filtered records as CSV; the export itself is audited (who, filter, rows, SHA-256)."""
    wait = ratelimits.spend_export(acting_user())
    if wait is not None:
        return refused_export(wait)
    filters = queries.AuditFilters.from_args(request.args)
    csv_file = write_csv(filters.statement())
    write_after_read()
    record(
        "audit_export",
        actor=acting_user(),
        filters=filters.as_detail(),
        rows=csv_file.rows,
        sha256=csv_file.sha256,
    )
    db.session.commit()
    return send_file(
        csv_file.file,  # nosemgrep: send-file-of-a-request-value -- our temp file, no path
        mimetype="text/csv; charset=utf-8",
        as_attachment=True,
        download_name=f"审计记录-{china_today():%Y%m%d}.csv",
        max_age=0,
    )


@bp.route("/verify")
@require_roles(Role.AUDITOR)
def verify() -> ResponseReturnValue:
    """Run the chain verifier and show its verdict (audited)."""
    result = chain.verify(db.session)
    write_after_read()
    record(
        "audit_verify",
        actor=acting_user(),
        outcome="success" if result.ok else "failure",
        count=result.count,
        broken_id=result.broken_id,
    )
    db.session.commit()
    return render_template("audit/verify.html", result=result)
