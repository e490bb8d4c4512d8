"""Filing pages: the organisation's submissions, the form, the detail page and its actions."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import BinaryIO, cast

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from feedback.audit import refusals
from feedback.audit.services import record
from feedback.exceptions import (
    Conflict,
    PermissionDenied,
    StaleVersion,
    ValidationFailed,
)
from feedback.extensions import db
from feedback.filing import choices, scanning, services, uploads, workflow
from feedback.filing.forms import NoteForm, SubmissionFormBase, fill_choices, form_class
from feedback.filing.kinds import KINDS, Kind
from feedback.forms import show_errors
from feedback.i18n import gettext as _
from feedback.models import ORG_ROLES, Attachment, Status, Submission, User, utcnow
from feedback.paging import bounded_int, page_arg
from feedback.reports import services as reports
from feedback.security import acting_user, require_roles

bp = Blueprint("filing", __name__, url_prefix="/submissions")
PAGE_SIZE = 25


def _upload_dir() -> Path:
    return Path(current_app.config["UPLOAD_DIR"])


def visible_or_404(submission_id: int) -> Submission:
    """The submission if the acting user may see it (another organisation's is 404)."""
    submission = services.get_visible(acting_user(), submission_id)
    if submission is None:
        refusals.deny_if_exists(Submission, submission_id)
        abort(404)
    return submission


def _prepared_form(kind: Kind, user: User, **kwargs: object) -> SubmissionFormBase:
    form = form_class(kind)(**kwargs)
    fill_choices(
        form,
        plan_items=choices.plan_item_choices(),
        tags=choices.tag_choices(),
        campaigns=choices.open_campaign_choices(user.organisation_id),
    )
    return form


@bp.route("/")
@require_roles(*ORG_ROLES)
def index() -> ResponseReturnValue:
    """The organisation's submissions, filterable by status, kind and campaign, searchable."""
    user = acting_user()
    filters = {k: request.args.get(k, "").strip() for k in ("status", "kind", "campaign", "q")}
    query = services.visible_submissions(user)
    if filters["status"] in set(Status):
        query = query.where(Submission.status == Status(filters["status"]))
    if filters["kind"] in set(Kind):
        query = query.where(Submission.kind == Kind(filters["kind"]))
    if (campaign_id := bounded_int(filters["campaign"])) is not None:
        query = query.where(Submission.campaign_id == campaign_id)
    if filters["q"]:
        pattern = f"%{filters['q']}%"
        query = query.where(
            or_(
                Submission.title.like(pattern),
                Submission.summary.like(pattern),
                Submission.reference.like(pattern),
            )
        )
    page = db.paginate(
        query.order_by(Submission.updated_at.desc(), Submission.id.desc()),
        page=page_arg(),  # Flask-SQLAlchemy's own reading overflows on a 30-digit page
        per_page=PAGE_SIZE,
        error_out=False,
        count=True,
    )
    counts = dict(
        db.session.execute(
            select(Submission.status, func.count())
            .where(Submission.organisation_id == user.organisation_id)
            .group_by(Submission.status)
        ).all()
    )
    return render_template(
        "filing/index.html",
        page=page,
        filters=filters,
        counts=counts,
        campaigns=choices.campaigns_for(user.organisation_id),
    )


@bp.route("/new")
@require_roles(*ORG_ROLES)
def choose_kind() -> ResponseReturnValue:
    """Pick the kind of report to file."""
    kind = request.args.get("kind", "")
    if kind in set(Kind):
        return new(Kind(kind))
    return render_template(
        "filing/choose_kind.html", kinds=KINDS, campaign=request.args.get("campaign", "")
    )


def new(kind: Kind) -> ResponseReturnValue:
    user = acting_user()
    form = _prepared_form(kind, user)
    form.idempotency_key.data = uuid.uuid4().hex
    form.contact_name.data = user.name
    form.contact_phone.data = user.phone or ""
    form.region_code.data = user.organisation.region_code or ""
    campaign = request.args.get("campaign", "")
    form.campaign_id.data = campaign if bounded_int(campaign) is not None else ""
    return render_template("filing/form.html", form=form, submission=None, kind=kind)


@bp.route("/new/<any(experience, problem, suggestion):kind>", methods=["POST"])
@require_roles(*ORG_ROLES)
def create(kind: str) -> ResponseReturnValue:
    """Save a new draft (and submit it, when that button was pressed)."""
    user = acting_user()
    form = _prepared_form(Kind(kind), user)
    if not form.validate_on_submit():
        return render_template("filing/form.html", form=form, submission=None, kind=form.kind), 422
    key = (form.idempotency_key.data or "").strip()[:36] or uuid.uuid4().hex
    return _save(form, None, key)


@bp.route("/<int:submission_id>/edit", methods=["GET", "POST"])
@require_roles(*ORG_ROLES)
def edit(submission_id: int) -> ResponseReturnValue:
    """Edit a draft or a submission returned for revision."""
    submission = visible_or_404(submission_id)
    user = acting_user()
    if not submission.is_editable:
        message = _(
            "该材料当前状态为“%(s)s”，不能再修改（可能已由同事提交或撤回）。",
            s=workflow.STATUS_LABELS[submission.status],
        )
        if request.method == "GET":
            flash(message, "warning")
            return redirect(url_for("filing.detail", submission_id=submission.id))
        # Somebody changed its status while this form was open: give the text back.
        form = _prepared_form(submission.kind, user)
        form.validate_on_submit()
        form.form_errors.append(message + _("您填写的内容仍在下方，请复制保存。"))
        return _form_again(form, submission, 409)
    form = _prepared_form(
        submission.kind, user, obj=submission if request.method == "GET" else None
    )
    if request.method == "GET":
        _fill_from(form, submission)
        return render_template(
            "filing/form.html", form=form, submission=submission, kind=submission.kind
        )
    if not form.validate_on_submit():
        return render_template(
            "filing/form.html", form=form, submission=submission, kind=submission.kind
        ), 422
    return _save(form, submission, submission.idempotency_key)


def _fill_from(form: SubmissionFormBase, submission: Submission) -> None:
    form.version.data = str(submission.version)
    form.plan_item_ids.data = [item.id for item in submission.plan_items]
    form.tag_ids.data = [tag.id for tag in submission.tags]
    form.campaign_id.data = str(submission.campaign_id or "")
    form.sensitivity.data = submission.sensitivity.value
    for key, text in submission.sections.items():
        if key in form:
            form[key].data = text


def _save(form: SubmissionFormBase, submission: Submission | None, key: str) -> ResponseReturnValue:
    """Save the draft and its files in one transaction, then submit if that button was pressed.

    The text is saved before the quality rules are applied, so nothing typed is ever lost; on
    any error the form comes back with the person's text and the reasons next to the fields.
    """
    user = acting_user()
    try:
        files = _receive_files()
    except uploads.UploadRejected as rejected:
        scanning.audit_rejection(rejected, user)
        form.attachments.errors = [rejected.message]
        return _form_again(form, submission, 422)
    stored: list[str] = []
    try:
        if submission is None:
            sent = services.find_by_key(user, key)
            if sent is not None and not sent.is_editable:
                # The same form was sent twice (double click, resend): show the first result.
                _discard(files)
                return redirect(url_for("filing.detail", submission_id=sent.id), 303)
            submission = services.save_from_form(user, form.to_input(), key, _version(form))
        else:
            services.update_draft(user, submission, form.to_input(), _version(form))
            # A save by the button (autosaves, every 30 s while typing, are not audited).
            record("submission_update", actor=user, object_type="submission",
                   object_id=submission.id)  # fmt: skip
        if files:
            stored = services.add_attachments(user, submission, files, _upload_dir())
        services.commit_with_files(_upload_dir(), stored)
    except IntegrityError:
        # Two copies of the same form raced (double click on PostgreSQL): the first one won.
        db.session.rollback()
        _discard(files)
        first = services.find_by_key(user, key)
        if first is None:
            raise
        return redirect(url_for("filing.detail", submission_id=first.id), 303)
    except (StaleVersion, StaleDataError):
        db.session.rollback()
        _discard(files)
        form.form_errors.append(
            _(
                "这份材料已在其他页面或由他人保存过更新的内容。您填写的内容仍在下方，"
                "请复制保存后刷新页面，在最新版本上修改。"
            )
        )
        return _form_again(form, submission, 409)
    except ValidationFailed as failure:
        db.session.rollback()
        _discard(files)
        if isinstance(failure, services.QuotaExceeded):
            services.record_quota_refusal(user, failure)
            db.session.commit()
        show_errors(form, failure)
        return _form_again(form, submission, 422)
    except (Conflict, PermissionDenied) as error:
        db.session.rollback()
        _discard(files)
        form.form_errors.append(str(error))
        return _form_again(form, submission, 409)
    if request.form.get("action") == "submit":
        return _submit_saved(form, submission)
    flash(_("草稿已保存。"), "success")
    return redirect(url_for("filing.edit", submission_id=submission.id), 303)


def _version(form: SubmissionFormBase) -> int | None:
    """The version the form was loaded with; junk counts as stale (never a 500)."""
    raw = (form.version.data or "").strip()
    if not raw:
        return None
    version = bounded_int(raw)
    return -1 if version is None else version


def _submit_saved(form: SubmissionFormBase, submission: Submission) -> ResponseReturnValue:
    try:
        services.submit(acting_user(), submission)
        db.session.commit()
    except ValidationFailed as failure:
        db.session.rollback()
        form.version.data = str(submission.version)
        show_errors(form, failure)
        form.form_errors.insert(0, _("草稿已保存，但还不能提交，请补充以下内容："))
        return _form_again(form, submission, 422)
    except (Conflict, PermissionDenied) as error:
        db.session.rollback()
        flash(str(error), "danger")
        return redirect(url_for("filing.detail", submission_id=submission.id), 303)
    flash(
        _("已提交联合会。")
        if submission.status == Status.SUBMITTED
        else _("已提交单位负责人审核。"),
        "success",
    )
    return redirect(url_for("filing.detail", submission_id=submission.id), 303)


def _form_again(
    form: SubmissionFormBase, submission: Submission | None, status: int
) -> ResponseReturnValue:
    return render_template(
        "filing/form.html", form=form, submission=submission, kind=form.kind
    ), status


def _receive_files() -> list[uploads.CheckedFile]:
    max_bytes = int(current_app.config["ATTACHMENT_MAX_BYTES"])
    temp_dir = _upload_dir() / ".tmp"
    storages = [s for s in request.files.getlist("attachments") if s and s.filename]
    if len(storages) > services.MAX_ATTACHMENTS:
        # Refused before any is read: otherwise one request of hundreds of small files would
        # have each copied to disk and its content checked, only to be refused by the count.
        raise uploads.UploadRejected(_("每份材料最多 %(n)d 个附件。", n=services.MAX_ATTACHMENTS))
    received: list[uploads.CheckedFile] = []
    try:
        for storage in storages:
            received.append(
                uploads.receive_upload(
                    cast(BinaryIO, storage.stream),
                    storage.filename or "",  # never empty: filtered above
                    temp_dir=temp_dir,
                    max_bytes=max_bytes,
                )
            )
    except uploads.UploadRejected:
        _discard(received)
        raise
    return received


def _discard(files: list[uploads.CheckedFile]) -> None:
    for checked in files:
        uploads.discard(checked)


@bp.route("/autosave", methods=["POST"])
@require_roles(*ORG_ROLES)
def autosave() -> ResponseReturnValue:
    """Save the form's text as a draft without checks (every 30 s and on leaving a field)."""
    user = acting_user()
    kind = request.form.get("kind", "")
    submission_id = bounded_int(request.form.get("submission_id", ""))
    if kind not in set(Kind):
        abort(400)
    form = _prepared_form(Kind(kind), user)
    if not form.validate() and form.sensitivity.errors:
        return jsonify(error="invalid", message=_("使用范围的取值无效。")), 422
    try:
        if submission_id is not None:
            submission = visible_or_404(submission_id)
            services.update_draft(user, submission, form.to_input(), _version(form))
        else:
            key = (form.idempotency_key.data or "")[:36]
            if not key:
                abort(400)
            # A retry whose first answer was lost finds its draft by key and still saves.
            submission = services.save_from_form(user, form.to_input(), key, _version(form))
        db.session.commit()
    except (StaleVersion, StaleDataError):
        db.session.rollback()
        return jsonify(
            error="stale",
            message=_(
                "这份材料已在其他页面保存过更新的内容，本页不再自动保存。请复制您的修改，刷新后再编辑。"
            ),
        ), 409
    except IntegrityError:
        db.session.rollback()
        return jsonify(error="retry", message=_("正在保存，请稍候。")), 409
    except (ValidationFailed, Conflict) as error:
        db.session.rollback()
        return jsonify(error="invalid", message=str(error)), 422
    return jsonify(
        id=submission.id,
        version=submission.version,
        edit_url=url_for("filing.edit", submission_id=submission.id),
        saved_at=utcnow().isoformat(),
    )


@bp.route("/<int:submission_id>")
def detail(submission_id: int) -> ResponseReturnValue:
    """A submission with its history, revisions, messages and next steps."""
    submission = visible_or_404(submission_id)
    user = acting_user()
    if user.organisation_id != submission.organisation_id:
        return redirect(url_for("review.detail", submission_id=submission.id))
    # Past the redirect only the submitting organisation remains (visible_submissions).
    return render_template(
        "filing/detail.html",
        submission=submission,
        actions=workflow.allowed_actions(user, submission),
        revisions=services.revisions(submission),
        events=services.organisation_events(submission),
        responses=reports.responses_for(submission),
        verdicts=reports.VERDICT_LABELS(),
        note_form=NoteForm(),
        problems=services.submission_problems(submission) if submission.is_editable else {},
        internal_return=_last_internal_return(submission),
    )


def _last_internal_return(submission: Submission) -> str | None:
    """The approver's note when the draft came back from internal approval."""
    last = next((e for e in reversed(submission.events) if e.to_status is not None), None)
    if submission.status == Status.DRAFT and last is not None and last.action == "return_internal":
        return last.note
    return None


@bp.route("/<int:submission_id>/<any(approve, return_internal, withdraw):action>", methods=["POST"])
@require_roles(*ORG_ROLES)
def act(submission_id: int, action: str) -> ResponseReturnValue:
    """The organisation's steps: approve, return internally, withdraw."""
    submission = visible_or_404(submission_id)
    user = acting_user()
    form = NoteForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        if action == "approve":
            services.approve(user, submission, form.note.data or "")
            message = _("已审核通过，材料已报送联合会。")
        elif action == "return_internal":
            services.return_internally(user, submission, form.note.data or "")
            message = _("已退回填报人修改。")
        else:
            services.withdraw(user, submission)
            message = _("已撤回。")
        db.session.commit()
    except ValidationFailed as failure:
        db.session.rollback()
        flash(str(failure), "danger")
        return redirect(url_for("filing.detail", submission_id=submission_id))
    except (Conflict, PermissionDenied) as error:
        db.session.rollback()
        flash(str(error), "danger")
        return redirect(url_for("filing.detail", submission_id=submission_id), 303)
    flash(message, "success")
    return redirect(url_for("filing.detail", submission_id=submission_id), 303)


@bp.route("/<int:submission_id>/revisions/<int:number>")
def revision(submission_id: int, number: int) -> ResponseReturnValue:
    """What the submission said in an earlier revision."""
    submission = visible_or_404(submission_id)
    found = next((r for r in services.revisions(submission) if r.number == number), None)
    if found is None:
        abort(404)
    return render_template("filing/revision.html", submission=submission, revision=found)


def _attachment_or_404(submission_id: int, attachment_id: int) -> Attachment:
    submission = visible_or_404(submission_id)
    own = acting_user().organisation_id == submission.organisation_id
    files = submission.attachments if own else services.federation_attachments(submission)
    attachment = next((a for a in files if a.id == attachment_id), None)
    if attachment is None:
        refusals.deny_if_exists(Attachment, attachment_id)
        abort(404)
    return attachment


@bp.route("/<int:submission_id>/attachments/<int:attachment_id>")
def download(submission_id: int, attachment_id: int) -> ResponseReturnValue:
    """Download an attachment (only for people who may see the submission)."""
    attachment = _attachment_or_404(submission_id, attachment_id)
    path = uploads.stored_path(_upload_dir(), attachment.stored_name)
    media_type, name = attachment.media_type, attachment.original_name
    services.audit_download(acting_user(), attachment, via="web")
    response = send_file(path, mimetype=media_type, as_attachment=True, download_name=name,
                         max_age=0)  # fmt: skip
    response.headers["Content-Security-Policy"] = "sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/<int:submission_id>/attachments/<int:attachment_id>/delete", methods=["POST"])
@require_roles(*ORG_ROLES)
def delete_attachment(submission_id: int, attachment_id: int) -> ResponseReturnValue:
    """Remove an attachment from a draft."""
    attachment = _attachment_or_404(submission_id, attachment_id)
    if not NoteForm().validate_on_submit():
        abort(400)
    try:
        stored = services.remove_attachment(acting_user(), attachment)
        db.session.commit()
    except (Conflict, PermissionDenied) as error:
        db.session.rollback()
        flash(str(error), "danger")
    else:
        uploads.remove_stored(_upload_dir(), stored)
        flash(_("附件已删除。"), "success")
    return redirect(url_for("filing.edit", submission_id=submission_id))
