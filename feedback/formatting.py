"""Template filters: times in China Standard Time, file sizes; menus' options."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from flask import Flask
from markupsafe import Markup

CHINA = ZoneInfo("Asia/Shanghai")


def china_today() -> date:
    """Today's date in Beijing: deadlines and "days left" are Beijing dates."""
    return datetime.now(CHINA).date()


# China has kept UTC+8 without summer time since 1991: a fixed offset formats a moment as the
# zone would, at a fraction of the cost (tables show dozens of times per page).
BEIJING = timezone(timedelta(hours=8), "CST")


def localtime(moment: datetime | None) -> str:
    """A UTC moment shown in Beijing time, e.g. 2026-11-28 23:05."""
    if moment is None:
        return ""
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def localtime_seconds(moment: datetime | None) -> str:
    """A UTC moment in Beijing time to the second, e.g. 2026-11-28 23:05:09 (audit records)."""
    if moment is None:
        return ""
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def filesize(size: int | None) -> str:
    """Bytes as a short human size: 812 B, 45 KB, 3.2 MB, 2.0 GB."""
    if size is None:
        return ""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    if size < 1024 * 1024 * 1024:
        return f"{size / 1024 / 1024:.1f} MB"
    return f"{size / 1024 / 1024 / 1024:.1f} GB"


def options(choices: Iterable[tuple[object, object]], selected: object = None) -> Markup:
    """``<option>`` elements for (value, label) pairs, the one whose value equals ``selected``
    (compared as text) selected; values and labels escaped.

    The filter menus of staff pages hold a few hundred options (tags, plan items, provinces,
    reviewers) that rarely change: rendered once per distinct menu and choice, not option by
    option through the template on every request.
    """
    pairs = tuple((str(value), str(label)) for value, label in choices)
    return _options(pairs, "" if selected is None else str(selected))


@lru_cache(maxsize=512)
def _options(pairs: tuple[tuple[str, str], ...], selected: str) -> Markup:
    return Markup("").join(
        Markup('<option value="{}"{}>{}</option>').format(
            value, Markup(" selected") if value == selected else "", label
        )
        for value, label in pairs
    )


def init_formatting(app: Flask) -> None:
    """Register the filters and the label tables templates use."""
    from feedback.filing.kinds import KINDS, SENSITIVITY_LABELS
    from feedback.filing.workflow import ACTION_LABELS, STATUS_LABELS

    app.jinja_env.filters["localtime"] = localtime
    app.jinja_env.filters["localtime_seconds"] = localtime_seconds
    app.jinja_env.filters["filesize"] = filesize
    from feedback.codes.regions import provinces
    from feedback.search import highlight, snippet

    app.jinja_env.globals.update(
        highlight=highlight,
        snippet=snippet,
        options=options,
        provinces=[(p.code, p.name) for p in provinces() if p.code < "700000"],
        kinds=KINDS,
        status_labels=STATUS_LABELS,
        action_labels=ACTION_LABELS,
        sensitivity_labels=SENSITIVITY_LABELS,
    )
