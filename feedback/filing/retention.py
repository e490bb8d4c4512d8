"""Old drafts: which go, when, and the purge itself (SECURITY.md rows 40 and 42).

A draft is purged only if it was never sent anywhere (not to the organisation's approver, not
to the federation) and nothing about it changed for ``DRAFT_RETENTION_DAYS``: its text
(``updated_at``) and its history (an attachment added or removed) are both older. Its author
sees it on the home page for ``DRAFT_WARNING_DAYS`` before that, with the date it will go.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import ColumnElement, Select, and_, exists, func, select

from feedback.audit.services import record
from feedback.extensions import db
from feedback.filing import uploads
from feedback.formatting import CHINA
from feedback.models import Event, Status, Submission, utcnow

# How long before its purge a draft is shown on its organisation's home page.
DRAFT_WARNING_DAYS = 30


@dataclass(frozen=True)
class DraftPurge:
    """What a purge removed (or, in a dry run, would remove)."""

    drafts: list[Submission]
    files: list[str]
    by_organisation: dict[int, int]


def retention() -> timedelta:
    return timedelta(days=int(current_app.config["DRAFT_RETENTION_DAYS"]))


def _latest_event() -> ColumnElement[datetime]:
    return (
        select(func.max(Event.at))
        .where(Event.submission_id == Submission.id)
        .correlate(Submission)
        .scalar_subquery()
    )


def _never_sent() -> ColumnElement[bool]:
    # Sent to the approver and returned, or withdrawn from there: someone's work, kept.
    left_draft = exists().where(
        Event.submission_id == Submission.id,
        Event.to_status.is_not(None),
        Event.to_status != Status.DRAFT,
    )
    return and_(Submission.status == Status.DRAFT, Submission.submitted_at.is_(None), ~left_draft)


def _untouched_since(moment: datetime) -> ColumnElement[bool]:
    touched = exists().where(Event.submission_id == Submission.id, Event.at >= moment)
    return and_(Submission.updated_at < moment, ~touched)


def stale_drafts(now: datetime, days: int | None = None) -> Select[Submission]:
    """Drafts never sent and unchanged for ``days`` (default: the configured retention)."""
    keep = timedelta(days=days) if days is not None else retention()
    return (
        select(Submission)
        .where(_never_sent(), _untouched_since(now - keep))
        .order_by(Submission.organisation_id, Submission.id)
    )


def purge_drafts(drafts: list[Submission], *, days: int) -> DraftPurge:
    """Delete ``drafts`` with their history and attachment rows; one audit record per
    organisation. Returns the stored file names to unlink *after* the commit (a failed commit
    then leaves files without rows, which ``sweep-uploads`` removes, never rows without files).
    """
    files = [a.stored_name for d in drafts for a in d.attachments]
    per_org = Counter(d.organisation_id for d in drafts)
    files_per_org = Counter(d.organisation_id for d in drafts for _a in d.attachments)
    for draft in drafts:
        db.session.delete(draft)
    for organisation_id, count in sorted(per_org.items()):
        record(
            "draft_purge",
            actor=None,
            object_type="organisation",
            object_id=organisation_id,
            drafts=count,
            files=files_per_org[organisation_id],
            days=days,
        )
    db.session.flush()
    return DraftPurge(drafts=drafts, files=files, by_organisation=dict(per_org))


def remove_files(upload_dir: Path, names: list[str]) -> int:
    """Unlink the stored files of purged attachments; returns how many were there."""
    removed = 0
    for name in names:
        path = uploads.stored_path(upload_dir, name)
        if path.exists():
            removed += 1
        uploads.remove_stored(upload_dir, name)
    return removed


@dataclass(frozen=True)
class DraftWarning:
    """A draft of the organisation that will be purged soon, for the home page."""

    id: int
    reference: str
    title: str
    purge_on: date


def drafts_due_for_purge(organisation_id: int, now: datetime | None = None) -> list[DraftWarning]:
    """The organisation's drafts purged within ``DRAFT_WARNING_DAYS`` (one query)."""
    now = now or utcnow()
    keep = retention()
    if keep <= timedelta(0):
        return []
    soon = now - keep + timedelta(days=DRAFT_WARNING_DAYS)
    query = (
        select(
            Submission.id,
            Submission.reference,
            Submission.title,
            Submission.updated_at,
            _latest_event(),
        )
        .where(
            Submission.organisation_id == organisation_id,
            _never_sent(),
            _untouched_since(soon),
        )
        .order_by(Submission.updated_at, Submission.id)
        .limit(20)
    )
    warnings = []
    for submission_id, reference, title, updated_at, latest in db.session.execute(query).all():
        last_change = max(updated_at, latest or updated_at)
        purge_at = max(last_change + keep, now)
        warnings.append(
            DraftWarning(submission_id, reference, title, purge_at.astimezone(CHINA).date())
        )
    return warnings
