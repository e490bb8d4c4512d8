"""Campaigns (填报任务): calls for reports with a period, dates and target organisations."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Date, ForeignKey, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from feedback.models.base import Base, utcnow
from feedback.models.organisation import Organisation

campaign_target = Table(
    "campaign_target",
    Base.metadata,
    Column("campaign_id", ForeignKey("campaign.id", ondelete="CASCADE"), primary_key=True),
    Column("organisation_id", ForeignKey("organisation.id"), primary_key=True, index=True),
)


class Campaign(Base):
    """A call for reports. Filing after the due date is allowed and marked late."""

    __tablename__ = "campaign"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    period: Mapped[str] = mapped_column(String(40))
    opens_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    instructions: Mapped[str] = mapped_column(Text, default="")
    target_description: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    targets: Mapped[list[Organisation]] = relationship(
        secondary=campaign_target, order_by=Organisation.name
    )

    def is_open(self, today: date) -> bool:
        """Accepting submissions (late ones too, after the due date)."""
        return self.opens_on <= today

    def days_left(self, today: date) -> int:
        return (self.due_on - today).days
