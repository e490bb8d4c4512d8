"""gettext for the app and its templates, with the request's translations looked up once.

Flask-Babel finds the catalogue anew on every call: three look-ups of ``g`` through its proxy per
context read, the locale turned back into a string, a dictionary probe — about 20 µs, and a staff
page translates 150–200 strings (the review queue spent a fifth of its time there). This module
keeps the request's catalogue on Flask-Babel's own per-request namespace, next to the locale it
belongs to: when the locale changes (``force_locale``, ``refresh``) the catalogue is looked up
again, so the answers are Flask-Babel's. Outside a request or app context it defers to
Flask-Babel entirely. Import ``gettext as _`` and ``lazy_gettext as _l`` from here.
"""

from __future__ import annotations

from typing import Any

import flask_babel
from babel.support import NullTranslations
from flask import Flask
from flask.globals import _cv_app
from flask_babel import LazyString
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

_KEY = "feedback_translations"  # on g._flask_babel: (locale, translations)


def translations() -> NullTranslations:
    """The current locale's catalogue (Flask-Babel's, looked up at most once per locale)."""
    context = _cv_app.get(None)
    namespace = context.g.__dict__.get("_flask_babel") if context is not None else None
    if namespace is None:
        return flask_babel.get_translations()  # type: ignore[no-any-return]
    cached = namespace.__dict__.get(_KEY)
    if cached is not None and cached[0] is namespace.__dict__.get("babel_locale"):
        return cached[1]  # type: ignore[no-any-return]
    # Chooses the locale (babel_locale) if nothing has asked for it yet in this request.
    found: NullTranslations = flask_babel.get_translations()
    setattr(namespace, _KEY, (namespace.__dict__.get("babel_locale"), found))
    return found


def gettext(string: str, **variables: Any) -> str:
    """Translate ``string`` and fill ``%(name)s`` from ``variables`` (as Flask-Babel does)."""
    text = translations().ugettext(string)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
    """The singular or plural form for ``num``; ``%(num)d`` is filled as well."""
    variables.setdefault("num", num)
    return translations().ungettext(singular, plural, num) % variables


def lazy_gettext(string: str, **variables: Any) -> LazyString:
    """Translated when used, in the locale of that moment (labels defined at import time)."""
    return LazyString(gettext, string, **variables)


@pass_context
def template_gettext(context: Context, string: str, **variables: Any) -> str:
    """``_()`` in templates, as Jinja's "newstyle" gettext: the translation is always a format
    string (``%%`` for a percent sign), escaped under autoescape, filled with ``variables``.

    In one call instead of Jinja's three (alias, wrapper, callable); a string without variables
    — most of a page's — is formatted once per catalogue and remembered.
    """
    catalogue = translations()
    autoescape = context.eval_ctx.autoescape
    # Markup(text): the text is our own catalogue's (as in Jinja's wrapper); variables are escaped.
    if variables:
        text = catalogue.ugettext(string)
        # nosemgrep: markup-of-non-literal -- our catalogue's text; % escapes the variables
        return (Markup(text) if autoescape else text) % variables  # noqa: S704  # nosec B704
    done: dict[tuple[str, bool], str] = catalogue.__dict__.setdefault(_FORMATTED, {})
    key = (string, autoescape)
    if key not in done:
        text = catalogue.ugettext(string)
        # nosemgrep: markup-of-non-literal -- our catalogue's text, no variables
        done[key] = (Markup(text) if autoescape else text) % {}  # noqa: S704  # nosec B704
    return done[key]


_FORMATTED = "feedback_formatted"  # on a catalogue: its translations of constant strings


def init_i18n(app: Flask) -> None:
    """Give templates the same fast ``_``, ``gettext`` and ``ngettext`` (after Flask-Babel's
    init_app, which installs its own)."""
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
        newstyle=True,
    )
    app.jinja_env.globals.update(_=template_gettext, gettext=template_gettext)
