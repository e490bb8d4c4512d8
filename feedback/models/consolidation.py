"""Consolidated suggestions (汇总建议): staff text that stands for several source submissions.

A source link is never deleted: removing a source stamps ``removed_at`` on its row, so that who
linked what, and when it was taken out again, stays on record (DESIGN.md §3).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from feedback.models.base import Base, utcnow
from feedback.models.plan import PlanItem
from feedback.models.submission import Submission
from feedback.models.user import User

consolidated_plan_item = Table(
    "consolidated_plan_item",
    Base.metadata,
    Column(
        "consolidated_id",
        ForeignKey("consolidated_suggestion.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("plan_item_id", ForeignKey("plan_item.id"), primary_key=True, index=True),
)


class ConsolidatedSuggestion(Base):
    """One suggestion written by the federation for the ministry, with its evidence."""

    __tablename__ = "consolidated_suggestion"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)  # 问题与依据
    suggestion: Mapped[str] = mapped_column(Text)  # 建议内容
    basis: Mapped[str | None] = mapped_column(Text)  # 政策依据
    department: Mapped[str | None] = mapped_column(String(200))  # 建议责任部门
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    updated_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    updated_by: Mapped[User] = relationship(foreign_keys=[updated_by_id])
    plan_items: Mapped[list[PlanItem]] = relationship(
        secondary=consolidated_plan_item, order_by=PlanItem.code
    )
    links: Mapped[list[ConsolidatedSource]] = relationship(
        back_populates="consolidated", order_by="ConsolidatedSource.id"
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012

    @property
    def sources(self) -> list[Submission]:
        """The source submissions linked now (removed links left out)."""
        return [link.submission for link in self.links if link.removed_at is None]

    def __repr__(self) -> str:
        return f"<ConsolidatedSuggestion {self.id} {self.title!r}>"


class ConsolidatedSource(Base):
    """A source submission of a consolidated suggestion: linked, and perhaps removed later."""

    __tablename__ = "consolidated_source"
    __table_args__ = (
        # A submission is linked to a suggestion at most once at a time; removed rows stay.
        Index(
            "uq_consolidated_source_active",
            "consolidated_id",
            "submission_id",
            unique=True,
            sqlite_where=text("removed_at IS NULL"),
            postgresql_where=text("removed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consolidated_id: Mapped[int] = mapped_column(ForeignKey("consolidated_suggestion.id"))
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"), index=True)
    linked_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)
    removed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    removed_at: Mapped[datetime | None]

    consolidated: Mapped[ConsolidatedSuggestion] = relationship(back_populates="links")
    submission: Mapped[Submission] = relationship()
    linked_by: Mapped[User] = relationship(foreign_keys=[linked_by_id])
    removed_by: Mapped[User | None] = relationship(foreign_keys=[removed_by_id])

    def __repr__(self) -> str:
        state = "removed" if self.removed_at else "active"
        return f"<ConsolidatedSource {self.consolidated_id}←{self.submission_id} {state}>"
