"""The plan as a tree of items, and the controlled tag vocabulary."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from feedback.models.base import Base, utcnow

CURRENT_PLAN_VERSION = "2022"


class PlanItem(Base):
    """A node of 《"十四五"危险化学品安全生产规划方案》: chapter → system/project/sector → sub-item.

    Codes are stable within a plan version; a revised plan gets a new ``plan_version`` so that old
    submissions keep pointing at the items they were filed against.
    """

    __tablename__ = "plan_item"
    __table_args__ = (UniqueConstraint("plan_version", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_version: Mapped[str] = mapped_column(String(20), default=CURRENT_PLAN_VERSION)
    code: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("plan_item.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    parent: Mapped[PlanItem | None] = relationship(remote_side=[id])

    @property
    def depth(self) -> int:
        """0 for a chapter, 1 for a system/project/sector, 2 for a sub-item (from the code)."""
        if "." in self.code:
            return 2
        return 0 if len(self.code) == 1 else 1

    @property
    def label(self) -> str:
        return f"{self.code} {self.name}"

    def __repr__(self) -> str:
        return f"<PlanItem {self.plan_version}:{self.code}>"


class TagGroup(Base):
    """A group of tags: topics, hazardous processes, major-hazard criteria, …"""

    __tablename__ = "tag_group"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    tags: Mapped[list[Tag]] = relationship(
        back_populates="group", order_by="(Tag.sort_order, Tag.id)"
    )


class Tag(Base):
    """One term of the controlled vocabulary. Deactivated, never deleted, once in use."""

    __tablename__ = "tag"
    __table_args__ = (UniqueConstraint("group_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("tag_group.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    group: Mapped[TagGroup] = relationship(back_populates="tags")

    def __repr__(self) -> str:
        return f"<Tag {self.id} {self.name}>"
