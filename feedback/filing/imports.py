"""Bulk filing from the Excel template: download, upload, preview, confirm (all or nothing)."""

from __future__ import annotations

import json
import logging
import secrets
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, cast
from urllib.parse import quote

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlalchemy import ColumnElement, select, update

from feedback import jobs
from feedback.admin.forms import ActionForm
from feedback.audit import refusals
from feedback.database import write_after_read
from feedback.exceptions import DomainError, ValidationFailed
from feedback.extensions import db
from feedback.filing import scanning, services, spreadsheet, uploads, workflow
from feedback.filing.kinds import KINDS, Kind
from feedback.i18n import gettext as _
from feedback.i18n import lazy_gettext as _l
from feedback.models import ORG_ROLES, ImportBatch, Submission, Tag, User, utcnow
from feedback.review import similarity
from feedback.security import acting_user, require_roles
from feedback.taxonomy.services import plan_tree

log = logging.getLogger(__name__)

bp = Blueprint("imports", __name__, url_prefix="/submissions/import")


def _upload_dir() -> Path:
    return Path(current_app.config["UPLOAD_DIR"])


def _vocabulary() -> tuple[dict[str, int], dict[str, int]]:
    plan = {item.code: item.id for item in plan_tree(active_only=True)}
    tags = {
        name: tag_id
        for tag_id, name in db.session.execute(select(Tag.id, Tag.name).where(Tag.active)).all()
    }
    return plan, tags


def _parse(batch: ImportBatch) -> spreadsheet.ImportResult:
    plan, tags = _vocabulary()
    path = uploads.stored_path(_upload_dir(), batch.stored_name)
    return spreadsheet.parse_import(
        path,
        batch.original_name,
        kind=Kind(batch.kind),
        known_plan_codes=set(plan),
        known_tags=set(tags),
        max_bytes=int(current_app.config["IMPORT_MAX_BYTES"]),
    )


@bp.route("/")
@require_roles(*ORG_ROLES)
def start() -> ResponseReturnValue:
    """Download a template, upload a filled one."""
    return render_template(
        "filing/import_start.html",
        action_form=ActionForm(),
        chosen_kind=request.args.get("kind", ""),
    )


@bp.route("/template/<any(experience, problem, suggestion):kind>.xlsx")
@require_roles(*ORG_ROLES)
def template(kind: str) -> ResponseReturnValue:
    """The empty template for one kind, with drop-downs of the current vocabulary."""
    items = [(item.code, item.name) for item in plan_tree(active_only=True)]
    tags = [
        name for name in db.session.scalars(select(Tag.name).where(Tag.active).order_by(Tag.id))
    ]
    data = spreadsheet.build_template(Kind(kind), plan_items=items, tags=tags)
    name = f"{KINDS[Kind(kind)].label}导入模板.xlsx"
    response = Response(data, mimetype=uploads.ALLOWED_TYPES["xlsx"])
    response.headers["Content-Disposition"] = (
        f"attachment; filename=template-{kind}.xlsx; filename*=UTF-8''{quote(name)}"
    )
    return response


@bp.route("/", methods=["POST"])
@require_roles(*ORG_ROLES)
def upload() -> ResponseReturnValue:
    """Check every row of the uploaded file and show what would be imported."""
    user = acting_user()
    kind = request.form.get("kind", "")
    storage = request.files.get("file")
    if not ActionForm().validate_on_submit() or kind not in set(Kind):
        abort(400)
    if storage is None or not storage.filename:
        flash(_("请选择要导入的 Excel 文件。"), "danger")
        return redirect(url_for("imports.start"))
    try:
        checked = uploads.receive_upload(
            cast(BinaryIO, storage.stream),
            storage.filename,
            temp_dir=_upload_dir() / ".tmp",
            max_bytes=int(current_app.config["IMPORT_MAX_BYTES"]),
        )
    except uploads.UploadRejected as rejected:
        scanning.audit_rejection(rejected, user)
        flash(rejected.message, "danger")
        return redirect(url_for("imports.start"))
    if checked.extension != "xlsx":
        uploads.discard(checked)
        flash(_("请上传从本系统下载的 .xlsx 模板。"), "danger")
        return redirect(url_for("imports.start"))
    stored = uploads.store(checked, _upload_dir())
    batch = ImportBatch(
        token=secrets.token_hex(16),
        user_id=user.id,
        organisation_id=user.organisation_id,
        kind=kind,
        original_name=checked.original_name,
        stored_name=stored,
    )
    db.session.add(batch)
    services.commit_with_files(_upload_dir(), [stored])
    return redirect(url_for("imports.preview", token=batch.token), 303)


def _own_batch(token: str, user: User) -> ImportBatch:
    batch = db.session.scalars(select(ImportBatch).where(ImportBatch.token == token)).one_or_none()
    if batch is None or batch.user_id != user.id:
        if batch is not None:
            refusals.deny_existing("import", batch.id)
        abort(404)
    return batch


@bp.route("/<token>")
@require_roles(*ORG_ROLES)
def preview(token: str) -> ResponseReturnValue:
    """Each row's problems in Chinese, and the rows that are fine."""
    batch = _own_batch(token, acting_user())
    _mark_if_interrupted(batch)
    if batch.status == "imported":
        return render_template(
            "filing/import_done.html", batch=batch, summary=json.loads(batch.result_summary or "{}")
        )
    if batch.in_progress:
        return render_template("filing/import_progress.html", batch=batch)
    result = _parse(batch)
    return render_template(
        "filing/import_preview.html",
        batch=batch,
        result=result,
        kind_spec=KINDS[Kind(batch.kind)],
        action_form=ActionForm(),
    )


INTERRUPTED = _l("导入被中断（后台进程已停止），未保存任何材料。请重新确认导入。")
UNAVAILABLE = _l("后台任务队列暂时不可用，未导入任何材料。请稍后重新确认导入。")
FAILED = _l("导入失败，未保存任何材料。请稍后重新确认导入；问题持续时请联系系统管理员。")
_CONFIRMABLE = ("preview", "failed")


@bp.route("/<token>/progress")
@require_roles(*ORG_ROLES)
def progress(token: str) -> ResponseReturnValue:
    """The import job's state as JSON (polled by the progress page)."""
    batch = _own_batch(token, acting_user())
    _mark_if_interrupted(batch)
    return jsonify(batch.describe())


def _mark_if_interrupted(batch: ImportBatch) -> None:
    """A queued or running import whose heartbeat stopped died with its process: it saved
    nothing (one transaction), so it is marked failed and may be confirmed again."""
    now = utcnow()
    if not batch.in_progress or not jobs.is_stale(batch.heartbeat_at, now):
        return
    write_after_read()
    db.session.execute(
        update(ImportBatch)
        .where(ImportBatch.id == batch.id, _stale(now))
        .values(status="failed", error=str(INTERRUPTED))
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    db.session.refresh(batch)


def _stale(now: datetime) -> ColumnElement[bool]:
    return jobs.stale_condition(
        ImportBatch.status, ("queued", "running"), ImportBatch.heartbeat_at, now
    )


@bp.route("/<token>/confirm", methods=["POST"])
@require_roles(*ORG_ROLES)
def confirm(token: str) -> ResponseReturnValue:
    """Create every row as a draft (or submit them) in one transaction: all or nothing. A large
    file is handed to a background job and the preview page shows its progress."""
    user = acting_user()
    batch = _own_batch(token, user)
    if not ActionForm().validate_on_submit():
        abort(400)
    if batch.status not in _CONFIRMABLE:
        return redirect(url_for("imports.preview", token=token), 303)
    result = _parse(batch)
    if not result.is_clean or not result.rows:
        flash(_("文件中仍有问题，未导入任何材料。请修改后重新上传。"), "danger")
        return redirect(url_for("imports.preview", token=token), 303)
    submit = request.form.get("then") == "submit"
    if len(result.rows) >= int(current_app.config["IMPORT_JOB_FROM_ROWS"]):
        return _start_job(batch, len(result.rows), submit)
    try:
        created = _import(user, batch, result.rows, submit)
    except DomainError as error:
        db.session.rollback()
        flash(_("导入未完成，未保存任何材料：%(d)s", d=_detail(error)), "danger")
        return redirect(url_for("imports.preview", token=token), 303)
    db.session.commit()
    _after_import(batch)
    flash(_("已导入 %(n)d 份材料。", n=len(created)), "success")
    return redirect(url_for("imports.preview", token=token), 303)


def _detail(error: DomainError) -> str:
    if isinstance(error, ValidationFailed):
        return "；".join(m for ms in error.errors.values() for m in ms)
    return str(error)


def _import(
    user: User, batch: ImportBatch, rows: list[spreadsheet.ImportRow], submit: bool
) -> list[Submission]:
    """Write the rows and mark the batch imported, in the session's transaction (the caller
    commits, or rolls back on a :class:`DomainError`)."""
    plan, tags = _vocabulary()
    # Similarity per row dominated the confirm (≈ 0.3 s a row at 30k submissions): it runs
    # after the commit, as a background job, for all the rows at once.
    with similarity.deferred(db.session):
        created = _create_rows(user, batch, rows, plan, tags, submit)
    batch.status = "imported"
    batch.error = None
    batch.result_summary = json.dumps(
        {
            "count": len(created),
            "submitted": submit,
            "ids": [s.id for s in created],
            "references": [s.reference for s in created],
        },
        ensure_ascii=False,
    )
    return created


def _after_import(batch: ImportBatch) -> None:
    """Once committed: the similarity job, and the uploaded file is no longer needed."""
    try:
        jobs.enqueue("feedback.review.similarity.update_missing")
    except jobs.QueueUnavailable:  # the rows are saved; the next job (or a rebuild) fills them in
        log.warning("similarity of import %s left for the next job", batch.token)
    uploads.remove_stored(_upload_dir(), batch.stored_name)


def _start_job(batch: ImportBatch, rows: int, submit: bool) -> ResponseReturnValue:
    """Claim the batch for a job (a conditional UPDATE: a second confirm, from another tab or
    host, finds it taken) and queue the job; the preview page then shows its progress."""
    claimed = db.session.execute(
        update(ImportBatch)
        .where(ImportBatch.id == batch.id, ImportBatch.status.in_(_CONFIRMABLE))
        .values(
            status="queued",
            submit_rows=submit,
            rows_total=rows,
            error=None,
            started_at=None,
            heartbeat_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if getattr(claimed, "rowcount", 0):
        try:
            jobs.enqueue("feedback.filing.imports.run_import", batch.id)
        except jobs.QueueUnavailable:
            _fail(batch.id, str(UNAVAILABLE), ("queued",))
    return redirect(url_for("imports.preview", token=batch.token), 303)


def _fail(batch_id: int, message: str, statuses: tuple[str, ...] = ("running",)) -> None:
    """Mark the batch failed (nothing was saved), unless it moved on meanwhile."""
    db.session.rollback()
    db.session.execute(
        update(ImportBatch)
        .where(ImportBatch.id == batch_id, ImportBatch.status.in_(statuses))
        .values(status="failed", error=message)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _claim(batch_id: int) -> bool:
    """Take a queued (or interrupted) batch for this process (see :func:`feedback.jobs.claim`),
    so a job delivered twice imports once."""
    now = utcnow()
    return jobs.claim(
        ImportBatch, batch_id, "queued", _stale(now),
        status="running", started_at=now, heartbeat_at=now,
    )  # fmt: skip


def run_import(batch_id: int) -> None:
    """The background job of a confirmed batch: check the file again, write every row in one
    transaction with the batch marked imported, or mark it failed with a message (nothing
    saved; the user may confirm again). Safe to deliver twice (see :func:`_claim`)."""
    if not _claim(batch_id):
        log.info("import %s: already taken or finished, nothing to do", batch_id)
        return
    try:
        batch = db.session.get_one(ImportBatch, batch_id)
        user = db.session.get_one(User, batch.user_id)
        result = _parse(batch)
        if not result.is_clean or not result.rows:
            _fail(batch_id, _("文件中仍有问题，未导入任何材料。请修改后重新上传。"))
            return
        try:
            _import(user, batch, result.rows, batch.submit_rows)
            db.session.commit()
        except DomainError as error:
            _fail(batch_id, _("导入未完成，未保存任何材料：%(d)s", d=_detail(error)))
            return
        _after_import(batch)
    except Exception:
        log.exception("import %s failed", batch_id)
        _fail(batch_id, str(FAILED))
    finally:
        db.session.remove()


def _input(
    kind: Kind, row: spreadsheet.ImportRow, plan: dict[str, int], tags: dict[str, int]
) -> services.SubmissionInput:
    values = row.values
    return services.SubmissionInput(
        kind=kind,
        title=values["title"],
        summary=values["summary"],
        sections=values["sections"],
        plan_item_ids=[plan[c] for c in values["plan_codes"]],
        tag_ids=[tags[t] for t in values["tag_names"]],
        region_code=values["region_code"],
        sector=values.get("sector"),
        contact_name=values["contact_name"],
        contact_phone=values["contact_phone"],
        sensitivity=values["sensitivity"],
    )


def _create_rows(
    user: User,
    batch: ImportBatch,
    rows: list[spreadsheet.ImportRow],
    plan: dict[str, int],
    tags: dict[str, int],
    submit: bool,
) -> list[Submission]:
    """Every row as a draft (in bulk: :func:`services.create_drafts`), each with its "imported"
    event, then submitted one by one if asked."""
    kind = Kind(batch.kind)
    created = services.create_drafts(
        user,
        [
            (_input(kind, row, plan, tags), f"import-{batch.token[:20]}-{row.number}")
            for row in rows
        ],
    )
    for submission, row in zip(created, rows, strict=True):
        workflow.record_event(
            submission,
            user,
            "imported",
            note=_("从“%(name)s”第%(row)d行导入", name=batch.original_name, row=row.number),
        )
    if submit:
        for submission, row in zip(created, rows, strict=True):
            try:
                services.submit(user, submission)
            except ValidationFailed as failure:
                raise ValidationFailed(
                    {"": [_("第%(row)d行：", row=row.number) + str(failure)]}
                ) from None
    return created
