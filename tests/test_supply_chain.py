"""The hash-pinned locks and the pip-audit exceptions file (SECURITY.md row 50)."""

from __future__ import annotations

import importlib.util
import re
import sys
from datetime import date
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(\S+)", re.MULTILINE)
LOCKS = {
    "requirements.txt": "requirements.lock",
    "requirements-dev.txt": "requirements-dev.lock",
    "requirements-semgrep.txt": "requirements-semgrep.lock",
}


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(path: Path) -> dict[str, str]:
    return {_name(name): version for name, version in PIN.findall(path.read_text("utf-8"))}


def _lock_entries(path: Path) -> dict[str, list[str]]:
    """name → the lines of its entry (the pin and its --hash lines)."""
    entries: dict[str, list[str]] = {}
    current = ""
    for line in path.read_text("utf-8").splitlines():
        if PIN.match(line):
            current = _name(PIN.match(line)[1])  # type: ignore[index]
            entries[current] = [line]
        elif line.startswith("    --hash=") and current:
            entries[current].append(line)
    return entries


@pytest.mark.parametrize(("source", "lock"), LOCKS.items())
def test_every_pin_is_in_its_lock_with_the_same_version(source: str, lock: str) -> None:
    """A version changed in requirements*.txt without `make lock` would install the old one."""
    pinned = _pins(ROOT / source)
    locked = _pins(ROOT / lock)
    if source == "requirements-dev.txt":
        pinned |= _pins(ROOT / "requirements.txt")
    assert pinned
    assert {name: version for name, version in pinned.items() if locked.get(name) != version} == {}


@pytest.mark.parametrize("lock", LOCKS.values())
def test_every_locked_package_has_sha256_hashes(lock: str) -> None:
    entries = _lock_entries(ROOT / lock)
    assert len(entries) >= 3
    unhashed = [n for n, lines in entries.items() if not any("sha256:" in s for s in lines)]
    assert unhashed == []


def test_the_dev_lock_installs_the_runtime_lock_versions() -> None:
    runtime, dev = _pins(ROOT / "requirements.lock"), _pins(ROOT / "requirements-dev.lock")
    assert {n: v for n, v in runtime.items() if dev.get(n) != v} == {}


def test_installs_verify_hashes() -> None:
    makefile = (ROOT / "Makefile").read_text("utf-8")
    installs = [line for line in makefile.splitlines() if "pip install" in line]
    from_locks = [line for line in installs if ".lock" in line]
    assert len(from_locks) == 3
    assert all("--require-hashes" in line for line in from_locks)
    assert [line for line in installs if "-r requirements" in line and ".lock" not in line] == []


def _gate() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "pip_audit_gate", ROOT / "scripts/pip_audit_gate.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_committed_exceptions_file_is_valid_today() -> None:
    gate = _gate()
    _accepted, problems = gate.read_exceptions(
        (ROOT / ".pip-audit-exceptions").read_text("utf-8"), date.today()
    )
    assert problems == []


@pytest.mark.parametrize(
    ("line", "accepted", "problem"),
    [
        ("GHSA-abcd-efgh-ijkl  until 2027-01-31  only the CLI is affected", 1, ""),
        ("PYSEC-2026-17 until 2026-11-29 waiting for 3.2", 1, ""),  # the last day still counts
        ("PYSEC-2026-17 until 2026-11-28 waiting for 3.2", 0, "expired on 2026-11-28"),
        ("GHSA-abcd-efgh-ijkl until 2027-02-30 reason", 0, "not a date"),
        ("GHSA-abcd-efgh-ijkl  2027-01-31  no 'until'", 0, "expected 'ID until"),
        ("GHSA-abcd-efgh-ijkl until 2027-01-31", 0, "expected 'ID until"),  # no reason
        ("# GHSA-abcd-efgh-ijkl until 2020-01-01 an example", 0, ""),
    ],
)
def test_an_exception_needs_an_id_a_date_and_a_reason_and_expires(
    line: str, accepted: int, problem: str
) -> None:
    found, problems = _gate().read_exceptions(line + "\n\n", date(2026, 11, 29))
    assert len(found) == accepted
    assert (problem in problems[0]) if problem else problems == []


def test_without_a_reachable_service_ci_passes_loudly_and_the_release_audit_fails(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gate = _gate()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(gate, "reachable_service", lambda: None)
    ran: list[object] = []

    def audit(*args: object) -> int:
        ran.append(args)
        return 0

    monkeypatch.setattr(gate, "audit", audit)
    assert gate.main(["requirements.lock"]) == 0
    assert "NOT checked" in capsys.readouterr().err
    assert gate.main(["--strict", "requirements.lock"]) == 1
    assert ran == []
    (tmp_path / ".pip-audit-exceptions").write_text("PYSEC-1-1 until 2000-01-01 old\n", "utf-8")
    assert gate.main(["requirements.lock"]) == 1  # an expired exception fails, offline too


def test_with_a_service_the_unexpired_exceptions_are_passed_to_pip_audit(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    gate = _gate()
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".pip-audit-exceptions").write_text("GHSA-1-2 until 2999-01-01 fine\n", "utf-8")
    monkeypatch.setattr(gate, "reachable_service", lambda: "osv")
    commands: list[list[str]] = []

    def run(command: list[str], check: bool) -> object:
        commands.append(command)
        return type("Done", (), {"returncode": 1})()

    monkeypatch.setattr(gate.subprocess, "run", run)
    assert gate.main(["a.lock", "b.lock"]) == 1  # pip-audit's verdict is the gate's
    (command,) = commands
    assert command[command.index("--vulnerability-service") + 1] == "osv"
    assert {"--strict", "--require-hashes", "--no-deps"} <= set(command)
    assert command[-6:] == ["-r", "a.lock", "-r", "b.lock", "--ignore-vuln", "GHSA-1-2"]
