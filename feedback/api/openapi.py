"""The OpenAPI 3.1 document, assembled from the registered operations and their pydantic schemas.

pydantic emits JSON Schema 2020-12, which is what OpenAPI 3.1 uses, so the schemas go into
``components`` unchanged; only the document around them is built here.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from feedback.api.core import OPERATIONS, Operation
from feedback.api.problems import PROBLEM_JSON
from feedback.api.schemas import Problem

REF = "#/components/schemas/{model}"

STATUS_TEXT = {
    400: "请求无效（如 JSON 格式错误）",
    401: "未提供令牌，或令牌无效、过期、已吊销",
    403: "令牌的权限范围或所有者的角色不允许此操作",
    404: "资源不存在，或属于其他单位",
    409: "状态冲突或版本已过期",
    413: "内容过大",
    415: "不支持的内容类型",
    422: "内容未通过校验（见 errors）",
    429: "请求过于频繁",
}


def _statuses(op: Operation) -> list[int]:
    codes = [400, 401, 403, 422, 429]
    if "{" in op.path:
        codes.append(404)
    if op.body is not None or op.multipart:
        codes += [409, 413, 415]
    codes += list(op.extra_statuses)
    return sorted(set(codes))


def _models() -> list[tuple[type[BaseModel], Any]]:
    seen: list[tuple[type[BaseModel], Any]] = [(Problem, "serialization")]
    for op in OPERATIONS:
        for model, mode in (
            (op.body, "validation"),
            (op.query, "validation"),
            (op.response, "serialization"),
        ):
            if model is not None and (model, mode) not in seen:
                seen.append((model, mode))
    return seen


def _parameters(op: Operation, properties: dict[str, Any]) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = []
    for name in _path_names(op.path):
        params.append(
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
            }
        )
    for name, declared in properties.items():
        schema = _not_null(declared)
        param: dict[str, Any] = {"name": name, "in": "query", "required": False, "schema": schema}
        if schema.get("description"):
            param["description"] = schema["description"]
        if _is_array(schema):
            param["style"], param["explode"] = "form", True
        params.append(param)
    return params


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent or has a value: ``X | None`` is described as ``X``."""
    alternatives = [a for a in schema.get("anyOf", []) if a.get("type") != "null"]
    if len(alternatives) != 1:
        return schema
    rest = {k: v for k, v in schema.items() if k not in ("anyOf", "default")}
    return {**rest, **alternatives[0]}


def _is_array(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "array" or any(
        alt.get("type") == "array" for alt in schema.get("anyOf", [])
    )


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def document() -> dict[str, Any]:
    """The whole OpenAPI document."""
    models = _models()
    refs, defs = models_json_schema(models, ref_template=REF)
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    paths: dict[str, dict[str, Any]] = {}
    problem = {PROBLEM_JSON: {"schema": refs[(Problem, "serialization")]}}
    for op in OPERATIONS:
        query_props: dict[str, Any] = {}
        if op.query is not None:
            name = refs[(op.query, "validation")]["$ref"].rsplit("/", 1)[-1]
            query_props = schemas[name]["properties"]
        entry: dict[str, Any] = {
            "operationId": op.endpoint,
            "summary": op.summary,
            "description": op.description + f"\n\n权限范围：`{op.scope.value}`",
            "tags": [op.tag],
            "parameters": _parameters(op, query_props),
            "responses": {},
        }
        if op.body is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": refs[(op.body, "validation")]}},
            }
        if op.multipart:
            entry["requestBody"] = {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "required": ["file"],
                            "properties": {"file": {"type": "string", "format": "binary"}},
                        }
                    }
                },
            }
        if op.response is not None:
            ok = {"application/json": {"schema": refs[(op.response, "serialization")]}}
        else:
            ok = {media: {"schema": {"type": "string", "format": "binary"}} for media in op.files}
        entry["responses"][str(op.status)] = {"description": "成功", "content": ok}
        for code in _statuses(op):
            entry["responses"][str(code)] = {"description": STATUS_TEXT[code], "content": problem}
        paths.setdefault(op.path, {})[op.method] = entry
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "规划实施反馈平台 API",
            "version": "1.0.0",
            "description": "《“十四五”危险化学品安全生产规划方案》实施情况反馈平台的 JSON 接口。"
            "以 Bearer 令牌认证；错误为 application/problem+json（RFC 9457）。见 docs/api.md。",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "tags": [{"name": t} for t in sorted({op.tag for op in OPERATIONS})],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "fbk_…"}
            },
        },
    }
