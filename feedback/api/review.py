"""Review through the API: status transitions, tags and plan items, comments, similar ones."""

from __future__ import annotations

from feedback.api import schemas as s
from feedback.api.core import api_user, operation, require_scope
from feedback.api.submissions import submission_out, visible_or_404
from feedback.extensions import db
from feedback.filing import services as filing
from feedback.filing.text import clean_text
from feedback.models import Scope, Submission
from feedback.review import services, similarity

TAG = "review"


@operation(
    "/submissions/<int:submission_id>/transitions",
    "POST",
    summary="变更状态（开始审核、退回、采用、不予采用；单位负责人审核通过）",
    tag=TAG,
    scope=Scope.READ,
    body=s.TransitionIn,
    response=s.SubmissionOut,
    extra_statuses=(409,),
    description=(
        "`start_review`、`return`、`accept`、`reject` 需要 review 权限范围（联合会审核人员）；"
        "`approve` 需要 file 权限范围（单位负责人）。`return` 与 `reject` 必须填写 note。"
    ),
)
def transition(submission_id: int, body: s.TransitionIn) -> s.SubmissionOut:
    """Move a submission along its life (DESIGN.md §4); an illegal step is 409."""
    user = api_user()
    require_scope(Scope.FILE if body.action == "approve" else Scope.REVIEW)
    submission = visible_or_404(submission_id)
    note = clean_text(body.note)
    if body.action == "approve":
        filing.approve(user, submission, note)
    else:
        filing.decide(user, submission, body.action, note)
    db.session.commit()
    return submission_out(user, submission)


@operation(
    "/submissions/<int:submission_id>/tags",
    "PUT",
    summary="设置标签（整体替换）",
    tag=TAG,
    scope=Scope.REVIEW,
    body=s.IdsIn,
    response=s.SubmissionOut,
    extra_statuses=(409,),
)
def put_tags(submission_id: int, body: s.IdsIn) -> s.SubmissionOut:
    """Replace the submission's tags (staff); a stale ``version`` is 409."""
    submission = visible_or_404(submission_id)
    _edit(submission, body.version, tags=list(body.ids), items=None)
    return submission_out(api_user(), submission)


@operation(
    "/submissions/<int:submission_id>/plan-items",
    "PUT",
    summary="设置关联的规划条目（整体替换）",
    tag=TAG,
    scope=Scope.REVIEW,
    body=s.IdsIn,
    response=s.SubmissionOut,
    extra_statuses=(409,),
)
def put_plan_items(submission_id: int, body: s.IdsIn) -> s.SubmissionOut:
    """Replace the plan items the submission is linked to (staff); at least one."""
    submission = visible_or_404(submission_id)
    _edit(submission, body.version, tags=None, items=list(body.ids))
    return submission_out(api_user(), submission)


def _edit(
    submission: Submission, version: int, *, tags: list[int] | None, items: list[int] | None
) -> None:
    data = services.StaffEdit(
        abstract=submission.abstract or "",
        priority=submission.priority,
        plan_item_ids=items if items is not None else [i.id for i in submission.plan_items],
        tag_ids=tags if tags is not None else [t.id for t in submission.tags],
    )
    services.edit(api_user(), submission, data, version)
    db.session.commit()


@operation(
    "/submissions/<int:submission_id>/comments",
    "POST",
    summary="添加留言或内部备注",
    tag=TAG,
    scope=Scope.REVIEW,
    status=201,
    body=s.CommentIn,
    response=s.CommentOut,
)
def add_comment(submission_id: int, body: s.CommentIn) -> s.CommentOut:
    """An internal note, or (``to_submitter``) a message the organisation sees."""
    submission = visible_or_404(submission_id)
    note = services.comment(api_user(), submission, body.body, to_submitter=body.to_submitter)
    db.session.commit()
    return s.CommentOut(
        id=note.id,
        submission_id=note.submission_id,
        author_id=note.author_id,
        visibility=note.visibility,
        body=note.body,
        created_at=note.created_at,
    )


@operation(
    "/submissions/<int:submission_id>/similar",
    "GET",
    summary="相似材料",
    tag=TAG,
    scope=Scope.READ,
    response=s.SimilarList,
)
def similar(submission_id: int) -> s.SimilarList:
    """Linked similar submissions the caller may see, best score first."""
    submission = visible_or_404(submission_id)
    found = similarity.similar_to(db.session, submission, api_user())
    return s.SimilarList(
        items=[
            s.SimilarOut(
                id=other.id,
                reference=other.reference,
                title=other.title,
                organisation_name=other.organisation.name,
                score=score,
                status=str(link.status),
            )
            for other, score, link in found
        ]
    )
