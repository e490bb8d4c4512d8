"""Version numbers of data that processes keep copies of (see :mod:`feedback.menus`)."""

from __future__ import annotations

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from feedback.models.base import Base


class CacheVersion(Base):
    """A counter raised in the same transaction as every write to what a cache holds.

    A process compares the number with the one its copy was built for; the row is the only
    state shared between processes and hosts, so a copy is never used after a committed change.
    """

    __tablename__ = "cache_version"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
