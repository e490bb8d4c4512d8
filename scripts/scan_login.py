"""Log in to a local scan target and write its session cookie for wapiti and sqlmap.

Used by ``scripts/security_scan.sh`` (``make security-scan``), never by the application. A park
submitter logs in with a password alone; federation staff must set up a second factor first, so
with ``--enrol-mfa`` the helper reads the new secret from the set-up page and answers it with the
current TOTP code (exactly what a person with an authenticator app does). Standard library and
pyotp only.

Writes ``--cookie-json`` in wapiti's cookie-file format and prints ``name=value`` for sqlmap.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pyotp

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
SECRET = re.compile(r'id="mfa-secret">([^<]+)<')


class Client:
    """A cookie-keeping HTTP client for one base URL."""

    def __init__(self, base: str) -> None:
        parts = urllib.parse.urlsplit(base)
        if parts.scheme not in ("http", "https") or parts.hostname not in (
            "127.0.0.1",
            "localhost",
        ):
            sys.exit(f"scan_login: scans run against 127.0.0.1 only, not {base!r}")
        self.base = base.rstrip("/")
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, path: str) -> tuple[str, str]:
        with self.opener.open(self.base + path, timeout=30) as response:
            return response.geturl(), response.read().decode("utf-8")

    def post(self, path: str, fields: dict[str, str]) -> tuple[str, str]:
        data = urllib.parse.urlencode(fields).encode()
        request = urllib.request.Request(  # noqa: S310 (http on loopback, checked above)
            self.base + path, data=data, method="POST"
        )
        request.add_header("Referer", self.base + path)
        with self.opener.open(request, timeout=30) as response:
            return response.geturl(), response.read().decode("utf-8")

    def form_post(self, path: str, fields: dict[str, str]) -> tuple[str, str]:
        """GET ``path`` for its CSRF token, then POST ``fields`` with it."""
        _url, page = self.get(path)
        token = CSRF.search(page)
        if token is None:
            sys.exit(f"scan_login: no CSRF token on {path}")
        return self.post(path, {**fields, "csrf_token": html.unescape(token.group(1))})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", required=True, help="e.g. http://127.0.0.1:5077")
    parser.add_argument("--email", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--enrol-mfa", action="store_true", help="set up TOTP (staff)")
    parser.add_argument("--cookie-json", type=Path, required=True)
    parser.add_argument(
        "--secret-file", type=Path, help="where the TOTP secret is kept between logins (staff)"
    )
    args = parser.parse_args()

    client = Client(args.base)
    url, _page = client.form_post("/auth/login", {"email": args.email, "password": args.password})
    if url.endswith("/auth/login"):
        sys.exit(f"scan_login: login refused for {args.email}")
    if "/auth/mfa/setup" in url:
        if not args.enrol_mfa:
            sys.exit(f"scan_login: {args.email} must set up MFA (pass --enrol-mfa)")
        _url, page = client.get("/auth/mfa/setup")
        found = SECRET.search(page)
        if found is None:
            sys.exit("scan_login: no secret on the MFA set-up page")
        secret = found.group(1).replace(" ", "")
        client.form_post("/auth/mfa/setup", {"code": pyotp.TOTP(secret).now()})
        if args.secret_file:
            args.secret_file.write_text(f"{secret} {int(time.time()) // 30}", encoding="utf-8")
    elif urllib.parse.urlsplit(url).path == "/auth/mfa":
        if not args.secret_file or not args.secret_file.exists():
            sys.exit(f"scan_login: {args.email} needs a TOTP code and no --secret-file was kept")
        secret, last_step = args.secret_file.read_text(encoding="utf-8").split()
        # Each 30-second step is accepted once per user: wait for a step not used yet.
        while int(time.time()) // 30 <= int(last_step):
            time.sleep(1)
        client.form_post("/auth/mfa", {"code": pyotp.TOTP(secret).now()})
        args.secret_file.write_text(f"{secret} {int(time.time()) // 30}", encoding="utf-8")
    final, _page = client.get("/")
    if "/auth/" in urllib.parse.urlsplit(final).path:
        sys.exit(f"scan_login: {args.email} is not fully logged in (ended at {final})")

    host = urllib.parse.urlsplit(args.base).hostname or "127.0.0.1"
    cookies: dict[str, dict[str, dict[str, object]]] = {host: {"/": {}}}
    pairs = []
    for cookie in client.jar:
        cookies[host]["/"][cookie.name] = {
            "value": cookie.value,
            "version": 0,
            "secure": False,
            "expires": None,
            "port": None,
        }
        pairs.append(f"{cookie.name}={cookie.value}")
    args.cookie_json.write_text(json.dumps(cookies, indent=2), encoding="utf-8")
    print("; ".join(pairs))


if __name__ == "__main__":
    main()
