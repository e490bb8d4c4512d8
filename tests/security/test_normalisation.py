"""Text arrives in NFC exactly once: every web form and every JSON body (SECURITY.md row 18).

Decomposed text ("e" + U+0301, Hangul jamo, a CJK compatibility ideograph, which NFC maps to
its unified ideograph) is posted into every text field of every state-changing form the app's
own pages show, and into the API's text-bearing JSON bodies; afterwards no String, Text or JSON
column of any table holds a value that is not NFC, and the composed text is there.
"""

from __future__ import annotations

import inspect
import unicodedata
from datetime import date
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_wtf import FlaskForm
from pydantic import BaseModel
from sqlalchemy import JSON, String, select
from werkzeug.datastructures import MultiDict

import feedback.api.core as api_core
from feedback.auth import passwords
from feedback.auth.services import authenticate
from feedback.extensions import db
from feedback.filing.forms import form_class
from feedback.filing.kinds import Kind
from feedback.forms import Form
from feedback.models import Role, Submission, User
from tests.api.conftest import bearer, token_for
from tests.conftest import csrf_token, login
from tests.factories import PASSWORD, make_submission, make_user, plan_item
from tests.security.conftest import World
from tests.security.routes import ID_LESS, is_api, probes
from tests.security.test_fuzz_forms import _rules, _user_for

DECOMPOSED = "e\u0301\u1100\u1161\uf900"  # é, 가, 豈 (U+F900) before composition
COMPOSED = unicodedata.normalize("NFC", DECOMPOSED)
assert COMPOSED == "\u00e9\uac00\u8c48" and COMPOSED != DECOMPOSED


def _stored_text() -> dict[str, list[str]]:
    """Every string of every String, Text and JSON column: "table.column" → its values."""
    found: dict[str, list[str]] = {}
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            if not isinstance(column.type, String | JSON):
                continue
            for value in db.session.execute(select(column).where(column.is_not(None))).scalars():
                strings = _strings(value) if isinstance(column.type, JSON) else [value]
                found.setdefault(f"{table.name}.{column.name}", []).extend(strings)
    return found


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def _not_nfc(stored: dict[str, list[str]]) -> dict[str, list[str]]:
    return {
        where: [v[:80] for v in values if not unicodedata.is_normalized("NFC", v)]
        for where, values in stored.items()
        if any(not unicodedata.is_normalized("NFC", v) for v in values)
    }


def _holding_composed(stored: dict[str, list[str]]) -> set[str]:
    return {where for where, values in stored.items() if any(COMPOSED in v for v in values)}


# -- every form class ----------------------------------------------------------------------------


def _form_classes(base: type[FlaskForm] = FlaskForm) -> set[type[FlaskForm]]:
    """Every form class of the app, the per-kind filing forms included."""
    for kind in Kind:
        form_class(kind)  # built on first use
    found: set[type[FlaskForm]] = set()
    for cls in base.__subclasses__():
        if cls.__module__.startswith("feedback."):
            found.add(cls)
        found |= _form_classes(cls)
    return found - {Form}


def test_every_form_of_the_app_derives_from_the_normalising_base(app: Flask) -> None:
    classes = _form_classes()
    assert len({c for c in classes if c.__module__ != "feedback.filing.forms"}) >= 16
    assert sorted(c.__qualname__ for c in classes if not issubclass(c, Form)) == []


def _form(cls: type[FlaskForm], formdata: MultiDict[str, str] | None) -> FlaskForm:
    wanted = inspect.signature(cls.__init__).parameters
    extra: dict[str, list[Any]] = {k: [] for k in ("organisations", "campaigns") if k in wanted}
    return cls(formdata=formdata, meta={"csrf": False}, **extra)


def test_every_text_field_of_every_form_reads_nfc_and_passwords_as_typed(app: Flask) -> None:
    checked = 0
    with app.test_request_context("/", method="POST"):
        for cls in _form_classes():
            names = [field.name for field in _form(cls, None)]
            form = _form(cls, MultiDict({name: DECOMPOSED for name in names}))
            for field in form:
                if field.type == "PasswordField":
                    assert field.data == DECOMPOSED, (cls.__name__, field.name)
                elif isinstance(field.data, str) and field.type != "CSRFTokenField":
                    assert field.data == COMPOSED, (cls.__name__, field.name)
                    checked += 1
    assert checked >= 60


# -- every state-changing web form, end to end ---------------------------------------------------


class _Fields(HTMLParser):
    """The POST forms of a page: action path → (field name, kind, value) as a browser would send."""

    def __init__(self) -> None:
        super().__init__()
        self.page = "/"
        self.forms: dict[str, list[tuple[str, str, str]]] = {}
        self._current: list[tuple[str, str, str]] | None = None
        self._select: tuple[str, list[str]] | None = None
        self._textarea: list[str] | None = None
        self._textarea_name = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            if a.get("method", "get").lower() == "post":
                action = urlsplit(urljoin(self.page, a.get("action") or self.page)).path
                self._current = self.forms.setdefault(action, [])
            return
        name = a.get("name", "")
        if self._current is None or not name:
            if tag == "option" and self._select is not None:
                self._option(a)
            return
        if tag == "input":
            value = a.get("value", "") or (a.get("min", "") if a.get("type") == "number" else "")
            self._current.append((name, self._input_kind(a), value))
        elif tag == "textarea":
            self._textarea, self._textarea_name = [], name
        elif tag == "select":
            self._select = (name, [])
        elif tag == "button" and a.get("type", "submit") == "submit":
            self._current.append((name, "button", a.get("value", "")))

    @staticmethod
    def _input_kind(a: dict[str, str]) -> str:
        kind = a.get("type", "text").lower()
        if kind in ("checkbox", "radio") and "checked" not in a:
            return "unchecked"
        formatted = a.get("inputmode") in ("numeric", "decimal", "email", "tel")
        if kind in ("text", "search") and ("pattern" in a or formatted):
            return "formatted"
        return kind

    def _option(self, a: dict[str, str]) -> None:
        assert self._select is not None
        value = a.get("value", "")
        if "selected" in a:
            self._select[1].insert(0, value)
        elif value:
            self._select[1].append(value)

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None
        elif tag == "textarea" and self._textarea is not None and self._current is not None:
            # As a browser does, the line break right after <textarea> is not part of the value.
            value = "".join(self._textarea).removeprefix("\r").removeprefix("\n")
            self._current.append((self._textarea_name, "textarea", value))
            self._textarea = None
        elif tag == "select" and self._select is not None and self._current is not None:
            name, options = self._select
            self._current.append((name, "select", options[0] if options else ""))
            self._select = None


# Logging in and out, and the second factor, change who is logged in, not stored text; the
# password forms' text is deliberately not normalised (tested below).
SKIPPED = {"auth.login", "auth.logout", "auth.mfa_verify", "auth.mfa_setup", "auth.change_password",
           "auth.mfa_recovery_codes"}  # fmt: skip
FILLERS = {"email": "nfc.{n}@example.com", "tel": "1380013{n:04d}", "number": "1"}
FORMATTED = {"email": FILLERS["email"], "phone": FILLERS["tel"]}  # by name, when empty
# Identifiers a person types but that are checked against a format or existing records: kept.
IDENTIFIERS = {"uscc", "code", "group-code", "references"}


def _filled(fields: list[tuple[str, str, str]], n: int) -> MultiDict[str, str]:
    """The form as a person would send it, every free-text field ending in decomposed text."""
    data: MultiDict[str, str] = MultiDict()
    button_seen = False
    checked = {name for name, kind, _value in fields if kind in ("checkbox", "radio")}
    for name, kind, value in fields:
        if name in IDENTIFIERS:
            data.add(name, value or ("" if name in ("uscc", "references") else f"nfc{n}"))
        elif kind == "unchecked" and name not in checked:
            data.add(name, value)  # the first choice of a group nobody ticked
            checked.add(name)
        elif kind in ("text", "search", "textarea"):
            data.add(name, (value or "检查") + DECOMPOSED)
        elif kind in FILLERS:
            data.add(name, value or FILLERS[kind].format(n=n))
        elif kind == "date":
            data.add(name, value or date.today().isoformat())
        elif kind == "button":
            if not button_seen and name != "csrf_token":
                data.add(name, value)
            button_seen = True
        elif kind == "formatted":
            data.add(name, value or FORMATTED.get(name, "").format(n=n))
        elif kind in ("hidden", "select", "checkbox", "radio"):
            data.add(name, value)
    return data


def test_decomposed_text_in_every_web_form_is_stored_as_nfc(app: Flask, world: World) -> None:
    clients: dict[int, FlaskClient] = {}
    tokens: dict[int, str] = {}

    def client_of(user: User) -> FlaskClient:
        if user.id not in clients:
            client = app.test_client()
            assert login(client, user.email, PASSWORD).status_code == 302
            clients[user.id] = client
            tokens[user.id] = csrf_token(client, "/notifications")
        return clients[user.id]

    # The pages the fuzz test crawls, parsed with the kind of each field.
    pages = _Fields()
    urls = [(p.url, _user_for(world, p.endpoint, p.scope, p.wall)) for p in probes(app, world)
            if p.method == "GET"]  # fmt: skip
    urls += [
        (rule.rule, _user_for(world, rule.endpoint, "federation", ID_LESS[rule.endpoint]))
        for rule in app.url_map.iter_rules()
        if not rule.arguments and "GET" in (rule.methods or set())
        and rule.endpoint not in ("static", "main.healthz", "main.readyz") and not is_api(rule)
    ]  # fmt: skip
    for url, user in urls:
        response = client_of(user).get(url)
        if response.mimetype == "text/html":
            pages.page = url
            pages.feed(response.get_data(as_text=True))
        response.close()

    posted = 0
    for n, (endpoint, method, url, user) in enumerate(_rules(app, world)):
        fields = pages.forms.get(urlsplit(url).path)
        if not fields or method != "POST" or endpoint in SKIPPED:
            continue
        data = _filled(fields, n)
        data.setlist("csrf_token", [tokens.get(user.id) or csrf_token(client_of(user), "/")])
        response = client_of(user).post(url, data=data)
        assert response.status_code < 500, (url, response.status_code)
        if response.status_code == 302 and response.location.startswith("/auth/login"):
            del clients[user.id]
        posted += 1

    stored = _stored_text()
    assert _not_nfc(stored) == {}
    reached = {where.split(".")[0] for where in _holding_composed(stored)}
    assert posted >= 40
    assert {"organisation", "user", "plan_item", "tag", "tag_group", "campaign", "submission",
            "consolidated_suggestion", "report", "submission_comment", "saved_view",
            "api_token"} <= reached, sorted(reached)  # fmt: skip


# -- the API's JSON bodies -------------------------------------------------------------------------


def _nfc_everywhere(model: BaseModel) -> bool:
    return all(unicodedata.is_normalized("NFC", s) for s in _strings(model.model_dump()))


def test_decomposed_text_in_every_json_body_reaches_the_views_and_database_as_nfc(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: list[BaseModel] = []
    validate = api_core.validate

    def recording(model: type[BaseModel], data: Any) -> BaseModel:
        result = validate(model, data)
        parsed.append(result)
        return result

    monkeypatch.setattr(api_core, "validate", recording)
    submitter = make_user(Role.SUBMITTER)
    compiler, reviewer = make_user(Role.COMPILER), make_user(Role.REVIEWER)
    as_submitter = bearer(token_for(submitter))
    as_compiler, as_reviewer = bearer(token_for(compiler)), bearer(token_for(reviewer))
    text = "检查" + DECOMPOSED
    body = {
        "kind": "problem", "title": text, "summary": text, "sections": {"description": text},
        "plan_item_ids": [plan_item("S3").id], "region_code": "320500",
        "contact_name": "张" + DECOMPOSED, "contact_phone": "13812345678",
    }  # fmt: skip
    created = client.post("/api/v1/submissions", json=body, headers=as_submitter)
    assert created.status_code == 201, created.get_json()
    url = f"/api/v1/submissions/{created.get_json()['id']}"
    updated = client.patch(url, json={**body, "version": created.get_json()["version"]},
                           headers=as_submitter)  # fmt: skip
    assert updated.status_code == 200, updated.get_json()
    sent = make_submission(submitter, submit=True)
    answers = [
        client.post(f"/api/v1/submissions/{sent.id}/comments",
                    json={"body": text, "to_submitter": True}, headers=as_reviewer),
        client.post(f"/api/v1/submissions/{sent.id}/transitions",
                    json={"action": "start_review"}, headers=as_reviewer),
        client.post(f"/api/v1/submissions/{sent.id}/transitions",
                    json={"action": "return", "note": text}, headers=as_reviewer),
        client.post("/api/v1/reports", json={"title": text, "period_label": text,
                                             "issuer": text}, headers=as_compiler),
    ]  # fmt: skip
    assert [a.status_code for a in answers] == [201, 200, 200, 201], [a.get_json() for a in answers]
    assert len(parsed) >= 6
    assert [type(m).__name__ for m in parsed if not _nfc_everywhere(m)] == []
    stored = _stored_text()
    assert _not_nfc(stored) == {}
    assert {
        "submission.title",
        "submission.summary",
        "submission_comment.body",
        "report.title",
    } <= (_holding_composed(stored))


@pytest.mark.parametrize("control", ["\x00", "\x01", "\x08", "\x0b", "\x1b", "\x1f"])
def test_a_control_character_in_a_json_body_is_refused_before_anything_is_written(
    app: Flask, client: FlaskClient, control: str
) -> None:
    headers = bearer(token_for(make_user(Role.SUBMITTER)))
    before = db.session.scalar(select(db.func.count()).select_from(Submission))
    body = {"kind": "problem", "title": f"标题{control}", "sections": {"description": "正文"}}
    response = client.post("/api/v1/submissions", json=body, headers=headers)
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert "控制字符" in problem["detail"]
    assert problem["errors"] == {"title": ["含有不允许的控制字符。"]}
    nested = {**body, "title": "标题", "sections": {"description": f"正{control}文"}}
    again = client.post("/api/v1/submissions", json=nested, headers=headers)
    assert again.status_code == 400
    assert again.get_json()["errors"] == {"sections.description": ["含有不允许的控制字符。"]}
    assert db.session.scalar(select(db.func.count()).select_from(Submission)) == before


def test_tab_newline_and_carriage_return_in_json_text_are_accepted(
    app: Flask, client: FlaskClient
) -> None:
    headers = bearer(token_for(make_user(Role.SUBMITTER)))
    body = {"kind": "problem", "title": "标题", "sections": {"description": "第一行\r\n第二行\t完"}}
    response = client.post("/api/v1/submissions", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["sections"]["description"] == "第一行\n第二行\t完"


# -- passwords -------------------------------------------------------------------------------------


def test_a_password_is_nfc_when_set_and_when_checked(app: Flask) -> None:
    typed = "Caf" + DECOMPOSED + "9!x"
    stored = passwords.hash_password(typed)
    assert passwords.verify_password(stored, unicodedata.normalize("NFC", typed))
    assert passwords.verify_password(stored, typed)
    assert not passwords.verify_password(stored, typed + "x")


def test_a_password_hashed_as_typed_before_nfc_still_verifies_and_is_rehashed(
    app: Flask,
) -> None:
    typed = "Caf" + DECOMPOSED + "9!x"
    user = make_user(Role.SUBMITTER)
    user.password_hash = passwords.hasher().hash(typed)  # how hashes were made before NFC
    db.session.commit()
    assert not passwords.verify_password(user.password_hash, unicodedata.normalize("NFC", typed))
    authenticate(user.email, typed)
    db.session.commit()
    # Rehashed in NFC: now the composed form typed elsewhere verifies too.
    assert passwords.verify_password(user.password_hash, unicodedata.normalize("NFC", typed))
    assert passwords.verify_password(user.password_hash, typed)


def test_login_through_the_form_accepts_an_old_hash_of_a_decomposed_password(
    app: Flask, client: FlaskClient
) -> None:
    typed = "Caf" + DECOMPOSED + "9!x"
    user = make_user(Role.SUBMITTER)
    user.password_hash = passwords.hasher().hash(typed)
    db.session.commit()
    assert login(client, user.email, typed).status_code == 302
    assert client.get("/notifications").status_code == 200
