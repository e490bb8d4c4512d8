"""Audit records of refused requests: authorisation denials, CSRF and validation failures.

SECURITY.md row 32 lists them with the actions. They are noted where the refusal is decided and
written by one ``after_request`` hook:

* ``access_denied`` — a 403 (a role wall, a token's missing scope, a service's refusal), or a 404
  from an access check that found the object but owned by someone else
  (:func:`deny_existing`). A 404 for an id that does not exist is not a refusal and is not
  recorded, so a bot walking ids leaves no trail of its misses.
* ``csrf_failure`` — a form without a valid CSRF token (:func:`feedback.errors.handle_csrf`).
* ``validation_failure`` — a 422 to a request that changes something: the form or the API body
  came back with its errors (the person's text kept, nothing saved).

A refused request writes nothing else, so its record is written in a transaction of its own, after
the request's pending work is rolled back. Anyone can send refusals as fast as they can send
requests, so they are audited up to ``AUDIT_REFUSALS_LIMIT`` per client address (default 30 per
minute, counted in the rate limiter's storage); past it a refusal is only logged until the window
passes. The record's object is the one the URL names (``submission`` 7) or else the route.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app, g, request
from flask_login import current_user
from limits import parse
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from feedback.audit.services import record
from feedback.extensions import db, limiter
from feedback.models import User

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def acting_user_or_none() -> User | None:
    """The logged-in user, or the API token's owner, or None for an anonymous request."""
    user = getattr(current_user, "_get_current_object", lambda: None)()
    if isinstance(user, User) and user.is_authenticated:
        return user
    api_user = g.get("api_user")
    return api_user if isinstance(api_user, User) else None


def write_now(
    action: str,
    *,
    actor: User | None,
    object_type: str,
    object_id: int | str,
    outcome: str = "failure",
    **detail: Any,
) -> None:
    """Write one audit record in a transaction of its own (what the request had pending is
    dropped). A database failure is logged and the request still gets its answer."""
    from feedback.database import write_after_read

    actor_id = actor.id if actor is not None else None
    db.session.rollback()
    write_after_read()  # on SQLite the write's transaction then takes the lock up front
    try:
        actor = db.session.get(User, actor_id) if actor_id is not None else None
        record(action, actor=actor, object_type=object_type, object_id=object_id,
               outcome=outcome, **detail)  # fmt: skip
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("could not write the audit record of %s", action)


def _within_budget() -> bool:
    """Count one audited refusal from this address; False once the allowance is spent."""
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return True
    item = parse(str(current_app.config["AUDIT_REFUSALS_LIMIT"]))
    return bool(limiter.limiter.hit(item, "audit-refusal", request.remote_addr or "-"))


def refuse(action: str, *, object_type: str | None = None, object_id: int | str | None = None,
           **detail: Any) -> None:  # fmt: skip
    """Note that this request is refused; the record is written when its response is ready."""
    g.audit_refusal = (action, object_type, object_id, detail)


def deny_existing(object_type: str, object_id: int) -> None:
    """An access check found ``object_type`` ``object_id`` but not for this user (a 404)."""
    refuse("access_denied", object_type=object_type, object_id=object_id, reason="not_visible")


def deny_if_exists(model: Any, object_id: int) -> None:
    """After an access check answered 404: audit a denial if the object exists (someone else's),
    not if the id names nothing. Reads the key only; the object itself is never loaded."""
    from feedback.extensions import db

    if db.session.scalar(select(model.id).where(model.id == object_id)) is not None:
        deny_existing(str(model.__tablename__), object_id)


def _url_object() -> tuple[str, int | str]:
    """The object the URL names (its first ``…_id`` argument), else the route."""
    for name, value in (request.view_args or {}).items():
        if name.endswith("_id"):
            return name.removesuffix("_id"), value
    return "route", request.endpoint or request.path


def _noted(response: Response) -> tuple[str, str | None, int | str | None, dict[str, Any]] | None:
    noted: tuple[str, str | None, int | str | None, dict[str, Any]] | None = g.pop(
        "audit_refusal", None
    )
    status = response.status_code
    if noted is not None and (noted[0] != "access_denied" or status in (403, 404)):
        return noted
    if status == 403:
        return "access_denied", None, None, {"reason": "forbidden"}
    if status == 422 and request.method not in SAFE_METHODS:
        return "validation_failure", None, None, {}
    return None


def audit_refusal(response: Response) -> Response:
    """The ``after_request`` hook: one record for a refused request, within the budget."""
    noted = _noted(response)
    if noted is None:
        return response
    action, object_type, object_id, detail = noted
    if not _within_budget():
        log.warning("%s on %s %s not audited: over AUDIT_REFUSALS_LIMIT for %s",
                    action, request.method, request.path, request.remote_addr)  # fmt: skip
        return response
    if object_type is None or object_id is None:
        object_type, object_id = _url_object()
    write_now(
        action,
        actor=acting_user_or_none(),
        object_type=object_type,
        object_id=object_id,
        method=request.method,
        path=request.path,
        status=response.status_code,
        **detail,
    )
    return response


def install(app: Flask) -> None:
    """Register the hook (the audit module's part of the request cycle)."""
    app.after_request(audit_refusal)
