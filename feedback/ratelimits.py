"""Per-user allowances counted in the rate limiter's storage (SECURITY.md row 17).

Exports (the queue export on the web, the audit CSV and the API's exports) share one allowance per
person, ``RATELIMIT_EXPORT`` (default 10 per hour): so a person cannot multiply it by switching
between the web page and an API token. The count lives in Flask-Limiter's storage
(``RATELIMIT_STORAGE_URI``; Redis in production, so every gunicorn worker counts together) and is
switched off with the other limits (``RATELIMIT_ENABLED``, off in tests unless a test turns it on).
"""

from __future__ import annotations

import math
import time

from flask import current_app
from limits import parse

from feedback.extensions import limiter
from feedback.i18n import ngettext
from feedback.models import User


def spend_export(user: User) -> int | None:
    """Count one export by ``user``; past the allowance, the seconds to wait (else None)."""
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return None
    item = parse(str(current_app.config["RATELIMIT_EXPORT"]))
    if limiter.limiter.hit(item, "export", str(user.id)):
        return None
    reset_at = limiter.limiter.get_window_stats(item, "export", str(user.id)).reset_time
    return max(1, math.ceil(reset_at - time.time()))


def export_refusal(wait_seconds: int) -> str:
    """The explanation shown (page or API problem) when the export allowance is spent."""
    minutes = max(1, math.ceil(wait_seconds / 60))
    amount = parse(str(current_app.config["RATELIMIT_EXPORT"])).amount
    message: str = ngettext(
        "导出过于频繁：已达到上限（%(amount)d 次）。请在 %(num)d 分钟后再试。",
        "导出过于频繁：已达到上限（%(amount)d 次）。请在 %(num)d 分钟后再试。",
        minutes,
        amount=amount,
    )
    return message
