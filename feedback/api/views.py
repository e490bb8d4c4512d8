"""The API blueprint with every endpoint, its error handling and its OpenAPI document.

Exempt from the session login wall and from CSRF (see :func:`feedback.api.core.authenticate`):
a request is authenticated by its bearer token alone, never by a cookie, so a forged
cross-site request carries no credentials.
"""

from __future__ import annotations

import json
import logging
import uuid

from flask import Response
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from feedback.api import reference, reports, review, submissions  # noqa: F401 (their routes)
from feedback.api.core import address_key, address_limit, bp, rate_key, rate_limit
from feedback.api.openapi import document
from feedback.api.problems import ApiError, from_error, http_problem, problem
from feedback.exceptions import Conflict, DomainError, PermissionDenied, ValidationFailed
from feedback.extensions import db, limiter
from feedback.filing.kinds import KINDS
from feedback.i18n import gettext as _

__all__ = ["bp"]

log = logging.getLogger(__name__)

limiter.limit(rate_limit, key_func=rate_key)(bp)
# And per address, over all tokens: bounds the look-ups that random tokens can cause.
limiter.limit(address_limit, key_func=address_key)(bp)


@bp.route("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 description of this API (no token needed: it holds no data)."""
    body = json.dumps(document(), ensure_ascii=False)
    return Response(body, mimetype="application/json")


@bp.errorhandler(ApiError)
def _api_error(error: ApiError) -> Response:
    db.session.rollback()
    return from_error(error)


@bp.errorhandler(DomainError)
def _domain_error(error: DomainError) -> Response:
    """A service refused: the same rules and messages as the web pages, as problems."""
    db.session.rollback()
    if isinstance(error, ValidationFailed):
        return problem(422, str(error) or None, errors=_api_fields(error.errors))
    if isinstance(error, PermissionDenied):
        return problem(403, str(error) or None)
    if isinstance(error, Conflict):
        return problem(409, str(error) or None)
    return problem(400, str(error) or None)


def _api_fields(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """The services name a section by its key ("description"); in the API it is nested."""
    sections = {section.key for spec in KINDS.values() for section in spec.sections}
    return {(f"sections.{k}" if k in sections else k): v for k, v in errors.items()}


@bp.errorhandler(StaleDataError)
def _stale(error: StaleDataError) -> Response:
    db.session.rollback()
    return problem(409, _("该内容已被他人修改，请重新读取后再试。"), kind="stale-version")


@bp.errorhandler(HTTPException)
def _http(error: HTTPException) -> Response:
    db.session.rollback()
    return http_problem(error)


@bp.errorhandler(Exception)
def _unexpected(error: Exception) -> Response:
    """Last resort: roll back, log with an incident id, answer 500 with the id only."""
    db.session.rollback()
    incident = uuid.uuid4().hex[:12]
    log.exception("unhandled API error %s", incident)
    return problem(
        500, _("服务器处理请求时出错，事件编号 %(id)s。", id=incident), incident=incident
    )
