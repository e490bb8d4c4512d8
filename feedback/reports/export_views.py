"""Exporting the queue: choose columns and format, download now or follow a background job."""

from __future__ import annotations

import io
from urllib.parse import quote, urlencode

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask.typing import ResponseReturnValue

from feedback import jobs, ratelimits
from feedback.admin.forms import ActionForm
from feedback.audit import refusals
from feedback.audit.services import record
from feedback.database import write_after_read
from feedback.errors import render_error
from feedback.extensions import db
from feedback.i18n import gettext as _
from feedback.models import STAFF_ROLES, ExportJob, ExportStatus, utcnow
from feedback.reports import exports
from feedback.review import queue
from feedback.security import acting_user, require_roles

bp = Blueprint("exports", __name__, url_prefix="/exports")

MIMETYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


def _attachment(name: str) -> str:
    fallback = "export." + name.rsplit(".", 1)[-1]
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}"


@bp.route("/new", methods=["GET", "POST"])
@require_roles(*STAFF_ROLES)
def new() -> ResponseReturnValue:
    """The export form for the queue's current filter; small exports download at once."""
    user = acting_user()
    source = request.form if request.method == "POST" else request.args
    filters = queue.QueueFilters.from_args(source)
    query = exports.query_for(filters, user)
    total = exports.count(query)
    if request.method == "GET":
        return render_template(
            "exports/new.html",
            filters=filters,
            total=total,
            columns=exports.COLUMNS,
            direct_limit=exports.DIRECT_LIMIT,
            action_form=ActionForm(),
        )
    if not ActionForm().validate_on_submit():
        abort(400)
    file_format = request.form.get("format", "xlsx")
    if file_format not in exports.FORMATS:
        abort(400)
    columns = exports.chosen(request.form.getlist("columns"))
    wait = ratelimits.spend_export(user)
    if wait is not None:
        return refused_export(wait)
    if total > exports.DIRECT_LIMIT:
        job_id = exports.create_job(user, file_format, filters, columns, total).id
        # Committed before it is queued; and not read again in this request: on SQLite that
        # would take the write lock that marking the job failed (queue down) needs.
        db.session.commit()
        _start(job_id)
        return redirect(url_for(".detail", job_id=job_id), 303)
    now = utcnow()
    name = exports.filename(file_format, now)
    # The file is made in this request and kept nowhere: its name is the object.
    record("export", actor=user, object_type="export", object_id=name, rows=total,
           query=urlencode(filters.to_args()), format=file_format)  # fmt: skip
    db.session.commit()
    # Written to memory: at most DIRECT_LIMIT rows (a few MB), so the request can answer with a
    # complete file or a clean error, never half a download.
    buffer = io.BytesIO()
    exports.write(buffer, file_format, query, columns)
    response = Response(buffer.getvalue(), mimetype=MIMETYPES[file_format])
    response.headers["Content-Disposition"] = _attachment(name)
    return response


def refused_export(wait_seconds: int) -> ResponseReturnValue:
    """The 429 page when the person's export allowance is spent (SECURITY.md row 17)."""
    response = make_response(render_error(429, ratelimits.export_refusal(wait_seconds)))
    response.headers["Retry-After"] = str(wait_seconds)
    return response


def _start(job_id: int) -> None:
    try:
        exports.start(job_id)
    except jobs.QueueUnavailable:
        flash(_("后台任务队列暂时不可用，导出未能开始。请稍后重新开始；问题持续时请联系系统管理员。"),
              "danger")  # fmt: skip


@bp.route("/")
@require_roles(*STAFF_ROLES)
def index() -> ResponseReturnValue:
    """The user's exports: when, which filter, how many rows, the file's SHA-256, expiry."""
    exports.mark_interrupted(acting_user())
    return render_template("exports/index.html", jobs=exports.jobs_of(acting_user()),
                           file_of=exports.file_of)  # fmt: skip


def _own_job_or_404(job_id: int) -> ExportJob:
    exports.mark_interrupted(acting_user())
    job = db.session.get(ExportJob, job_id)
    if job is None or job.user_id != acting_user().id:
        if job is not None:
            refusals.deny_existing("export", job_id)
        abort(404)
    return job


@bp.route("/<int:job_id>")
@require_roles(*STAFF_ROLES)
def detail(job_id: int) -> ResponseReturnValue:
    """One export: its progress while it runs, its file when done."""
    job = _own_job_or_404(job_id)
    return render_template("exports/detail.html", job=job, file=exports.file_of(job),
                           action_form=ActionForm())  # fmt: skip


@bp.route("/<int:job_id>/restart", methods=["POST"])
@require_roles(*STAFF_ROLES)
def restart(job_id: int) -> ResponseReturnValue:
    """Start a failed or interrupted export again, with the same filter and columns."""
    job = _own_job_or_404(job_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    if job.status != ExportStatus.FAILED:
        flash(_("这项导出正在进行或已经完成，无需重新开始。"), "info")
        return redirect(url_for(".detail", job_id=job_id), 303)
    exports.restart(job, acting_user())
    db.session.commit()
    _start(job_id)
    return redirect(url_for(".detail", job_id=job_id), 303)


@bp.route("/<int:job_id>/progress")
@require_roles(*STAFF_ROLES)
def progress(job_id: int) -> ResponseReturnValue:
    """The job's state as JSON (polled by the progress page)."""
    return jsonify(_own_job_or_404(job_id).describe())


@bp.route("/<int:job_id>/download")
@require_roles(*STAFF_ROLES)
def download(job_id: int) -> ResponseReturnValue:
    """The finished file, streamed from disk."""
    job = _own_job_or_404(job_id)
    path = exports.file_of(job)
    if path is None:
        flash(_("文件已过期或尚未生成。"), "warning")
        return redirect(url_for(".detail", job_id=job_id), 303)
    write_after_read()
    record("export_download", actor=acting_user(), object_type="export", object_id=job.id,
           sha256=job.sha256)  # fmt: skip
    db.session.commit()

    return send_file(
        path,
        mimetype=MIMETYPES[job.file_format],
        as_attachment=True,
        download_name=job.filename or path.name,
        max_age=0,
        etag=job.sha256 or True,
    )
