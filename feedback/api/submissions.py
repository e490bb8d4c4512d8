"""Submissions through the API: list with the queue's filters, file, edit, send, attach.

Each handler parses, calls the same service as the web page, commits once, and answers with a
schema; the services check every permission (a token acts as its owner).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, BinaryIO, cast

from flask import Response, current_app, request, send_file, url_for
from werkzeug.datastructures import MultiDict

from feedback.api import schemas as s
from feedback.api.core import api_user, operation
from feedback.api.problems import ApiError
from feedback.audit import refusals
from feedback.extensions import db
from feedback.filing import scanning, services, uploads
from feedback.filing.kinds import Kind
from feedback.filing.services import SubmissionInput
from feedback.i18n import gettext as _
from feedback.models import Attachment, Scope, Submission, User
from feedback.paging import bounded_int
from feedback.review import queue

TAG = "submissions"
PAGE_SIZE = queue.PAGE_SIZE


def visible_or_404(submission_id: int) -> Submission:
    """The submission if the token's owner may see it; another organisation's is 404."""
    submission = services.get_visible(api_user(), submission_id)
    if submission is None:
        refusals.deny_if_exists(Submission, submission_id)
        raise ApiError(404, _("材料不存在，或您没有查看它的权限。"))
    return submission


def _attachment_out(a: Attachment) -> s.AttachmentOut:
    return s.AttachmentOut(
        id=a.id,
        original_name=a.original_name,
        media_type=a.media_type,
        size=a.size,
        sha256=a.sha256,
        created_at=a.created_at,
    )


def submission_out(user: User, sub: Submission) -> s.SubmissionOut:
    """A submission as ``user`` may see it: staff see what was sent to them (the kept revision
    while a returned one is being revised), the organisation its live text."""
    own = user.organisation_id == sub.organisation_id
    title, summary, sections = sub.title, sub.summary, sub.sections
    kept = None if own else services.staff_view_of(sub)
    if kept is not None:
        title = kept.snapshot.get("title", title)
        summary = kept.snapshot.get("summary", summary)
        sections = kept.snapshot.get("sections", sections)
    files = sub.attachments if own else services.federation_attachments(sub)
    staff = user.is_staff
    return s.SubmissionOut(
        id=sub.id,
        reference=sub.reference,
        organisation_id=sub.organisation_id,
        organisation_name=sub.organisation.name,
        author_id=sub.author_id,
        campaign_id=sub.campaign_id,
        kind=sub.kind,
        status=sub.status,
        title=title,
        summary=summary,
        sections=sections,
        plan_item_ids=[item.id for item in sub.plan_items],
        tag_ids=[tag.id for tag in sub.tags],
        region_code=sub.region_code,
        sector=sub.sector,
        contact_name=sub.contact_name,
        contact_phone=sub.contact_phone,
        sensitivity=sub.sensitivity,
        anonymous=sub.anonymous,
        version=sub.version,
        revision=sub.revision,
        late=sub.late,
        created_at=sub.created_at,
        updated_at=sub.updated_at,
        submitted_at=sub.submitted_at,
        attachments=[_attachment_out(a) for a in files],
        assignee_id=sub.assignee_id if staff else None,
        priority=sub.priority if staff else None,
        abstract=sub.abstract if staff else None,
        problems=services.submission_problems(sub) if own and sub.is_editable else {},
    )


def filters_of(query: s.SubmissionQuery) -> queue.QueueFilters:
    """The API's parameters as the review queue's filters (one parser for both)."""
    args: MultiDict[str, str] = MultiDict()
    for key, value in (
        ("status", query.status),
        ("kind", query.kind),
        ("org", query.organisation_id),
        ("plan", query.plan_item),
        ("tag", query.tag),
        ("campaign", query.campaign_id),
        ("q", query.q),
        ("from", query.since.isoformat() if query.since else None),
    ):
        if value is not None:
            args[key] = str(value)
    return queue.QueueFilters.from_args(args)


def _page(
    user: User, filters: queue.QueueFilters, cursor: str
) -> tuple[list[Submission], str | None]:
    if user.is_staff:
        found = queue.page(filters, user, cursor)
        return found.rows, found.next_cursor
    # The organisation's own list includes drafts (never sent: no sending date to key on).
    statement = queue.filtered(filters, user).order_by(Submission.id.desc())
    if (before := bounded_int(cursor)) is not None:
        statement = statement.where(Submission.id < before)
    rows = list(db.session.scalars(statement.limit(PAGE_SIZE + 1)))
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return rows, str(rows[-1].id) if more and rows else None


@operation(
    "/submissions",
    "GET",
    summary="列出材料（审核队列的筛选条件，游标分页）",
    tag=TAG,
    scope=Scope.READ,
    query=s.SubmissionQuery,
    response=s.SubmissionPage,
)
def list_submissions(query: s.SubmissionQuery) -> s.SubmissionPage:
    """Submissions the caller may see, newest first, 25 a page; follow ``next`` for more."""
    user = api_user()
    rows, cursor = _page(user, filters_of(query), query.cursor or "")
    following = None
    if cursor is not None:
        args: dict[str, Any] = {k: v for k, v in request.args.items() if k != "cursor"}
        following = url_for("api.list_submissions", **args, cursor=cursor)
    return s.SubmissionPage(items=[submission_out(user, row) for row in rows], next=following)


def _input(body: s.SubmissionWrite, kind: str) -> SubmissionInput:
    return SubmissionInput(
        kind=Kind(kind),
        title=body.title,
        summary=body.summary,
        sections=dict(body.sections),
        plan_item_ids=list(body.plan_item_ids),
        tag_ids=list(body.tag_ids),
        region_code=body.region_code,
        sector=body.sector,
        contact_name=body.contact_name,
        contact_phone=body.contact_phone,
        sensitivity=body.sensitivity,
        anonymous=body.anonymous,
        campaign_id=body.campaign_id,
    )


@operation(
    "/submissions",
    "POST",
    summary="新建草稿",
    tag=TAG,
    scope=Scope.FILE,
    status=201,
    body=s.SubmissionCreate,
    response=s.SubmissionOut,
)
def create_submission(body: s.SubmissionCreate) -> s.SubmissionOut:
    """Create a draft for the caller's organisation; the same ``idempotency_key`` again returns
    the first draft."""
    user = api_user()
    submission = services.create_draft(
        user, _input(body, body.kind), body.idempotency_key or uuid.uuid4().hex
    )
    db.session.commit()
    return submission_out(user, submission)


@operation(
    "/submissions/<int:submission_id>",
    "GET",
    summary="查看一份材料",
    tag=TAG,
    scope=Scope.READ,
    response=s.SubmissionOut,
)
def get_submission(submission_id: int) -> s.SubmissionOut:
    """One submission; another organisation's is 404."""
    return submission_out(api_user(), visible_or_404(submission_id))


@operation(
    "/submissions/<int:submission_id>",
    "PATCH",
    summary="修改草稿或退回的材料",
    tag=TAG,
    scope=Scope.FILE,
    body=s.SubmissionUpdate,
    response=s.SubmissionOut,
    extra_statuses=(409,),
)
def update_submission(submission_id: int, body: s.SubmissionUpdate) -> s.SubmissionOut:
    """Replace the text of a draft or returned submission; a stale ``version`` is 409."""
    user = api_user()
    submission = visible_or_404(submission_id)
    services.update_draft(user, submission, _input(body, body.kind), body.version)
    db.session.commit()
    return submission_out(user, submission)


@operation(
    "/submissions/<int:submission_id>/submit",
    "POST",
    summary="提交（报送联合会或单位负责人审核）",
    tag=TAG,
    scope=Scope.FILE,
    response=s.SubmissionOut,
    extra_statuses=(409,),
)
def submit_submission(submission_id: int) -> s.SubmissionOut:
    """Send a draft, or resubmit a returned one; what is missing comes back as 422 ``errors``."""
    user = api_user()
    submission = visible_or_404(submission_id)
    services.submit(user, submission)
    db.session.commit()
    return submission_out(user, submission)


@operation(
    "/submissions/<int:submission_id>/withdraw",
    "POST",
    summary="撤回（联合会开始审核前）",
    tag=TAG,
    scope=Scope.FILE,
    response=s.SubmissionOut,
    extra_statuses=(409,),
)
def withdraw_submission(submission_id: int) -> s.SubmissionOut:
    """Take a submission back before the federation starts reviewing it."""
    user = api_user()
    submission = visible_or_404(submission_id)
    services.withdraw(user, submission)
    db.session.commit()
    return submission_out(user, submission)


def _upload_dir() -> Path:
    return Path(current_app.config["UPLOAD_DIR"])


def _receive() -> list[uploads.CheckedFile]:
    if request.mimetype != "multipart/form-data":
        raise ApiError(415, _("上传附件须使用 multipart/form-data，文件字段名为 file。"))
    max_bytes = int(current_app.config["ATTACHMENT_MAX_BYTES"])
    received: list[uploads.CheckedFile] = []
    try:
        for storage in request.files.getlist("file"):
            if storage and storage.filename:
                received.append(
                    uploads.receive_upload(
                        cast(BinaryIO, storage.stream),
                        storage.filename,
                        temp_dir=_upload_dir() / ".tmp",
                        max_bytes=max_bytes,
                    )
                )
    except uploads.UploadRejected as rejected:
        for checked in received:
            uploads.discard(checked)
        scanning.audit_rejection(rejected, api_user())
        raise ApiError(422, rejected.message, errors={"file": [rejected.message]}) from None
    if not received:
        raise ApiError(422, _("请在 file 字段中上传文件。"), errors={"file": [_("必填项。")]})
    return received


@operation(
    "/submissions/<int:submission_id>/attachments",
    "POST",
    summary="上传附件（multipart/form-data，字段 file）",
    tag=TAG,
    scope=Scope.FILE,
    status=201,
    response=s.SubmissionOut,
    multipart=True,
    extra_statuses=(409, 413, 415),
)
def upload_attachment(submission_id: int) -> s.SubmissionOut:
    """Add files to a draft; each is checked by content (type, macros, zip bombs) first."""
    user = api_user()
    submission = visible_or_404(submission_id)
    files = _receive()
    try:
        stored = services.add_attachments(user, submission, files, _upload_dir())
    except services.QuotaExceeded as refusal:
        db.session.rollback()
        for checked in files:
            uploads.discard(checked)
        services.record_quota_refusal(user, refusal)
        db.session.commit()
        message = refusal.errors["attachments"][0]
        raise ApiError(422, message, errors={"file": [message]}) from None
    except Exception:
        for checked in files:
            uploads.discard(checked)
        raise
    services.commit_with_files(_upload_dir(), stored)
    return submission_out(user, submission)


@operation(
    "/submissions/<int:submission_id>/attachments/<int:attachment_id>",
    "GET",
    summary="下载附件",
    tag=TAG,
    scope=Scope.READ,
    files=("application/octet-stream",),
)
def download_attachment(submission_id: int, attachment_id: int) -> Response:
    """The file as uploaded (for those who may see the submission)."""
    submission = visible_or_404(submission_id)
    own = api_user().organisation_id == submission.organisation_id
    files = submission.attachments if own else services.federation_attachments(submission)
    attachment = next((a for a in files if a.id == attachment_id), None)
    if attachment is None:
        refusals.deny_if_exists(Attachment, attachment_id)
        raise ApiError(404, _("附件不存在。"))
    path = uploads.stored_path(_upload_dir(), attachment.stored_name)
    media_type, name = attachment.media_type, attachment.original_name
    services.audit_download(api_user(), attachment, via="api")
    response = send_file(path, mimetype=media_type, as_attachment=True, download_name=name,
                         max_age=0)  # fmt: skip
    response.headers["Content-Security-Policy"] = "sandbox"
    return response
