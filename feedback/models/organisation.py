"""Organisations: the federation, its associations and committees, affiliates and chemical parks."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from feedback.models.base import Base, str_enum, utcnow


class OrgKind(enum.StrEnum):
    """What kind of body an organisation is."""

    ASSOCIATION = "association"
    PARK = "park"
    COMMITTEE = "committee"
    AFFILIATE = "affiliate"
    FEDERATION = "federation"


class ParkGrade(enum.StrEnum):
    """Safety-risk grade under 《化工园区安全风险排查治理导则》: A is highest risk, D lowest."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"


class ParkLevel(enum.StrEnum):
    """Administrative level of a chemical park."""

    NATIONAL = "national"
    PROVINCIAL = "provincial"
    MUNICIPAL = "municipal"


class Organisation(Base):
    """A body that files reports (or, for the federation, reviews them)."""

    __tablename__ = "organisation"
    __table_args__ = (
        CheckConstraint(
            "park_grade_year IS NULL OR (park_grade_year BETWEEN 2000 AND 2100)",
            name="park_grade_year_range",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    short_name: Mapped[str | None] = mapped_column(String(60))
    kind: Mapped[OrgKind] = mapped_column(str_enum(OrgKind, "org_kind"), index=True)
    uscc: Mapped[str | None] = mapped_column(String(18), unique=True)
    # Set when an administrator accepted a code that fails the GB 32100 check (a few early codes
    # do); the override is also written to the audit log.
    uscc_check_overridden: Mapped[bool] = mapped_column(Boolean, default=False)
    region_code: Mapped[str | None] = mapped_column(String(6), index=True)
    affiliation: Mapped[str | None] = mapped_column(String(200))
    park_grade: Mapped[ParkGrade | None] = mapped_column(str_enum(ParkGrade, "park_grade", 1))
    park_grade_year: Mapped[int | None] = mapped_column(Integer)
    park_level: Mapped[ParkLevel | None] = mapped_column(str_enum(ParkLevel, "park_level"))
    park_batch: Mapped[str | None] = mapped_column(String(100))
    requires_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    notes: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def display_name(self) -> str:
        """The short name where there is one, for tables and menus."""
        return self.short_name or self.name

    def __repr__(self) -> str:
        return f"<Organisation {self.id} {self.name}>"
