"""Use cases of logging in and managing one's own password."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from feedback.audit.services import record
from feedback.auth import sessions
from feedback.auth.passwords import (
    hash_password,
    is_normalised,
    needs_rehash,
    password_problems,
    verify_password,
)
from feedback.extensions import db
from feedback.i18n import gettext as _
from feedback.models import User, utcnow

# Verified when the e-mail is unknown, so that both failures take the same time.
_DUMMY_HASH: dict[str, str] = {}


class LoginFailed(Exception):
    """Login refused. ``message`` is what the person is shown."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PasswordRejected(Exception):
    """A new password was refused; ``problems`` lists why, in Chinese."""

    def __init__(self, field: str, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.field = field
        self.problems = problems


def generic_login_failure() -> str:
    """The one message for an unknown user, a wrong password and a locked account."""
    return str(
        _(
            "邮箱或密码不正确。连续失败 %(n)d 次后账户将锁定 %(m)d 分钟。",
            n=current_app.config["LOGIN_MAX_FAILURES"],
            m=current_app.config["LOGIN_LOCK_MINUTES"],
        )
    )


def normalise_email(email: str) -> str:
    """Trim and lower-case an e-mail address used as a login name."""
    return email.strip().lower()


def _dummy_verify(password: str) -> None:
    key = "hash"
    if key not in _DUMMY_HASH:
        _DUMMY_HASH[key] = hash_password("not-a-real-password-Xy9!")
    verify_password(_DUMMY_HASH[key], password)


def authenticate(email: str, password: str, *, now: datetime | None = None) -> User:
    """Check credentials and update the security state; raises :class:`LoginFailed`.

    For a user with a second factor this is only the first step: the failure count is kept
    (so that guessing codes and re-entering the password cannot reset it) and the login is
    completed by :func:`feedback.auth.mfa.verify_login`.
    """
    now = now or utcnow()
    email = normalise_email(email)
    user = db.session.scalars(select(User).where(User.email == email)).one_or_none()
    if user is None:
        _dummy_verify(password)
        record("login", actor=None, actor_email=email[:254], object_type="user", outcome="failure",
               reason="unknown")  # fmt: skip
        raise LoginFailed(generic_login_failure())
    if user.locked_until is not None and user.locked_until > now:
        _dummy_verify(password)
        record("login", actor=user, outcome="failure", reason="locked")
        raise LoginFailed(generic_login_failure())
    if not verify_password(user.password_hash, password):
        record("login", actor=user, outcome="failure", reason="password")
        register_failure(user, now)
        raise LoginFailed(generic_login_failure())
    # Past this point the person has proven who they are, so precise reasons are safe to show.
    if not user.is_active:
        record("login", actor=user, outcome="failure", reason="inactive")
        raise LoginFailed(_("该账户已停用，请联系系统管理员。"))
    if is_dormant(user, now):
        record("login", actor=user, outcome="failure", reason="dormant")
        disable_dormant(user)
        raise LoginFailed(_("该账户已停用，请联系系统管理员。"))
    initial_limit = timedelta(hours=current_app.config["INITIAL_PASSWORD_HOURS"])
    if user.must_change_password and now - user.password_changed_at > initial_limit:
        record("login", actor=user, outcome="failure", reason="initial_password_expired")
        raise LoginFailed(_("初始密码已过期，请联系系统管理员重新设置。"))
    if needs_rehash(user.password_hash) or not is_normalised(password):
        user.password_hash = hash_password(password)
    if user.mfa_enabled:
        record("login_password", actor=user)
        db.session.flush()
        return user
    complete_login(user, now)
    return user


def dormant_before(now: datetime) -> datetime | None:
    """Accounts last used before this moment are dormant (None: dormancy is switched off)."""
    days = int(current_app.config["DORMANT_DAYS"])
    return now - timedelta(days=days) if days > 0 else None


def is_dormant(user: User, now: datetime) -> bool:
    cutoff = dormant_before(now)
    return cutoff is not None and user.last_used_at < cutoff


def disable_dormant(user: User) -> None:
    """Mark a dormant account inactive (an administrator re-enables it), ending its sessions."""
    user.active = False
    end_all_sessions(user)
    record(
        "user_deactivate",
        actor=None,
        object_type="user",
        object_id=user.id,
        reason="dormant",
        last_used=user.last_used_at.isoformat(timespec="seconds"),
    )
    db.session.flush()


def complete_login(user: User, now: datetime, **detail: str) -> None:
    """Every factor is proven: reset the failure count and record the login."""
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    record("login", actor=user, **detail)
    db.session.flush()


def register_failure(user: User, now: datetime) -> None:
    """Count a failed password or code; the fifth in a row locks the account for 30 minutes."""
    user.failed_logins += 1
    if user.failed_logins >= current_app.config["LOGIN_MAX_FAILURES"]:
        user.locked_until = now + timedelta(minutes=current_app.config["LOGIN_LOCK_MINUTES"])
        user.failed_logins = 0
        record("account_locked", actor=user, object_type="user", object_id=user.id)
    db.session.flush()


def end_all_sessions(user: User, reason: str = "revoked") -> None:
    """Invalidate every session of ``user`` (their cookies name an older session version)."""
    user.session_version += 1
    sessions.end_all(user, reason)


def change_password(user: User, current: str, new: str, *, now: datetime | None = None) -> None:
    """Change one's own password; ends every other session. Raises :class:`PasswordRejected`."""
    if not verify_password(user.password_hash, current):
        record("password_change", actor=user, outcome="failure", reason="current_password")
        raise PasswordRejected("current_password", [_("当前密码不正确。")])
    problems = password_problems(new, email=user.email, context=(user.organisation.name,))
    if verify_password(user.password_hash, new):
        problems.append(_("新密码不能与当前密码相同。"))
    if problems:
        raise PasswordRejected("new_password", problems)
    user.password_hash = hash_password(new)
    user.must_change_password = False
    user.password_changed_at = now or utcnow()
    end_all_sessions(user)
    record("password_change", actor=user, object_type="user", object_id=user.id)
    db.session.flush()


def password_max_age(user: User) -> timedelta | None:
    """How long the user's password stays valid, or None when it does not expire."""
    key = "PASSWORD_MAX_AGE_DAYS_ADMIN" if user.is_administrator else "PASSWORD_MAX_AGE_DAYS"
    days = int(current_app.config[key])
    return timedelta(days=days) if days > 0 else None


def password_expired(user: User, *, now: datetime | None = None) -> bool:
    """True when the user's password is older than their role allows (等保 定期更换)."""
    max_age = password_max_age(user)
    return max_age is not None and (now or utcnow()) - user.password_changed_at > max_age
