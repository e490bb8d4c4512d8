"""Reading numbers from URLs without letting an oversized one reach the database.

SQLite stores at most 64-bit integers and PostgreSQL ``integer`` columns 32-bit ones: a URL such as
``/organisations/99999999999999999999`` or ``?page=1e30`` must give 404 or a sensible default,
never a 500 from the driver.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Flask, request
from werkzeug.routing import IntegerConverter, Map, ValidationError

# The largest id any table can hold (PostgreSQL ``integer``); a bigger number names nothing.
MAX_ID = 2**31 - 1
# More digits than MAX_ID has can never be a valid id; checked before converting to int.
_MAX_ID_DIGITS = len(str(MAX_ID))


def bounded_int(raw: str) -> int | None:
    """``raw`` as an int if it is plain ASCII digits no larger than :data:`MAX_ID`, else None.

    Every number read from a form or a query goes through here: ``str.isdigit`` is also true
    for "²" (which ``int`` refuses) and for numbers too large for any column, and either
    would otherwise end in a 500.
    """
    if not raw or not raw.isascii() or not raw.isdigit() or len(raw) > _MAX_ID_DIGITS:
        return None
    value = int(raw)
    return value if value <= MAX_ID else None


def expected_version(raw: str) -> int:
    """The version counter a form was loaded with; -1 (matches no row) when it is missing or
    malformed, so that a service's version check reports a conflict rather than a crash."""
    value = bounded_int(raw)
    return -1 if value is None else value


def bounded_ints(values: Iterable[str]) -> list[int]:
    """The values that :func:`bounded_int` accepts, as ints (the rest are ignored)."""
    return [number for raw in values if (number := bounded_int(raw)) is not None]


def page_arg(default: int = 1, maximum: int = 100_000) -> int:
    """The ``page`` query argument, clamped to 1..``maximum``; junk gives ``default``."""
    value = bounded_int(request.args.get("page", ""))
    if value is None:
        return default
    return max(1, min(value, maximum))


def int_arg(name: str) -> int | None:
    """The query argument ``name`` as an id-sized int (digits only, at most 2**31-1), else None."""
    return bounded_int(request.args.get(name, ""))


class BoundedIntegerConverter(IntegerConverter):
    """``<int:…>`` that answers 404 for numbers no row id can have (instead of a driver error)."""

    def __init__(
        self,
        map: Map,
        fixed_digits: int = 0,
        min: int | None = None,
        max: int | None = None,
        signed: bool = False,
    ) -> None:
        super().__init__(
            map,
            fixed_digits=fixed_digits,
            min=min,
            max=MAX_ID if max is None else max,
            signed=signed,
        )

    def to_python(self, value: str) -> Any:
        if len(value.lstrip("-")) > _MAX_ID_DIGITS:
            # Refuse before int() converts a 5,000-digit string.
            raise ValidationError()
        return super().to_python(value)


def register_converters(app: Flask) -> None:
    """Make every ``<int:…>`` URL part bounded. Call before any blueprint is registered."""
    app.url_map.converters["int"] = BoundedIntegerConverter
