"""The API's request and response schemas (pydantic v2).

The same classes validate requests and make up the OpenAPI document's components, so the
document cannot drift from what the code accepts. Field names follow DESIGN.md §3. Ids are
bounded to what a database ``integer`` holds, so a huge number is a 422 and never a driver error.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from feedback.filing.kinds import Kind, Sensitivity
from feedback.models import Scope, Status
from feedback.paging import MAX_ID

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
IdList = Annotated[list[Id], Field(max_length=50)]


class Strict(BaseModel):
    """A request body: unknown fields are refused (no mass assignment, SECURITY.md row 14)."""

    model_config = ConfigDict(extra="forbid")


class Problem(BaseModel):
    """An error (RFC 9457 problem details)."""

    type: str = Field(description="问题类型的 URI，如 /api/v1/problems/validation")
    title: str = Field(description="中文标题")
    status: int
    detail: str
    errors: dict[str, list[str]] | None = Field(
        default=None, description="按字段列出的校验错误（字段名 → 消息）"
    )


# -- reference data ----------------------------------------------------------------------------


class PlanItemOut(BaseModel):
    id: int
    code: str
    name: str
    parent_id: int | None
    plan_version: str
    active: bool


class PlanItemList(BaseModel):
    items: list[PlanItemOut]


class TagOut(BaseModel):
    id: int
    name: str
    group: str
    group_name: str
    active: bool


class TagList(BaseModel):
    items: list[TagOut]


class OrganisationOut(BaseModel):
    id: int
    name: str
    short_name: str | None
    kind: str
    region_code: str | None


class OrganisationList(BaseModel):
    items: list[OrganisationOut]


# -- submissions -------------------------------------------------------------------------------


class SubmissionQuery(BaseModel):
    """The review queue's filters (GET /submissions and the exports)."""

    model_config = ConfigDict(extra="ignore")

    status: Status | None = None
    kind: Kind | None = None
    organisation_id: Id | None = None
    plan_item: Annotated[str, Field(max_length=20, pattern=r"^[A-Za-z0-9.\-]*$")] | None = Field(
        default=None, description="规划条目代码（含下级条目），如 S3"
    )
    tag: Id | None = None
    campaign_id: Id | None = None
    q: Annotated[str, Field(max_length=50)] | None = Field(default=None, description="中文全文检索")
    since: date | None = Field(default=None, description="报送日期不早于（北京时间）")
    cursor: Annotated[str, Field(max_length=200)] | None = Field(
        default=None, description="上一页返回的 next 链接中的游标"
    )


class SubmissionWrite(Strict):
    """The text of a submission, as the organisation writes it (drafts may be incomplete)."""

    title: Annotated[str, Field(max_length=1000)] = ""
    summary: Annotated[str, Field(max_length=20000)] = ""
    sections: dict[
        Annotated[str, Field(max_length=40)], Annotated[str, Field(max_length=20000)]
    ] = Field(default_factory=dict, max_length=10, description="按材料类型的分节文本")
    plan_item_ids: IdList = Field(default_factory=list)
    tag_ids: IdList = Field(default_factory=list)
    region_code: Annotated[str, Field(pattern=r"^[0-9]{6}$")] | None = None
    sector: Annotated[str, Field(max_length=40)] | None = None
    contact_name: Annotated[str, Field(max_length=100)] = ""
    contact_phone: Annotated[str, Field(max_length=40)] = ""
    sensitivity: Sensitivity = Sensitivity.MINISTRY
    anonymous: bool = False
    campaign_id: Id | None = None


class SubmissionCreate(SubmissionWrite):
    kind: Kind
    idempotency_key: Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-]{1,36}$")] | None = Field(
        default=None, description="重复提交同一请求时返回同一份草稿"
    )


class SubmissionUpdate(SubmissionWrite):
    kind: Kind
    version: Annotated[int, Field(ge=0, le=MAX_ID)] = Field(
        description="读取时的 version；已被他人更新时返回 409"
    )


class AttachmentOut(BaseModel):
    id: int
    original_name: str
    media_type: str
    size: int
    sha256: str
    created_at: datetime


class SubmissionOut(BaseModel):
    id: int
    reference: str
    organisation_id: int
    organisation_name: str
    author_id: int
    campaign_id: int | None
    kind: Kind
    status: Status
    title: str
    summary: str
    sections: dict[str, str]
    plan_item_ids: list[int]
    tag_ids: list[int]
    region_code: str | None
    sector: str | None
    contact_name: str
    contact_phone: str
    sensitivity: Sensitivity
    anonymous: bool
    version: int
    revision: int
    late: bool
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    attachments: list[AttachmentOut]
    # Federation staff only (null for the submitting organisation).
    assignee_id: int | None = None
    priority: int | None = None
    abstract: str | None = None
    problems: dict[str, list[str]] = Field(
        default_factory=dict, description="提交前还需补充的内容（仅可编辑时）"
    )


class SubmissionPage(BaseModel):
    items: list[SubmissionOut]
    next: str | None = Field(description="下一页的链接；没有更多时为 null")


class TransitionIn(Strict):
    action: Literal["start_review", "return", "accept", "reject", "approve"]
    note: Annotated[str, Field(max_length=4000)] = ""


class IdsIn(Strict):
    ids: IdList
    version: Annotated[int, Field(ge=0, le=MAX_ID)] = Field(
        description="读取时的 version；已被他人更新时返回 409"
    )


class CommentIn(Strict):
    body: Annotated[str, Field(min_length=1, max_length=8000)]
    to_submitter: bool = Field(default=False, description="true：填报单位可见；false：内部备注")


class CommentOut(BaseModel):
    id: int
    submission_id: int
    author_id: int
    visibility: str
    body: str
    created_at: datetime


class SimilarOut(BaseModel):
    id: int
    reference: str
    title: str
    organisation_name: str
    score: float
    status: str


class SimilarList(BaseModel):
    items: list[SimilarOut]


# -- campaigns ---------------------------------------------------------------------------------


class CampaignOut(BaseModel):
    id: int
    title: str
    period: str
    opens_on: date
    due_on: date
    instructions: str


class CampaignList(BaseModel):
    items: list[CampaignOut]


class ProgressOut(BaseModel):
    organisation_id: int
    organisation_name: str
    filed: int
    by_kind: dict[str, int]
    late: int
    drafts: int
    state: Literal["not_filed", "late", "filed"]


class ProgressList(BaseModel):
    campaign_id: int
    items: list[ProgressOut]


# -- reports -----------------------------------------------------------------------------------


class ReportIn(Strict):
    title: Annotated[str, Field(max_length=1000)]
    period_label: Annotated[str, Field(max_length=200)]
    period_start: date | None = None
    period_end: date | None = None
    campaign_id: Id | None = None
    issuer: Annotated[str, Field(max_length=400)] | None = None


class ReportVersionOut(BaseModel):
    number: int
    frozen_at: datetime
    filename: str
    sha256: str
    size: int
    sent_on: date | None


class ReportOut(BaseModel):
    id: int
    title: str
    period_label: str
    period_start: date | None
    period_end: date | None
    campaign_id: int | None
    issuer: str
    item_count: int
    version: int
    versions: list[ReportVersionOut]
    created_at: datetime
    updated_at: datetime


class ReportList(BaseModel):
    items: list[ReportOut]


class ReportItemsIn(Strict):
    submission_ids: IdList = Field(default_factory=list)
    consolidated_ids: IdList = Field(default_factory=list)


class AddItemsOut(BaseModel):
    added: int
    already: int
    refused: dict[str, int]
    report: ReportOut


class ExportQuery(SubmissionQuery):
    columns: Annotated[list[Annotated[str, Field(max_length=40)]], Field(max_length=40)] = Field(
        default_factory=list, description="列键（可重复）；缺省为常用列"
    )


class TokenOut(BaseModel):
    prefix: str
    name: str
    scopes: list[Scope]
    expires_at: datetime
