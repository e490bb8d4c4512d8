"""The English catalog is complete and every translation keeps the placeholders of its source."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po

CATALOG = Path("feedback/translations/en/LC_MESSAGES/messages.po")
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def test_every_message_is_translated_with_its_placeholders() -> None:
    with CATALOG.open("rb") as handle:
        catalog = read_po(handle)
    untranslated = [m.id for m in catalog if m.id and not m.string]
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    mismatched = [
        m.id
        for m in catalog
        if m.id
        and sorted(PLACEHOLDER.findall(str(m.id))) != sorted(PLACEHOLDER.findall(str(m.string)))
    ]
    assert untranslated == [] and fuzzy == [] and mismatched == []
