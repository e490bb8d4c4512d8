"""feedback.i18n: Flask-Babel's answers, with the catalogue looked up once per locale."""

from __future__ import annotations

from flask import Flask, render_template_string, session
from flask_babel import force_locale, refresh

from feedback import i18n
from feedback.i18n import gettext, lazy_gettext, ngettext


def test_gettext_follows_the_sessions_language(app: Flask) -> None:
    # Each request has its own app context (and g), as under a server.
    with app.app_context(), app.test_request_context("/"):
        assert gettext("保存") == "保存"
    with app.app_context(), app.test_request_context("/"):
        session["lang"] = "en"
        assert gettext("保存") == "Save"
        assert render_template_string("{{ _('保存') }}") == "Save"


def test_a_locale_switch_in_the_request_is_followed_both_ways(app: Flask) -> None:
    with app.test_request_context("/"):
        assert gettext("保存") == "保存"  # the Chinese catalogue is now remembered
        with force_locale("en"):
            assert gettext("保存") == "Save"
            assert render_template_string("{{ _('保存') }}") == "Save"
        assert gettext("保存") == "保存"
        session["lang"] = "en"
        refresh()
        assert gettext("保存") == "Save"


def test_placeholders_plurals_and_lazy_strings(app: Flask) -> None:
    label = lazy_gettext("保存")
    with app.app_context(), app.test_request_context("/"):
        session["lang"] = "en"
        assert str(label) == "Save"
        assert gettext("%(name)s", name="<b>") == "<b>"
        assert ngettext("%(num)d 项", "%(num)d 项", 3) == "3 项"


def test_outside_a_request_it_is_flask_babels(app: Flask) -> None:
    assert gettext("保存") == "保存"
    assert isinstance(i18n.translations().ugettext("保存"), str)


def test_templates_format_always_and_escape_the_variables(app: Flask) -> None:
    with app.app_context(), app.test_request_context("/"):
        page = "{{ _('相似度 %(s)d%%', s=80) }}|{{ _('100%%') }}|{{ _('搜索“%(q)s”', q='<b>') }}"
        assert render_template_string(page) == "相似度 80%|100%|搜索“&lt;b&gt;”"
        # The remembered constant strings belong to their catalogue: English stays English.
        assert render_template_string("{{ _('保存') }}") == "保存"
        with force_locale("en"):
            assert render_template_string("{{ _('保存') }}|{{ _('保存') }}") == "Save|Save"
        assert render_template_string("{{ _('保存') }}") == "保存"
