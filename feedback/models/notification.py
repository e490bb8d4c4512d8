"""In-app notifications: each user's inbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from feedback.models.base import Base, utcnow


class Notification(Base):
    """A message to one user (returned for revision, accepted, campaign opened, reminder, …)."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_user_read", "user_id", "read_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]


class ImportBatch(Base):
    """An uploaded Excel template waiting for the user to confirm the import."""

    __tablename__ = "import_batch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    kind: Mapped[str] = mapped_column(String(20))
    original_name: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(64))
    # preview → queued (confirmed) → running (a job has it) → imported, or failed (nothing
    # saved; the user may confirm again). The job's state lives here, never in process memory.
    status: Mapped[str] = mapped_column(String(20), default="preview")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    result_summary: Mapped[str | None] = mapped_column(Text)
    submit_rows: Mapped[bool] = mapped_column(default=False, server_default=false())
    rows_total: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)

    @property
    def in_progress(self) -> bool:
        """Whether a job is queued for the batch or writing it."""
        return self.status in ("queued", "running")

    def describe(self) -> dict[str, Any]:
        """What the progress endpoint answers (the shape static/js/app.js polls)."""
        done = self.status == "imported"
        return {
            "status": "done" if done else self.status,
            "progress": 100 if done else None,
            "rows_done": self.rows_total if done else 0,
            "rows_total": self.rows_total,
        }
