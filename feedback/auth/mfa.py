"""The second factor: TOTP (RFC 6238) and single-use recovery codes (SECURITY.md row 4).

Codes are 6 digits over 30-second steps, accepted one step either side of now for clock drift.
Each accepted step is remembered on the user, so a code (or an older one) is never taken twice.

Recovery codes are stored as SHA-256 of a per-code random salt and the code, not with Argon2:
they are machine-generated with 80 bits of entropy, so a slow hash adds nothing against offline
guessing (that is what it buys for human-chosen passwords), while checking a typed code against
ten Argon2 hashes would cost seconds of CPU and hundreds of MiB per attempt on the login path.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from datetime import datetime

import pyotp
import segno
from flask import current_app
from markupsafe import Markup
from sqlalchemy import or_, update

from feedback.audit.services import record
from feedback.auth.services import LoginFailed, complete_login, end_all_sessions, register_failure
from feedback.extensions import db
from feedback.i18n import gettext as _
from feedback.models import RecoveryCode, User, utcnow

STEP_SECONDS = 30
DIGITS = 6
RECOVERY_CODE_COUNT = 10
# Crockford's base32: no i, l, o or u, so codes survive being read aloud or copied by hand.
_RECOVERY_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_RECOVERY_LENGTH = 16  # 80 bits
_CROCKFORD_FIXES = str.maketrans({"i": "1", "l": "1", "o": "0"})


class CodeRejected(Exception):
    """A TOTP or recovery code was wrong, reused or outside the time window."""


def new_secret() -> str:
    """A fresh random TOTP secret (160 bits, base32)."""
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(
        name=email, issuer_name=current_app.config["MFA_ISSUER"]
    )


def qr_svg(uri: str) -> Markup:
    """The QR code of ``uri`` as an inline ``<svg>`` element, drawn on the server.

    Markup is safe here: segno writes only path data, and no text of the URI (which holds the
    user's e-mail) appears in the SVG.
    """
    qr = segno.make(uri, error="m")
    svg = qr.svg_inline(
        scale=4,
        border=4,
        omitsize=True,  # sized by CSS, so it fits a phone screen
        svgclass="mfa-qr",
        lineclass=None,
        dark="#000",
        light="#fff",  # scannable on a dark page too
    )
    # nosemgrep: markup-of-non-literal -- segno's SVG of our own secret's URI: no user text
    return Markup(svg)  # noqa: S704  # nosec B704  # segno path data only


def time_step(now: datetime) -> int:
    """The RFC 6238 time step ``floor(unix_time / 30)`` of ``now``."""
    return int(now.timestamp()) // STEP_SECONDS


def _normalise(code: str) -> str:
    # Full-width digits from a Chinese input method, spaces and hyphens are forgiven.
    folded = unicodedata.normalize("NFKC", code)
    return "".join(ch for ch in folded if ch not in " -\t").casefold()


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step (now ± 1) whose code is ``code``, or None."""
    code = _normalise(code)
    if len(code) != DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = time_step(now)
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def accept_totp(user: User, code: str, now: datetime) -> None:
    """Take ``code`` as the user's second factor once; raises :class:`CodeRejected`."""
    if user.mfa_secret is None:
        raise CodeRejected
    step = matching_step(user.mfa_secret, code, now)
    if step is None:
        raise CodeRejected
    # One conditional UPDATE, not read-then-write: of two requests racing with the same code
    # (in two worker processes), the second waits for the first's row lock and then matches
    # no row, so it is refused.
    result = db.session.execute(
        update(User)
        .where(
            User.id == user.id,
            or_(User.mfa_last_step.is_(None), User.mfa_last_step < step),
        )
        .values(mfa_last_step=step)
        .execution_options(synchronize_session="fetch")
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise CodeRejected


def looks_like_totp(code: str) -> bool:
    """True if ``code`` has the shape of a 6-digit TOTP code (rather than a recovery code)."""
    normalised = _normalise(code)
    return len(normalised) == DIGITS and normalised.isdigit()


# -- recovery codes ----------------------------------------------------------------------------


def _hash_recovery(salt: str, code: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + code.encode("ascii")).hexdigest()


def _format_recovery(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def issue_recovery_codes(user: User) -> list[str]:
    """Replace the user's recovery codes with ten new ones; returns them for showing once."""
    codes = [
        "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        for _ in range(RECOVERY_CODE_COUNT)
    ]
    rows = []
    for code in codes:
        salt = secrets.token_hex(16)
        rows.append(RecoveryCode(salt=salt, code_hash=_hash_recovery(salt, code)))
    user.recovery_codes = rows
    return [_format_recovery(code) for code in codes]


def remaining_recovery_codes(user: User) -> int:
    """How many of the user's recovery codes are still unused."""
    return sum(1 for row in user.recovery_codes if row.used_at is None)


def accept_recovery_code(user: User, code: str, now: datetime) -> None:
    """Spend one unused recovery code; raises :class:`CodeRejected`."""
    typed = _normalise(code).translate(_CROCKFORD_FIXES)
    if len(typed) != _RECOVERY_LENGTH or not set(typed) <= set(_RECOVERY_ALPHABET):
        raise CodeRejected
    for row in user.recovery_codes:
        if row.used_at is None and hmac.compare_digest(
            row.code_hash, _hash_recovery(row.salt, typed)
        ):
            row.used_at = now
            return
    raise CodeRejected


# -- logging in -------------------------------------------------------------------------------


def verify_login(user: User, code: str, *, now: datetime | None = None) -> str:
    """The second step of logging in: a TOTP code or a recovery code.

    Returns how the user proved it (``"totp"`` or ``"recovery"``) and completes the login.
    A wrong code counts toward the same lockout as a wrong password; raises
    :class:`~feedback.auth.services.LoginFailed`.
    """
    now = now or utcnow()
    if user.locked_until is not None and user.locked_until > now:
        record("mfa_verify", actor=user, outcome="failure", reason="locked")
        db.session.flush()
        raise LoginFailed(_("账户已锁定，请稍后再试或联系安全管理员。"))
    method = "totp" if looks_like_totp(code) else "recovery"
    try:
        if method == "totp":
            accept_totp(user, code, now)
        else:
            accept_recovery_code(user, code, now)
    except CodeRejected:
        record("mfa_verify", actor=user, outcome="failure", method=method)
        register_failure(user, now)
        raise LoginFailed(_("验证码不正确或已使用过，请输入验证器上新的验证码。")) from None
    if method == "recovery":
        left = remaining_recovery_codes(user)
        record("mfa_recovery_used", actor=user, object_type="user", object_id=user.id, left=left)
    else:
        record("mfa_verify", actor=user)
    complete_login(user, now, mfa=method)
    return method


# -- enrolment and management ------------------------------------------------------------------


def enrol(user: User, secret: str, code: str, *, now: datetime | None = None) -> list[str]:
    """Confirm a new authenticator with its first code; returns the recovery codes to show.

    Every other session of the user ends (the caller logs this one in again): a session opened
    before the second factor existed should not outlive it.
    """
    now = now or utcnow()
    step = matching_step(secret, code, now)
    if step is None:
        record("mfa_enrol", actor=user, outcome="failure", reason="code")
        db.session.flush()
        raise CodeRejected
    user.mfa_secret = secret
    user.mfa_enabled_at = now
    user.mfa_last_step = step
    codes = issue_recovery_codes(user)
    end_all_sessions(user)
    record("mfa_enrol", actor=user, object_type="user", object_id=user.id)
    db.session.flush()
    return codes


def regenerate_recovery_codes(user: User, code: str, *, now: datetime | None = None) -> list[str]:
    """New recovery codes (the old ones stop working), confirmed with a current TOTP code."""
    now = now or utcnow()
    try:
        accept_totp(user, code, now)
    except CodeRejected:
        record("mfa_recovery_regenerate", actor=user, outcome="failure", reason="code")
        db.session.flush()
        raise
    codes = issue_recovery_codes(user)
    record("mfa_recovery_regenerate", actor=user, object_type="user", object_id=user.id)
    db.session.flush()
    return codes


def clear(user: User) -> None:
    """Remove the user's authenticator and recovery codes (they must enrol again)."""
    user.mfa_secret = None
    user.mfa_enabled_at = None
    user.mfa_last_step = None
    user.recovery_codes = []
