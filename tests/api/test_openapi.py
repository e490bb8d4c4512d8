"""The OpenAPI document is generated from the schemas the endpoints validate with, covers every
route, and its reference page is served from static/ under the site's CSP."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from feedback.api import schemas
from feedback.api.core import OPERATIONS


def test_the_document_is_openapi_31_and_public(client: FlaskClient) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"] == "3.1.0"
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert spec["security"] == [{"bearerAuth": []}]


def test_every_api_route_is_documented(app: Flask, client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    documented = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    routed = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api.") and rule.endpoint != "api.openapi":
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            routed |= {(m, path) for m in rule.methods or () if m not in ("HEAD", "OPTIONS")}
    assert routed == documented
    for ops in spec["paths"].values():
        for op in ops.values():
            assert "401" in op["responses"] and "422" in op["responses"]
            assert op["responses"]["401"]["content"]["application/problem+json"]


def test_request_schemas_are_the_validating_classes(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    body = spec["paths"]["/api/v1/submissions"]["post"]["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    generated = spec["components"]["schemas"][ref]
    own = schemas.SubmissionCreate.model_json_schema(ref_template="#/components/schemas/{model}")
    assert generated["properties"] == own["properties"]
    assert generated["additionalProperties"] is False  # unknown fields are refused
    assert len(OPERATIONS) == sum(len(ops) for ops in spec["paths"].values())


def test_the_reference_page_is_static_and_csp_clean(client: FlaskClient) -> None:
    page = client.get("/static/api/index.html")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    page.close()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert scripts and all('src="' in attrs and not body.strip() for attrs, body in scripts)
    assert "http://" not in html and "https://" not in html  # no CDN
    assert not re.search(r"\son\w+=", html)  # no inline event handlers either
    for asset in ("reference.js", "reference.css"):
        response = client.get(f"/static/api/{asset}")
        assert response.status_code == 200
        response.close()
    script = Path(client.application.static_folder or "", "api", "reference.js").read_text()
    assert "innerHTML" not in script and "eval(" not in script
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")
