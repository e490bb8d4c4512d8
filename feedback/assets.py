"""Static files cached for a year under versioned URLs, and compressed responses (issue 8).

Every ``url_for('static', filename=…)`` carries ``?v=`` and the first 12 hex digits of the file's
SHA-256, so a browser may keep the file for a year (``immutable``): a changed file has a new URL.
A static URL without the current version (an old page, a hand-typed link) is served with
``no-cache`` and revalidated by its ETag.

Pages, JSON and static text are compressed (Brotli or gzip, as the browser accepts) by
Flask-Compress. Pages that show a secret once — a one-time password, a TOTP key, recovery codes,
a new API token — are never compressed: compressing a secret next to text an attacker can
reflect into the same page is what BREACH measures. The CSRF token on other pages is re-signed
with a timestamp every second, so it is not a stable secret to measure.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from flask import Flask, current_app, g, request, template_rendered
from flask.wrappers import Response
from werkzeug.security import safe_join

from feedback.extensions import compress

YEAR = 365 * 24 * 3600
VERSION_ARG = "v"

# Templates that show a secret once; a response rendered from one is sent uncompressed.
SECRET_TEMPLATES = frozenset(
    {
        "admin/one_time_password.html",
        "auth/account.html",
        "auth/mfa_recovery_codes.html",
        "auth/mfa_setup.html",
        "auth/tokens.html",
    }
)

_digests: dict[tuple[str, int, int], str] = {}


def static_version(filename: str, app: Flask | None = None) -> str | None:
    """The version tag of a static file, or None when there is no such file."""
    folder = (app or current_app).static_folder
    path = safe_join(folder, filename) if folder else None
    if path is None:
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return None
    key = (path, stat.st_mtime_ns, stat.st_size)
    digest = _digests.get(key)
    if digest is None:
        with open(path, "rb") as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()[:12]
        _digests[key] = digest
    return digest


def _add_version(endpoint: str, values: dict[str, Any]) -> None:
    if endpoint != "static" or VERSION_ARG in values:
        return
    version = static_version(str(values.get("filename", "")))
    if version:
        values[VERSION_ARG] = version


def _cache_static(response: Response) -> Response:
    if request.endpoint != "static" or response.status_code not in (200, 304):
        return response
    filename = (request.view_args or {}).get("filename", "")
    wanted = request.args.get(VERSION_ARG)
    if wanted and wanted == static_version(str(filename)):
        response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
    else:
        response.headers["Cache-Control"] = "no-cache"
    return response


def _mark_secret(sender: Flask, template: Any, context: dict[str, Any], **extra: Any) -> None:
    if template.name in SECRET_TEMPLATES:
        g.never_compress = True


def _compress(response: Response) -> Response:
    if g.get("never_compress"):
        response.headers["Cache-Control"] = "no-store"
        return response
    source = response.response
    response = compress.after_request(response)
    if response.response is not source and hasattr(source, "close"):
        # A streamed file now feeds the compressor's generator; close the file with the response.
        response.call_on_close(source.close)
    return response


def init_assets(app: Flask) -> None:
    """Version static URLs, cache static files, compress what is worth it."""
    app.config.setdefault("COMPRESS_REGISTER", False)  # _compress decides, see SECRET_TEMPLATES
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    # Static files are streamed from disk: compress them as they stream (gzip too, which
    # Flask-Compress leaves out of streaming by default; older WeChat browsers lack Brotli).
    app.config.setdefault("COMPRESS_ALGORITHM_STREAMING", ["br", "gzip"])
    app.config.setdefault(
        "COMPRESS_MIMETYPES",
        [
            "text/html",
            "text/css",
            "text/csv",
            "text/plain",
            "text/javascript",
            "application/javascript",
            "application/json",
            "application/problem+json",
            "image/svg+xml",
        ],
    )
    compress.init_app(app)
    app.url_defaults(_add_version)
    template_rendered.connect(_mark_secret, app)
    # after_request hooks run last-registered first: the caller registers this before the
    # security headers, so compression sees the final headers.
    app.after_request(_compress)
    app.after_request(_cache_static)
