"""Submissions (field reports), their revisions, history events and attachments."""

from __future__ import annotations

import enum
import json
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from feedback.filing.kinds import KINDS, Kind, Sensitivity
from feedback.models.base import Base, str_enum, utcnow
from feedback.models.organisation import Organisation
from feedback.models.plan import PlanItem, Tag
from feedback.models.user import User


class Status(enum.StrEnum):
    """Where a submission is in its life (DESIGN.md §4)."""

    DRAFT = "draft"
    PENDING_APPROVAL = "pending_approval"
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    RETURNED = "returned"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    REPORTED = "reported"
    WITHDRAWN = "withdrawn"


# Statuses in which the federation has received the submission (staff may see it).
RECEIVED = frozenset(
    {Status.SUBMITTED, Status.IN_REVIEW, Status.RETURNED, Status.ACCEPTED, Status.REJECTED,
     Status.REPORTED}
)  # fmt: skip
# Statuses in which the organisation may still change the text.
EDITABLE = frozenset({Status.DRAFT, Status.RETURNED})


# Each link table is also indexed (key, submission): the review queue's capped counts read a tag's
# or a plan item's submissions from that index alone (feedback/review/queue.py).
submission_plan_item = Table(
    "submission_plan_item",
    Base.metadata,
    Column("submission_id", ForeignKey("submission.id", ondelete="CASCADE"), primary_key=True),
    Column("plan_item_id", ForeignKey("plan_item.id"), primary_key=True),
    Index("ix_submission_plan_item_item_submission", "plan_item_id", "submission_id"),
)

submission_tag = Table(
    "submission_tag",
    Base.metadata,
    Column("submission_id", ForeignKey("submission.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tag.id"), primary_key=True),
    Index("ix_submission_tag_tag_submission", "tag_id", "submission_id"),
)


class ReferenceCounter(Base):
    """The last reference number given out in a year (numbers are never reused)."""

    __tablename__ = "reference_counter"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Submission(Base):
    """A field report filed by an organisation."""

    __tablename__ = "submission"
    __table_args__ = (
        # A resent form (double click, browser retry) finds the first submission instead of
        # creating a second one (SECURITY.md row 43).
        UniqueConstraint("organisation_id", "idempotency_key"),
        # An organisation's list, newest first (page 1 straight from the index), and by status.
        Index("ix_submission_org_updated", "organisation_id", "updated_at", "id"),
        Index("ix_submission_org_status_updated", "organisation_id", "status", "updated_at"),
        Index("ix_submission_status_kind_submitted", "status", "kind", "submitted_at", "id"),
        Index("ix_submission_campaign_org", "campaign_id", "organisation_id"),
        Index("ix_submission_assignee_status", "assignee_id", "status", "submitted_at"),
        # The review queue, newest sent first: page 1 and the keyset cursor of any page straight
        # from an index, with no filter, a status, or a campaign (PERFORMANCE.md §2, §6).
        Index("ix_submission_submitted", "submitted_at", "id"),
        Index("ix_submission_status_submitted", "status", "submitted_at", "id"),
        Index("ix_submission_campaign_submitted", "campaign_id", "submitted_at", "id"),
        # The queue's filter columns by id: a count that reaches submissions through a link
        # table (tag, plan item, similar) checks them here, not in the 3-9 KB row.
        Index(
            "ix_submission_queue_columns",
            "id",
            "status",
            "kind",
            "submitted_at",
            "organisation_id",
            "campaign_id",
            "assignee_id",
        ),
        # The queue's "has similar" filter on PostgreSQL: the submissions that may have a live
        # similarity link, by status and newest first (feedback/review/queue.py; SQLite probes
        # the links from its status index instead, but keeps the same schema).
        Index(
            "ix_submission_similar",
            "status",
            "submitted_at",
            "id",
            postgresql_where=text("similar_hint"),
            sqlite_where=text("similar_hint"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id"))
    kind: Mapped[Kind] = mapped_column(str_enum(Kind, "kind"))
    status: Mapped[Status] = mapped_column(str_enum(Status, "status"), default=Status.DRAFT)
    title: Mapped[str] = mapped_column(String(200), default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    sections_json: Mapped[str] = mapped_column(Text, default="{}")
    region_code: Mapped[str | None] = mapped_column(String(6))
    sector: Mapped[str | None] = mapped_column(String(40))
    contact_name: Mapped[str] = mapped_column(String(30), default="")
    contact_phone: Mapped[str] = mapped_column(String(30), default="")
    sensitivity: Mapped[Sensitivity] = mapped_column(
        str_enum(Sensitivity, "sensitivity"), default=Sensitivity.MINISTRY
    )
    # The organisation asked not to be named to the ministry: reports show "某化工园区（江苏省）".
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    idempotency_key: Mapped[str] = mapped_column(String(36))
    revision: Mapped[int] = mapped_column(Integer, default=0)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    # Review (federation staff only).
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    priority: Mapped[int] = mapped_column(Integer, default=0)  # 0 normal, 1 high, 2 urgent
    abstract: Mapped[str | None] = mapped_column(Text)  # 提炼要点, used by the workbook
    version: Mapped[int] = mapped_column(Integer, default=1)
    # True whenever a similarity link that is not dismissed names this submission; a dismissal
    # or a deleted link leaves it True until similarity.rebuild() recounts (the queue checks the
    # links themselves too: a stale True costs a probe, never a wrong row). Written with Core by
    # feedback.review.similarity, so it moves neither ``version`` nor ``updated_at``.
    similar_hint: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false(), nullable=False
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None]

    organisation: Mapped[Organisation] = relationship(lazy="joined", innerjoin=True)
    author: Mapped[User] = relationship(foreign_keys=[author_id])
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    plan_items: Mapped[list[PlanItem]] = relationship(
        secondary=submission_plan_item, order_by=PlanItem.sort_order
    )
    tags: Mapped[list[Tag]] = relationship(secondary=submission_tag, order_by=Tag.name)
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="submission", order_by="Attachment.id", cascade="all, delete-orphan"
    )
    events: Mapped[list[Event]] = relationship(
        back_populates="submission", order_by="Event.id", cascade="all, delete-orphan"
    )

    # Concurrent edits: the second writer gets StaleDataError instead of overwriting silently.
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012

    @property
    def sections(self) -> dict[str, str]:
        value = json.loads(self.sections_json or "{}")
        assert isinstance(value, dict)
        return {str(k): str(v) for k, v in value.items()}

    @sections.setter
    def sections(self, value: dict[str, str]) -> None:
        self.sections_json = json.dumps(value, ensure_ascii=False, sort_keys=True)

    @property
    def spec(self) -> Any:
        return KINDS[self.kind]

    @property
    def is_editable(self) -> bool:
        return self.status in EDITABLE

    @property
    def organisation_name(self) -> str:
        """The organisation's name for tables (as the queue's rows carry it)."""
        return self.organisation.display_name

    @property
    def assignee_name(self) -> str | None:
        """The reviewer's name, None when unassigned (as the queue's rows carry it)."""
        return self.assignee.name if self.assignee else None

    def __repr__(self) -> str:
        return f"<Submission {self.reference} {self.status}>"


class Revision(Base):
    """What a submission said when it was sent (each submit and resubmit keeps one)."""

    __tablename__ = "submission_revision"
    __table_args__ = (UniqueConstraint("submission_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    author_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    snapshot_json: Mapped[str] = mapped_column(Text)

    author: Mapped[User] = relationship()

    @property
    def snapshot(self) -> dict[str, Any]:
        value = json.loads(self.snapshot_json)
        assert isinstance(value, dict)
        return value


class Event(Base):
    """One thing that happened to a submission; the history page lists these."""

    __tablename__ = "submission_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submission.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    action: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[Status | None] = mapped_column(str_enum(Status, "from_status"))
    to_status: Mapped[Status | None] = mapped_column(str_enum(Status, "to_status"))
    note: Mapped[str | None] = mapped_column(Text)
    revision: Mapped[int | None] = mapped_column(Integer)

    submission: Mapped[Submission] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()


class Attachment(Base):
    """A file attached to a submission, stored under a random name."""

    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submission.id", ondelete="CASCADE"), index=True
    )
    original_name: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploader_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    submission: Mapped[Submission] = relationship(back_populates="attachments")

    @property
    def organisation_id(self) -> int:
        return self.submission.organisation_id


class Comment(Base):
    """A note on a submission: ``internal`` (federation staff only) or ``to_submitter``."""

    __tablename__ = "submission_comment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submission.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    visibility: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    author: Mapped[User] = relationship()


class SavedView(Base):
    """A reviewer's named queue filter (the query string of the queue page)."""

    __tablename__ = "saved_view"
    __table_args__ = (UniqueConstraint("user_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(60))
    query: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
