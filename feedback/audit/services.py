"""Writing audit records, in the same transaction as the action they describe."""

from __future__ import annotations

import json
from typing import Any

from flask import has_request_context, request

from feedback.extensions import db
from feedback.models import AuditRecord, User


def record(
    action: str,
    *,
    actor: User | None,
    object_type: str | None = None,
    object_id: int | str | None = None,
    outcome: str = "success",
    actor_email: str | None = None,
    **detail: Any,
) -> AuditRecord:
    """Add an audit row to the session (the caller's commit writes it with the action)."""
    row = AuditRecord(
        actor_id=actor.id if actor else None,
        actor_email=actor.email if actor else actor_email,
        action=action,
        object_type=object_type,
        object_id=str(object_id) if object_id is not None else None,
        outcome=outcome,
        ip=request.remote_addr if has_request_context() else None,
        detail=json.dumps(detail, ensure_ascii=False, sort_keys=True) if detail else None,
    )
    db.session.add(row)
    return row
