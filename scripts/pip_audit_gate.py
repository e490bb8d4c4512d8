"""pip-audit of the hash-pinned locks, with reviewed exceptions that expire (SECURITY.md row 50).

Usage: python scripts/pip_audit_gate.py [--strict] LOCK...

``.pip-audit-exceptions`` lists the advisories accepted for a while, one a line::

    GHSA-xxxx-xxxx-xxxx  until 2027-01-31  why it does not apply, or what we wait for

A malformed line or an exception past its date fails the gate at once, network or not. Then
pip-audit runs against the first vulnerability service that answers (OSV, then PyPI's JSON API),
ignoring the unexpired exceptions: any other finding fails. When neither service can be reached,
the gate says so loudly and passes (CI on a closed network): the verdict then belongs to
``make audit`` in the release pipeline, which runs this with ``--strict`` and fails instead.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from datetime import date
from pathlib import Path

EXCEPTIONS = Path(".pip-audit-exceptions")
LINE = re.compile(
    r"^(?P<id>[A-Z][A-Z0-9]*-[\w-]+)\s+until\s+(?P<until>\d{4}-\d{2}-\d{2})\s+(?P<why>\S.*)$"
)
# A package and version every service knows: the probe asks for it and needs a 200.
PROBES = {
    "osv": (
        "https://api.osv.dev/v1/query",
        json.dumps(
            {"package": {"name": "flask", "ecosystem": "PyPI"}, "version": "3.1.3"}
        ).encode(),
    ),
    "pypi": ("https://pypi.org/pypi/flask/3.1.3/json", None),
}


@dataclass(frozen=True)
class AcceptedAdvisory:
    """One line of the exceptions file."""

    ident: str
    until: date
    why: str


def read_exceptions(text: str, today: date) -> tuple[list[AcceptedAdvisory], list[str]]:
    """The exceptions still in force, and what is wrong with the file (malformed or expired)."""
    accepted: list[AcceptedAdvisory] = []
    problems: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = LINE.match(line)
        if match is None:
            problems.append(f"line {number}: expected 'ID until YYYY-MM-DD reason': {line!r}")
            continue
        try:
            until = date.fromisoformat(match["until"])
        except ValueError:
            problems.append(f"line {number}: not a date: {match['until']}")
            continue
        if until < today:
            problems.append(f"line {number}: {match['id']} expired on {until}: review it again")
            continue
        accepted.append(AcceptedAdvisory(match["id"], until, match["why"]))
    return accepted, problems


def reachable_service(timeout: float = 10.0) -> str | None:
    """The first vulnerability service that answers a known query with 200, or None."""
    for service, (url, body) in PROBES.items():
        request = urllib.request.Request(  # noqa: S310 (fixed https URLs above)
            url, data=body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310  # nosec B310
                if answer.status == 200:
                    return service
        except OSError as error:  # DNS failure, refused, timeout, HTTP 404 from a proxy
            print(f"pip-audit gate: {service} not reachable ({url}): {error}", file=sys.stderr)
    return None


def audit(service: str, locks: list[str], accepted: list[AcceptedAdvisory]) -> int:
    """pip-audit's exit status over ``locks`` (every requirement pinned and hashed)."""
    command = [sys.executable, "-m", "pip_audit", "--vulnerability-service", service]
    command += ["--strict", "--require-hashes", "--no-deps", "--disable-pip"]
    command += ["--progress-spinner", "off"]
    for lock in locks:
        command += ["-r", lock]
    for advisory in accepted:
        command += ["--ignore-vuln", advisory.ident]
    return subprocess.run(command, check=False).returncode


def main(argv: list[str]) -> int:
    strict = "--strict" in argv
    locks = [a for a in argv if a != "--strict"]
    text = EXCEPTIONS.read_text("utf-8") if EXCEPTIONS.exists() else ""
    accepted, problems = read_exceptions(text, date.today())
    for problem in problems:
        print(f"pip-audit gate: {EXCEPTIONS}: {problem}", file=sys.stderr)
    if problems:
        return 1
    for advisory in accepted:
        print(f"pip-audit gate: accepted {advisory.ident} until {advisory.until}: {advisory.why}")
    service = reachable_service()
    if service is None:
        banner = "!" * 78
        lines = [
            banner,
            "pip-audit gate: NO VULNERABILITY SERVICE REACHABLE (osv.dev, PyPI JSON).",
            "The dependencies were NOT checked for known vulnerabilities by this run.",
            "The verdict comes from `make audit` where the network is open (deploy.md §10).",
            banner,
        ]
        print("\n".join(lines), file=sys.stderr)
        return 1 if strict else 0
    return audit(service, locks, accepted)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
