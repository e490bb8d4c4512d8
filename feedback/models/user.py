"""Users, their roles and their security state."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from feedback.crypto import EncryptedString
from feedback.models.base import Base, str_enum, utcnow
from feedback.models.organisation import Organisation


class Role(enum.StrEnum):
    """What a user may do; see DESIGN.md §2."""

    SUBMITTER = "submitter"
    ORG_APPROVER = "org_approver"
    REVIEWER = "reviewer"
    COMPILER = "compiler"
    ADMIN = "admin"
    SECURITY_ADMIN = "security_admin"
    AUDITOR = "auditor"


# 三员分立: the system, security and audit administrators are three different people, and none of
# them does business work (they must not read submission content).
ADMIN_ROLES = frozenset({Role.ADMIN, Role.SECURITY_ADMIN, Role.AUDITOR})
# Federation staff who see every organisation's submitted material.
STAFF_ROLES = frozenset({Role.REVIEWER, Role.COMPILER})
ORG_ROLES = frozenset({Role.SUBMITTER, Role.ORG_APPROVER})


class UserRole(Base):
    """One role held by one user."""

    __tablename__ = "user_role"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[Role] = mapped_column(str_enum(Role, "role"), primary_key=True, index=True)


class User(Base):
    """A person who logs in. Belongs to exactly one organisation."""

    __tablename__ = "user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(60))
    phone: Mapped[str | None] = mapped_column(String(30))
    password_hash: Mapped[str] = mapped_column(String(255))
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    # Bumped to end every session of the user at once (logout, password change, deactivation):
    # the value is part of the identifier Flask-Login keeps in the session cookie.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    # TOTP (RFC 6238). The base32 secret is stored AES-GCM encrypted (SECURITY.md row 39,
    # feedback/crypto.py): about 90 characters of ciphertext for a 32-character secret.
    mfa_secret: Mapped[str | None] = mapped_column(EncryptedString(255, "user.mfa_secret"))
    mfa_enabled_at: Mapped[datetime | None]
    # The last accepted time step: a code of this step or an earlier one is never taken again.
    mfa_last_step: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When an administrator last re-enabled the account: restarts the dormancy clock (row 6).
    reactivated_at: Mapped[datetime | None]

    organisation: Mapped[Organisation] = relationship(lazy="joined", innerjoin=True)
    role_rows: Mapped[list[UserRole]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by=UserRole.role
    )
    recovery_codes: Mapped[list[RecoveryCode]] = relationship(
        cascade="all, delete-orphan", order_by=lambda: RecoveryCode.id
    )

    # -- Flask-Login protocol ------------------------------------------------------------------
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active and self.organisation.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def last_used_at(self) -> datetime:
        """The last login, re-enabling or creation: what dormancy is counted from."""
        moments = (self.last_login_at, self.reactivated_at, self.created_at)
        return max(moment for moment in moments if moment is not None)

    # -- roles ---------------------------------------------------------------------------------
    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(row.role for row in self.role_rows)

    def has_role(self, *roles: Role) -> bool:
        """True if the user holds any of ``roles``."""
        return not self.roles.isdisjoint(roles)

    @property
    def is_staff(self) -> bool:
        """Federation reviewers and compilers, who see every organisation's submitted material."""
        return self.has_role(*STAFF_ROLES)

    @property
    def is_administrator(self) -> bool:
        """Holds one of the three administrator roles (三员)."""
        return self.has_role(*ADMIN_ROLES)

    # -- second factor -------------------------------------------------------------------------
    @property
    def mfa_enabled(self) -> bool:
        """True once the user has confirmed a TOTP authenticator."""
        return self.mfa_enabled_at is not None and self.mfa_secret is not None

    @property
    def mfa_required(self) -> bool:
        """Federation staff and the three administrators must use a second factor (等保 L3)."""
        return self.is_staff or self.is_administrator

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


class RecoveryCode(Base):
    """One single-use recovery code of a user's second factor, stored as a salted SHA-256."""

    __tablename__ = "mfa_recovery_code"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    salt: Mapped[str] = mapped_column(String(32))
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None]


class UserSession(Base):
    """One login session: live until it is ended (logout, eviction, revocation) or expires.

    The cookie carries a random id; only its SHA-256 is stored, so a copy of the database
    holds nothing that would let anyone take over a session (SECURITY.md row 9).
    """

    __tablename__ = "user_session"
    __table_args__ = (
        # The live sessions of a user, oldest first: the concurrent-session limit at login.
        Index("ix_user_session_user_live", "user_id", "ended_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    # logout, evicted, revoked, timeout
    ended_reason: Mapped[str | None] = mapped_column(String(20))
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(120))

    @property
    def is_live(self) -> bool:
        return self.ended_at is None
