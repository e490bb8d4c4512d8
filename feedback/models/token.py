"""API tokens: bearer secrets a user creates for their own scripts and platforms."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from feedback.models.base import Base, utcnow
from feedback.models.user import User


class Scope(enum.StrEnum):
    """What a token may be used for, on top of what its owner may do."""

    READ = "read"
    FILE = "file"
    REVIEW = "review"
    COMPILE = "compile"


class ApiToken(Base):
    """A bearer token. Only the SHA-256 of the secret is kept; the prefix finds the row."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The public part of the token ("fbk_" + 8 characters): shown in lists, used for look-up.
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    # SHA-256 (hex) of the whole token. The secret has 256 random bits, so a plain hash is
    # enough (no salt or slow hash needed, unlike a password people choose).
    secret_hash: Mapped[str] = mapped_column(String(64))
    owner_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    scopes_text: Mapped[str] = mapped_column("scopes", String(60))  # comma-separated Scope values
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]

    owner: Mapped[User] = relationship(lazy="joined", innerjoin=True)

    @property
    def scopes(self) -> frozenset[Scope]:
        return frozenset(Scope(s) for s in self.scopes_text.split(",") if s in set(Scope))

    def is_live(self, now: datetime) -> bool:
        """Neither revoked nor expired."""
        return self.revoked_at is None and now < self.expires_at

    def __repr__(self) -> str:
        return f"<ApiToken {self.id} {self.prefix}>"
