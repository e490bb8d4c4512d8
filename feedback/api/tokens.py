"""Use cases of API tokens: create (shown once), authenticate, revoke, list.

A token acts as its owner: every request runs the owner's permission checks in the services, and
the token's scopes can only narrow them (a scope the owner's roles do not allow is never used).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from feedback.audit.services import record
from feedback.database import write_after_read
from feedback.exceptions import PermissionDenied, ValidationFailed
from feedback.extensions import db
from feedback.filing.text import clean_text
from feedback.i18n import gettext as _
from feedback.models import ORG_ROLES, STAFF_ROLES, ApiToken, Role, Scope, User, utcnow

PREFIX = "fbk_"
NAME_MAX = 60
MAX_DAYS = 365
DEFAULT_DAYS = 90
LAST_USED_RESOLUTION = timedelta(minutes=1)
# "fbk_" + 8 hex digits (the public prefix) + "_" + 43 URL-safe characters (256 random bits).
TOKEN_SHAPE = re.compile(r"fbk_[0-9a-f]{8}_[A-Za-z0-9_-]{43}")

# Which roles make a scope usable at all. Administrators (三员) get no scope: the API exposes
# business data only.
SCOPE_ROLES: dict[Scope, frozenset[Role]] = {
    Scope.READ: ORG_ROLES | STAFF_ROLES,
    Scope.FILE: ORG_ROLES,
    Scope.REVIEW: STAFF_ROLES,
    Scope.COMPILE: frozenset({Role.COMPILER}),
}


def allowed_scopes(user: User) -> list[Scope]:
    """The scopes ``user``'s roles allow, in a fixed order."""
    return [scope for scope in Scope if user.has_role(*SCOPE_ROLES[scope])]


def effective_scopes(token: ApiToken) -> frozenset[Scope]:
    """What the token may do now: its scopes that its owner's current roles still allow."""
    return token.scopes & frozenset(allowed_scopes(token.owner))


def hash_secret(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass
class NewToken:
    token: ApiToken
    secret: str  # the whole bearer token, shown once


def create(
    actor: User,
    *,
    name: str,
    scopes: list[str],
    expires_days: int = DEFAULT_DAYS,
    now: datetime | None = None,
) -> NewToken:
    """A new token for ``actor`` (tokens are only ever created by their owner)."""
    errors: dict[str, list[str]] = {}
    name = clean_text(name, multiline=False)
    if not name:
        errors["name"] = [_("请填写令牌名称。")]
    elif len(name) > NAME_MAX:
        errors["name"] = [_("令牌名称不能超过 %(n)d 个字。", n=NAME_MAX)]
    wanted = {s.strip() for s in scopes if s.strip()}
    permitted = {scope.value for scope in allowed_scopes(actor)}
    if not permitted:
        raise PermissionDenied(_("您的角色不能使用 API 令牌。"))
    if not wanted:
        errors["scopes"] = [_("请至少选择一项权限范围。")]
    elif not wanted <= permitted:
        errors["scopes"] = [
            _("您的角色不能授予以下权限范围：%(s)s。", s="、".join(sorted(wanted - permitted)))
        ]
    if not 1 <= expires_days <= MAX_DAYS:
        errors["expires_days"] = [_("有效期须为 1 至 %(n)d 天。", n=MAX_DAYS)]
    if errors:
        raise ValidationFailed(errors)
    now = now or utcnow()
    public = PREFIX + secrets.token_hex(4)
    raw = f"{public}_{secrets.token_urlsafe(32)}"
    token = ApiToken(
        prefix=public,
        secret_hash=hash_secret(raw),
        owner_id=actor.id,
        name=name,
        scopes_text=",".join(s.value for s in Scope if s.value in wanted),
        created_at=now,
        expires_at=now + timedelta(days=expires_days),
    )
    token.owner = actor
    db.session.add(token)
    db.session.flush()
    record(
        "api_token_create",
        actor=actor,
        object_type="api_token",
        object_id=token.id,
        prefix=public,
        scopes=token.scopes_text,
        expires_at=token.expires_at.isoformat(),
    )
    return NewToken(token, raw)


def authenticate(raw: str, now: datetime | None = None) -> ApiToken | None:
    """The live token for a bearer string, with its use recorded; None for anything else.

    A refused token that names a real one (wrong secret, expired, revoked, owner deactivated)
    leaves a failure in the audit trail for its owner; random strings leave nothing.
    """
    if not TOKEN_SHAPE.fullmatch(raw):
        return None  # not even shaped like a token: no database look-up
    public = raw[: len(PREFIX) + 8]
    token = db.session.scalars(select(ApiToken).where(ApiToken.prefix == public)).one_or_none()
    if token is None:
        return None
    now = now or utcnow()
    reason = None
    if not hmac.compare_digest(token.secret_hash, hash_secret(raw)):
        reason = "wrong_secret"
    elif token.revoked_at is not None:
        reason = "revoked"
    elif not token.is_live(now):
        reason = "expired"
    elif not token.owner.is_active:
        reason = "owner_inactive"
    if reason is not None or _stamp_due(token, now):
        write_after_read()  # the GET's read ends; the write takes SQLite's lock up front
    if reason is not None:
        record(
            "api_token_refused",
            actor=None,
            actor_email=token.owner.email,
            object_type="api_token",
            object_id=token.id,
            outcome="failure",
            reason=reason,
        )
        return None
    if _stamp_due(token, now):
        token.last_used_at = now  # written at most once a minute, not on every request
    return token


def _stamp_due(token: ApiToken, now: datetime) -> bool:
    return token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION


def revoke(actor: User, token: ApiToken) -> None:
    """End a token: its owner may, and the security administrator may end anyone's."""
    if token.owner_id != actor.id and not actor.has_role(Role.SECURITY_ADMIN):
        raise PermissionDenied(_("您没有权限吊销该令牌。"))
    if token.revoked_at is not None:
        return
    token.revoked_at = utcnow()
    record(
        "api_token_revoke",
        actor=actor,
        object_type="api_token",
        object_id=token.id,
        owner_id=token.owner_id,
    )
    db.session.flush()


def tokens_of(user: User) -> list[ApiToken]:
    """The user's tokens, newest first."""
    query = select(ApiToken).where(ApiToken.owner_id == user.id)
    return list(db.session.scalars(query.order_by(ApiToken.id.desc())))


def all_tokens(actor: User) -> list[ApiToken]:
    """Every token (security administrator only), newest first."""
    if not actor.has_role(Role.SECURITY_ADMIN):
        raise PermissionDenied(_("只有安全管理员可以查看全部令牌。"))
    return list(db.session.scalars(select(ApiToken).order_by(ApiToken.id.desc())))
