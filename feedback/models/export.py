"""Raw exports of submissions (导出): who asked for which filter, and the file it produced."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from feedback.models.base import Base, str_enum, utcnow
from feedback.models.user import User


class ExportStatus(enum.StrEnum):
    """Where an export job is."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ExportJob(Base):
    """One export: the filter and columns asked for, progress, and the finished file."""

    __tablename__ = "export_job"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    file_format: Mapped[str] = mapped_column(String(8))  # xlsx or csv
    query: Mapped[str] = mapped_column(String(1000))  # the queue filter, as URL arguments
    columns: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[ExportStatus] = mapped_column(
        str_enum(ExportStatus, "status"), default=ExportStatus.QUEUED
    )
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    filename: Mapped[str | None] = mapped_column(String(200))
    stored_name: Mapped[str | None] = mapped_column(String(100))  # under EXPORT_DIR
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # Written by whichever process runs the job: any host can tell progress from a stall.
    started_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    finished_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()

    @property
    def progress(self) -> int:
        """Per cent done (0–100)."""
        if self.status == ExportStatus.DONE:
            return 100
        return min(99, self.rows_done * 100 // self.rows_total) if self.rows_total else 0

    def describe(self) -> dict[str, Any]:
        """What the progress endpoint answers."""
        return {"status": str(self.status), "progress": self.progress,
                "rows_done": self.rows_done, "rows_total": self.rows_total}  # fmt: skip
