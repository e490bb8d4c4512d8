"""The Python example of docs/api.md, run as written against a live server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from feedback.extensions import db
from feedback.models import Attachment, Submission
from tests.api.conftest import token_for
from tests.factories import make_user, seed_taxonomy

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "api.md"
PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


def _python_example() -> str:
    text = GUIDE.read_text(encoding="utf-8")
    section = text.split("### Python (httpx)", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "no python block under 'Python (httpx)'"
    return match.group(1)


def test_the_guide_example_files_and_submits(
    live_server: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seed_taxonomy()
    park_user = make_user()
    evidence = tmp_path / "现场检查记录.pdf"
    evidence.write_bytes(PDF)
    monkeypatch.setenv("FEEDBACK_URL", live_server)
    monkeypatch.setenv("FEEDBACK_TOKEN", token_for(park_user, "read", "file"))
    monkeypatch.setenv("FEEDBACK_EVIDENCE", str(evidence))
    exec(compile(_python_example(), str(GUIDE), "exec"), {"__name__": "__main__"})  # noqa: S102
    printed = capsys.readouterr().out.split()
    submission = db.session.scalars(select(Submission)).one()
    assert printed == [submission.reference, "submitted"]
    assert submission.organisation_id == park_user.organisation_id
    (attachment,) = db.session.scalars(select(Attachment)).all()
    assert attachment.original_name == "现场检查记录.pdf"
