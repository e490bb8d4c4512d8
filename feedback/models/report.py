"""Reports to the ministry (汇总报告): items, frozen versions and the ministry's responses.

A report is always editable as its next version; freezing stores the workbook bytes, their
SHA-256 and a snapshot of the items as version N, which never change again. Sending marks a
version sent; the ministry's response is recorded per item of a sent version.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from feedback.models.base import Base, str_enum, utcnow
from feedback.models.campaign import Campaign
from feedback.models.consolidation import ConsolidatedSuggestion
from feedback.models.submission import Submission
from feedback.models.user import User


class Report(Base):
    """A compilation for the Ministry of Emergency Management."""

    __tablename__ = "report"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    period_label: Mapped[str] = mapped_column(String(60))  # e.g. 2026年第四季度
    period_start: Mapped[date | None] = mapped_column(Date)
    period_end: Mapped[date | None] = mapped_column(Date)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id"))
    issuer: Mapped[str] = mapped_column(String(100))  # 报送单位 on the cover sheet
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)  # optimistic lock, not the edition

    campaign: Mapped[Campaign | None] = relationship()
    created_by: Mapped[User] = relationship()
    items: Mapped[list[ReportItem]] = relationship(
        back_populates="report", order_by="ReportItem.position", cascade="all, delete-orphan"
    )
    editions: Mapped[list[ReportVersion]] = relationship(
        back_populates="report", order_by="ReportVersion.number"
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012

    @property
    def latest(self) -> ReportVersion | None:
        """The newest frozen version, if any."""
        return self.editions[-1] if self.editions else None

    @property
    def next_number(self) -> int:
        """The number the next freeze will get (the draft being edited)."""
        return len(self.editions) + 1

    def __repr__(self) -> str:
        return f"<Report {self.id} {self.title!r}>"


class ReportItem(Base):
    """One entry of a report: a consolidated suggestion or an accepted submission, with the
    wording the report uses (the originals are never changed)."""

    __tablename__ = "report_item"
    __table_args__ = (
        CheckConstraint("(submission_id IS NULL) <> (consolidated_id IS NULL)", name="one_source"),
        UniqueConstraint("report_id", "submission_id"),
        UniqueConstraint("report_id", "consolidated_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submission.id"), index=True)
    consolidated_id: Mapped[int | None] = mapped_column(
        ForeignKey("consolidated_suggestion.id"), index=True
    )
    wording: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # field -> reworded text
    added_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)

    report: Mapped[Report] = relationship(back_populates="items")
    submission: Mapped[Submission | None] = relationship()
    consolidated: Mapped[ConsolidatedSuggestion | None] = relationship()

    @property
    def key(self) -> str:
        """Stable across versions: ``c12`` for a consolidated suggestion, ``s345`` otherwise."""
        return f"c{self.consolidated_id}" if self.consolidated_id else f"s{self.submission_id}"


class ReportVersion(Base):
    """A frozen version: its workbook, byte for byte, and what it contained."""

    __tablename__ = "report_version"
    __table_args__ = (UniqueConstraint("report_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id"))
    number: Mapped[int] = mapped_column(Integer)
    frozen_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    frozen_at: Mapped[datetime] = mapped_column(default=utcnow)
    filename: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    workbook: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))
    snapshot: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # items as frozen
    sent_on: Mapped[date | None] = mapped_column(Date)
    sent_channel: Mapped[str | None] = mapped_column(String(60))
    document_number: Mapped[str | None] = mapped_column(String(60))  # e.g. 石化联〔2026〕12号
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    report: Mapped[Report] = relationship(back_populates="editions")
    frozen_by: Mapped[User] = relationship(foreign_keys=[frozen_by_id])
    sent_by: Mapped[User | None] = relationship(foreign_keys=[sent_by_id])
    responses: Mapped[list[MinistryResponse]] = relationship(
        back_populates="edition", order_by="MinistryResponse.id"
    )


class Verdict(enum.StrEnum):
    """The ministry's answer to one item."""

    ADOPTED = "adopted"  # 采纳
    PARTLY = "partly"  # 部分采纳
    STUDYING = "studying"  # 研究中
    DECLINED = "declined"  # 不予采纳


class MinistryResponse(Base):
    """The ministry's response to one item of a sent version (the latest row counts)."""

    __tablename__ = "ministry_response"
    __table_args__ = (UniqueConstraint("version_id", "item_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("report_version.id"))
    item_key: Mapped[str] = mapped_column(String(20))
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submission.id"), index=True)
    consolidated_id: Mapped[int | None] = mapped_column(
        ForeignKey("consolidated_suggestion.id"), index=True
    )
    verdict: Mapped[Verdict] = mapped_column(str_enum(Verdict, "verdict"))
    note: Mapped[str | None] = mapped_column(Text)
    responded_on: Mapped[date] = mapped_column(Date)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    edition: Mapped[ReportVersion] = relationship(back_populates="responses")
    recorded_by: Mapped[User] = relationship()
