"""Error pages for people: Chinese, friendly, with no internals (SECURITY.md row 37)."""

from __future__ import annotations

import logging
import uuid

from flask import Flask, render_template, request
from flask.globals import request_ctx
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from feedback.api.problems import http_problem, is_api_request, problem
from feedback.audit import refusals
from feedback.extensions import db
from feedback.i18n import gettext as _

log = logging.getLogger(__name__)


def _messages() -> dict[int, tuple[str, str]]:
    return {
        400: (_("请求无效"), _("提交的内容无法处理，请返回上一页重试。")),
        403: (_("没有权限"), _("您的账户没有执行此操作的权限。如需开通，请联系联合会系统管理员。")),
        404: (_("页面不存在"), _("您要找的页面不存在，或您没有查看它的权限。")),
        405: (_("不支持的操作"), _("此页面不支持该操作。")),
        409: (_("操作冲突"), _("该内容已被他人修改或状态已变化，请刷新后重试。")),
        413: (
            _("文件过大"),
            _(
                "上传的文件超过了大小限制（单个文件不超过 20 MB，一次提交合计不超过 25 MB）。"
                "请压缩或拆分后重新上传。"
            ),
        ),
        429: (_("操作过于频繁"), _("请求过于频繁，请稍后再试。")),
        500: (_("系统错误"), _("服务器处理请求时出错，我们已记录此问题。请稍后重试。")),
    }


def render_error(
    code: int, message: str | None = None, incident: str | None = None
) -> ResponseReturnValue:
    """The error page for ``code``; ``message`` overrides the default explanation."""
    title, default = _messages().get(code, (_("出错了"), _("请求未能完成。")))
    if request_ctx.url_adapter is None:
        # The request could not even be routed (e.g. an untrusted Host): no page can be built.
        return f"{code} {title}", code, {"Content-Type": "text/plain; charset=utf-8"}
    return (
        render_template(
            "errors/error.html",
            code=code,
            title=title,
            message=message or default,
            incident=incident,
        ),
        code,
    )


def handle_csrf(error: CSRFError) -> ResponseReturnValue:
    refusals.refuse("csrf_failure", reason=error.description)
    return render_error(
        400,
        _("表单已失效或来源无法验证（CSRF）。请返回上一页刷新后重新提交；您填写的内容仍在原页面。"),
    )


def handle_http(error: HTTPException) -> ResponseReturnValue:
    if error.code is None or error.code < 400:
        return error
    if error.code >= 500:
        db.session.rollback()
    if is_api_request(request.path):
        # No API route matched (unknown path, wrong method): still a problem document.
        return http_problem(error)
    return render_error(error.code)


def handle_unexpected(error: Exception) -> ResponseReturnValue:
    """Last resort: roll back, log with an incident ID, show only the ID."""
    if isinstance(error, HTTPException) and not isinstance(error, InternalServerError):
        return handle_http(error)
    db.session.rollback()
    incident = uuid.uuid4().hex[:12]
    log.exception("unhandled error %s on %s %s", incident, request.method, request.path)
    if is_api_request(request.path):
        return problem(500, incident=incident)
    return render_error(500, incident=incident)


def init_errors(app: Flask) -> None:
    """Register the handlers."""
    app.register_error_handler(CSRFError, handle_csrf)
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(Exception, handle_unexpected)
