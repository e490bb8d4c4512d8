"""Similarity between submissions: judged links, MinHash signatures and their LSH band keys.

The signatures and band rows are derived data (``feedback.review.similarity`` rebuilds them from
the submissions' text at any time); the links carry human decisions and are never deleted once
confirmed or dismissed.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from feedback.models.base import Base, str_enum, utcnow
from feedback.models.user import User


class LinkStatus(enum.StrEnum):
    """Where a similarity link stands: found by the machine, or decided by staff."""

    DETECTED = "detected"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"


class SimilarityLink(Base):
    """A pair of submissions judged similar (the lower id is always ``submission_a_id``)."""

    __tablename__ = "similarity_link"
    __table_args__ = (
        # One row per unordered pair: the CHECK fixes the order, the UNIQUE forbids repeats (and
        # its index serves lookups by ``submission_a_id``).
        CheckConstraint("submission_a_id < submission_b_id", name="ordered"),
        UniqueConstraint("submission_a_id", "submission_b_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_a_id: Mapped[int] = mapped_column(ForeignKey("submission.id", ondelete="CASCADE"))
    submission_b_id: Mapped[int] = mapped_column(
        ForeignKey("submission.id", ondelete="CASCADE"), index=True
    )
    score: Mapped[float] = mapped_column(Float)
    status: Mapped[LinkStatus] = mapped_column(
        str_enum(LinkStatus, "status"), default=LinkStatus.DETECTED
    )
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    decided_by: Mapped[User | None] = relationship()

    def other(self, submission_id: int) -> int:
        """The id of the pair's other submission."""
        return (
            self.submission_b_id if submission_id == self.submission_a_id else self.submission_a_id
        )

    def __repr__(self) -> str:
        return (
            f"<SimilarityLink {self.submission_a_id}~{self.submission_b_id} "
            f"{self.score:.2f} {self.status}>"
        )


class SimilaritySignature(Base):
    """The MinHash signature of a submission's text (packed unsigned 32-bit values)."""

    __tablename__ = "similarity_signature"

    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submission.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    minhash: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SimilarityBand(Base):
    """One LSH band key of a submission: submissions sharing a (band, bucket) are candidates."""

    __tablename__ = "similarity_band"
    __table_args__ = (
        # Covering index: candidates are read from the index alone on both databases.
        Index("ix_similarity_band_bucket", "band", "bucket", "submission_id"),
    )

    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submission.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    band: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    bucket: Mapped[int] = mapped_column(BigInteger)
