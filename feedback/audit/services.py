"""Writing audit records, in the same transaction as the action they describe.

The hash chain is filled in at flush time (:mod:`feedback.audit.chain`), so a record added here
and one added with ``db.session.add`` chain alike, in the order they were added.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from flask import g, has_app_context, has_request_context, request

from feedback.extensions import db
from feedback.models import AuditRecord, User


def current_request_id() -> str | None:
    """An id shared by every record of this request (or CLI command), to tie them together."""
    if not has_app_context():
        return None
    if "audit_request_id" not in g:
        g.audit_request_id = uuid.uuid4().hex
    return str(g.audit_request_id)


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
    """Add an audit row to the session (the caller's commit writes it with the action).

    An action that names no object concerns the actor's own account (login, logout, a second
    factor): the object is then that user, so every record names one (SECURITY.md row 32).
    """
    if object_type is None and object_id is None and actor is not None:
        object_type, object_id = "user", actor.id
    row = AuditRecord(
        actor_id=actor.id if actor else None,
        actor_email=actor.email if actor else actor_email,
        actor_roles=",".join(sorted(actor.roles)) if actor else None,
        actor_org_id=actor.organisation_id if actor else None,
        action=action,
        object_type=object_type,
        object_id=str(object_id) if object_id is not None else None,
        outcome=outcome,
        ip=request.remote_addr if has_request_context() else None,
        request_id=current_request_id(),
        detail=json.dumps(detail, ensure_ascii=False, sort_keys=True) if detail else None,
    )
    db.session.add(row)
    return row
