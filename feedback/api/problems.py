"""Errors of the API as ``application/problem+json`` (RFC 9457), with Chinese titles.

``type`` is a URI naming the kind of problem (documented in docs/api.md); ``errors`` maps a field
to its messages for validation problems.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response, request
from flask.globals import request_ctx
from werkzeug.exceptions import HTTPException

from feedback.i18n import gettext as _

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "/api/v1/problems/"


def _titles() -> dict[int, tuple[str, str]]:
    return {
        400: ("bad-request", _("请求无效")),
        401: ("unauthorized", _("未认证")),
        403: ("forbidden", _("没有权限")),
        404: ("not-found", _("资源不存在")),
        405: ("method-not-allowed", _("不支持的操作")),
        409: ("conflict", _("操作冲突")),
        413: ("too-large", _("内容过大")),
        415: ("unsupported-media-type", _("不支持的内容类型")),
        422: ("validation", _("内容未通过校验")),
        429: ("rate-limited", _("请求过于频繁")),
        500: ("server-error", _("系统错误")),
    }


class ApiError(Exception):
    """An error the API answers with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        *,
        errors: dict[str, list[str]] | None = None,
        kind: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or str(status))
        self.status = status
        self.detail = detail
        self.errors = errors
        self.kind = kind
        self.headers = headers or {}


def problem(
    status: int,
    detail: str | None = None,
    *,
    errors: dict[str, list[str]] | None = None,
    kind: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    """The problem+json response for ``status``."""
    slug, title = _titles().get(status, ("error", _("请求未能完成")))
    body: dict[str, Any] = {
        "type": TYPE_BASE + (kind or slug),
        "title": title,
        "status": status,
        "detail": detail or title,
    }
    if errors:
        body["errors"] = errors
    body.update(extra)
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM_JSON)
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def from_error(error: ApiError) -> Response:
    return problem(
        error.status, error.detail, errors=error.errors, kind=error.kind, headers=error.headers
    )


def http_problem(error: HTTPException) -> Response:
    """A Werkzeug error (404, 405, 413, 429 …) as a problem document."""
    code = error.code or 500
    headers: dict[str, str] = {}
    allowed = getattr(error, "valid_methods", None)
    if code == 405 and allowed and not _routable(allowed):
        code = 404  # e.g. an id too large for any row: nothing is at this URL by any method
    elif code == 405 and allowed:
        headers["Allow"] = ", ".join(allowed)
    return problem(code, headers=headers)


def _routable(methods: list[str]) -> bool:
    """True if some method would reach a route at this URL (werkzeug may answer 405 for a path
    that no rule accepts once its converters have had their say)."""
    adapter = request_ctx.url_adapter
    if adapter is None:
        return False
    for method in methods:
        try:
            adapter.match(request.path, method=method)
        except HTTPException:
            continue
        return True
    return False


def is_api_request(path: str) -> bool:
    """True for URLs of the JSON API (answered with problems even when no route matched)."""
    return path == "/api/v1" or path.startswith("/api/v1/")
