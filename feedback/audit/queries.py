"""Searching the audit trail for the auditor: filters from the URL, keyset pages, newest first."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from werkzeug.datastructures import MultiDict

from feedback.extensions import db
from feedback.formatting import CHINA
from feedback.models import AuditRecord
from feedback.paging import MAX_ID

PAGE_SIZE = 50
OUTCOMES = ("success", "failure")


def _day(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


def _text(args: MultiDict[str, str], name: str, limit: int) -> str:
    return " ".join(args.get(name, "").split())[:limit]


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


@dataclass(frozen=True)
class AuditFilters:
    """The auditor's filters, as they appear in the URL. Dates are Beijing calendar days."""

    date_from: date | None = None
    date_to: date | None = None
    actor: str = ""  # part of the actor's e-mail, any case
    action: str = ""
    outcome: str = ""
    object_type: str = ""
    object_id: str = ""
    ip: str = ""

    @classmethod
    def from_args(cls, args: MultiDict[str, str]) -> AuditFilters:
        """Parse request arguments; anything malformed is ignored, never an error."""
        outcome = args.get("outcome", "")
        return cls(
            date_from=_day(args.get("from", "")),
            date_to=_day(args.get("to", "")),
            actor=_text(args, "actor", 254),
            action=_text(args, "action", 60),
            outcome=outcome if outcome in OUTCOMES else "",
            object_type=_text(args, "object_type", 40),
            object_id=_text(args, "object_id", 40),
            ip=_text(args, "ip", 45),
        )

    def to_args(self) -> dict[str, str]:
        """The filters as URL arguments (only those set)."""
        values = asdict(self)
        values["from"] = values.pop("date_from")
        values["to"] = values.pop("date_to")
        return {key: str(value) for key, value in values.items() if value}

    def as_detail(self) -> dict[str, str]:
        """What the export's own audit record says about the filter."""
        return self.to_args()

    def statement(self) -> Select[AuditRecord]:
        """SELECT the matching records (unordered)."""
        query = select(AuditRecord)
        if self.date_from:
            query = query.where(AuditRecord.at >= _beijing_midnight(self.date_from))
        if self.date_to:
            query = query.where(
                AuditRecord.at < _beijing_midnight(self.date_to + timedelta(days=1))
            )
        if self.actor:
            query = query.where(
                func.lower(AuditRecord.actor_email).like(_like_pattern(self.actor), escape="\\")
            )
        for column, value in (
            (AuditRecord.action, self.action),
            (AuditRecord.outcome, self.outcome),
            (AuditRecord.object_type, self.object_type),
            (AuditRecord.object_id, self.object_id),
            (AuditRecord.ip, self.ip),
        ):
            if value:
                query = query.where(column == value)
        return query


def _beijing_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=CHINA)


@dataclass(frozen=True)
class AuditPage:
    records: list[AuditRecord]
    older: int | None  # cursor for the next (older) page, if there is one


def page(filters: AuditFilters, before: int | None = None) -> AuditPage:
    """One page of matching records, newest first, starting below id ``before``."""
    query = filters.statement().order_by(AuditRecord.id.desc()).limit(PAGE_SIZE + 1)
    if before is not None:
        query = query.where(AuditRecord.id < min(before, MAX_ID))
    rows = list(db.session.scalars(query))
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return AuditPage(records=rows, older=rows[-1].id if more else None)


def choices() -> dict[str, list[str]]:
    """The actions and object types that occur, for the filter's drop-downs."""
    actions = db.session.scalars(select(AuditRecord.action).distinct().order_by("action"))
    types = db.session.scalars(
        select(AuditRecord.object_type)
        .where(AuditRecord.object_type.is_not(None))
        .distinct()
        .order_by("object_type")
    )
    return {"actions": list(actions), "object_types": [t for t in types if t]}


def context(filters: AuditFilters) -> dict[str, Any]:
    """What the filter form needs besides the filters themselves."""
    return {"filters": filters, "outcomes": OUTCOMES, **choices()}
