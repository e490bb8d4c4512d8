"""Normalising text that people type or paste (forms, Excel cells, API requests)."""

from __future__ import annotations

import unicodedata


def clean_text(text: str | None, *, multiline: bool = True) -> str:
    """NFC-normalise, drop control and format characters, trim.

    Long texts keep their line breaks; one-line fields have all whitespace runs collapsed.
    """
    text = unicodedata.normalize("NFC", (text or "").replace("\r\n", "\n").replace("\r", "\n"))
    # Line breaks and tabs are whitespace (kept, or collapsed below), not junk to delete:
    # "S3\nE1" must not become "S3E1".
    text = "".join(
        c for c in text if c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cf", "Cs")
    )
    if not multiline:
        return " ".join(text.split())
    return text.strip()
