"""The API blueprint and its request machinery: bearer authentication, scopes, parsing with the
pydantic schemas, and the registry of operations the OpenAPI document is built from.

Every operation is declared once with :func:`operation`; the same schema classes validate the
request and describe it in ``/api/v1/openapi.json``, so the two cannot drift apart.
"""

from __future__ import annotations

import json
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, g, request
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from feedback.api import tokens
from feedback.api.problems import ApiError
from feedback.extensions import db
from feedback.filing.text import nfc
from feedback.i18n import gettext as _
from feedback.i18n import lazy_gettext as _l
from feedback.models import ApiToken, Scope, User

bp = Blueprint("api", __name__, url_prefix="/api/v1")

# Reachable without a token: the description of the API, no data.
PUBLIC_ENDPOINTS = frozenset({"api.openapi"})

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Operation:
    """One endpoint as the OpenAPI document describes it."""

    method: str
    path: str
    endpoint: str
    summary: str
    tag: str
    scope: Scope
    status: int = 200
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    # Media types of a file answer instead of JSON (a workbook, a CSV, an attachment).
    files: tuple[str, ...] = ()
    multipart: bool = False
    description: str = ""
    extra_statuses: tuple[int, ...] = field(default_factory=tuple)


OPERATIONS: list[Operation] = []


# -- who is calling ----------------------------------------------------------------------------


def api_user() -> User:
    """The owner of the request's token: every service call acts as this user."""
    user = g.api_user
    assert isinstance(user, User)
    return user


def api_token() -> ApiToken:
    token = g.api_token
    assert isinstance(token, ApiToken)
    return token


def rate_key() -> str:
    """Rate limits count per token, or per address without one.

    Keyed by a hash of the whole token, not its public prefix: someone who saw a prefix in a
    list cannot use up its owner's allowance with forged tokens.
    """
    raw = request.headers.get("Authorization", "").partition(" ")[2].strip()
    if raw.startswith(tokens.PREFIX):
        return "api-token:" + tokens.hash_secret(raw)[:32]
    return "api-ip:" + (request.remote_addr or "")


def address_key() -> str:
    return "api-address:" + (request.remote_addr or "")


def rate_limit() -> str:
    return str(current_app.config["RATELIMIT_API"])


def address_limit() -> str:
    return str(current_app.config["RATELIMIT_API_ADDRESS"])


@bp.before_request
def authenticate() -> None:
    """Bearer token only: the API never reads the session cookie (so it needs no CSRF token)."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    scheme, _sep, raw = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise ApiError(401, _("请在 Authorization 请求头中以 Bearer 方式提供 API 令牌。"))
    token = tokens.authenticate(raw.strip())
    if token is None:
        db.session.commit()  # the audit row of a refused real token, if any
        raise ApiError(401, _("API 令牌无效、已过期或已吊销。"))
    g.api_token = token
    g.api_user = token.owner
    if db.session.is_modified(token):
        db.session.commit()  # the last use, stamped at most once a minute


@bp.after_request
def no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def require_scope(scope: Scope) -> None:
    if scope not in tokens.effective_scopes(api_token()):
        raise ApiError(
            403,
            _("该令牌没有“%(scope)s”权限范围，或令牌所有者的角色不允许此操作。", scope=scope.value),
        )


# -- parsing -----------------------------------------------------------------------------------

_MESSAGES = {
    "missing": _l("必填项。"),
    "extra_forbidden": _l("不允许的字段。"),
    "string_too_long": _l("内容过长。"),
    "string_too_short": _l("内容过短。"),
    "string_pattern_mismatch": _l("格式不正确。"),
    "string_type": _l("应为字符串。"),
    "int_parsing": _l("应为整数。"),
    "int_type": _l("应为整数。"),
    "bool_parsing": _l("应为 true 或 false。"),
    "bool_type": _l("应为 true 或 false。"),
    "enum": _l("取值不在允许范围内。"),
    "literal_error": _l("取值不在允许范围内。"),
    "greater_than_equal": _l("数值过小。"),
    "less_than_equal": _l("数值过大。"),
    "list_type": _l("应为数组。"),
    "dict_type": _l("应为对象。"),
    "model_type": _l("应为对象。"),
    "too_long": _l("项目过多。"),
    "date_from_datetime_parsing": _l("日期格式应为 YYYY-MM-DD。"),
    "date_parsing": _l("日期格式应为 YYYY-MM-DD。"),
    "date_type": _l("日期格式应为 YYYY-MM-DD。"),
}


def field_errors(details: list[ErrorDetails]) -> dict[str, list[str]]:
    """pydantic's errors as the problem document's ``errors``: field path -> Chinese messages."""
    errors: dict[str, list[str]] = {}
    for detail in details:
        where = ".".join(str(part) for part in detail["loc"]) or ""
        message = str(_MESSAGES.get(detail["type"], _l("取值无效。")))
        errors.setdefault(where, []).append(message)
    return errors


M = TypeVar("M", bound=BaseModel)


def parse_json(model: type[M]) -> M:
    """The request's JSON body, validated by ``model``."""
    if request.mimetype != "application/json":
        raise ApiError(415, _("请求正文须为 application/json。"))
    try:
        data = json.loads(request.get_data(cache=False))
    except ValueError:
        raise ApiError(400, _("请求正文不是有效的 JSON。")) from None
    return validate(model, incoming(data))


# C0 controls other than tab, line feed and carriage return: nobody types them, PostgreSQL
# cannot store NUL, and the others would be silently dropped by the text cleaning.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def incoming(data: Any, where: str = "") -> Any:
    """The decoded JSON body with every string (keys too) in NFC (SECURITY.md row 18).

    The one way in for the API's JSON text, as :class:`feedback.forms.Form` is for the web
    forms. A control character is refused with a 400 naming the field, before anything is
    validated or written, rather than removed without telling the caller.
    """
    if isinstance(data, str):
        if _CONTROL.search(data):
            raise ApiError(
                400,
                _("请求内容含有不允许的控制字符（如 NUL），请删除后重试。"),
                errors={where[:100]: [_("含有不允许的控制字符。")]},
            )
        return nfc(data)
    if isinstance(data, list):
        return [incoming(item, f"{where}.{index}".lstrip(".")) for index, item in enumerate(data)]
    if isinstance(data, dict):
        return {
            incoming(key, where): incoming(value, f"{where}.{key}".lstrip("."))
            for key, value in data.items()
        }
    return data


def validate(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ApiError(
            422, _("请求内容未通过校验。"), errors=field_errors(error.errors())
        ) from None


def _is_list(annotation: Any) -> bool:
    return typing.get_origin(annotation) is list


def parse_query(model: type[M]) -> M:
    """The query string, validated by ``model`` (repeated parameters for list fields).

    An unknown parameter is refused, as an unknown field of a body is: a misspelt filter
    (``statuss=accepted``) would otherwise answer every submission as if it had filtered.
    """
    known = {info.alias or name for name, info in model.model_fields.items()}
    unknown = sorted(key for key in request.args if key not in known)
    if unknown:
        raise ApiError(
            422,
            _("请求内容未通过校验。"),
            errors={key[:100]: [str(_MESSAGES["extra_forbidden"])] for key in unknown[:20]},
        )
    data: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        key = info.alias or name
        if key not in request.args:
            continue
        data[key] = (
            request.args.getlist(key) if _is_list(info.annotation) else request.args.get(key)
        )
    return validate(model, incoming(data))


def _json_response(result: BaseModel, status: int) -> Response:
    return Response(result.model_dump_json(), status=status, mimetype="application/json")


def operation(
    rule: str,
    method: str,
    *,
    summary: str,
    tag: str,
    scope: Scope,
    status: int = 200,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    files: tuple[str, ...] = (),
    multipart: bool = False,
    description: str = "",
    extra_statuses: tuple[int, ...] = (),
) -> Callable[[F], F]:
    """Declare an endpoint: its route, its scope, and the schemas of its request and answer.

    The view receives ``body=`` and ``query=`` already validated and returns a schema instance
    (or a ready :class:`Response` for files and redirects).
    """

    def decorator(view: F) -> F:
        def handler(**kwargs: Any) -> Response:
            require_scope(scope)
            if query is not None:
                kwargs["query"] = parse_query(query)
            if body is not None:
                kwargs["body"] = parse_json(body)
            result = view(**kwargs)
            if isinstance(result, Response):
                return result
            assert isinstance(result, BaseModel)
            return _json_response(result, status)

        handler.__doc__ = view.__doc__
        bp.add_url_rule(rule, endpoint=view.__name__, view_func=handler, methods=[method])
        OPERATIONS.append(
            Operation(
                method=method.lower(),
                path=bp.url_prefix + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule),  # type: ignore[operator]
                endpoint=view.__name__,
                summary=summary,
                tag=tag,
                scope=scope,
                status=status,
                body=body,
                query=query,
                response=response,
                files=files,
                multipart=multipart,
                description=description or (view.__doc__ or "").strip(),
                extra_statuses=extra_statuses,
            )
        )
        return view

    return decorator
