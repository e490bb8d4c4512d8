"""Normalising text that people type or paste (forms, Excel cells, API requests).

:func:`nfc` is the one Unicode normalisation of incoming text (SECURITY.md row 18). Every web
form applies it to every text field as it binds (:class:`feedback.forms.Form`), and every JSON
body and query of the API goes through :func:`feedback.api.core.incoming`; the other cleaning
below (control characters, line breaks, whitespace) stays with the services that store text.
"""

from __future__ import annotations

import unicodedata


def nfc(text: str) -> str:
    """``text`` in Unicode normalisation form C (canonical composition).

    "e" + U+0301 and the precomposed "é" are the same text to a reader; stored in two forms they
    would compare, search, sort and deduplicate as different. NFC, not NFKC: compatibility forms
    (full-width digits, circled numbers) are the writer's choice and only folded where a lookup
    needs it (search, sector names, codes). NFC is idempotent, so applying it again is harmless.
    """
    return unicodedata.normalize("NFC", text)


def clean_text(text: str | None, *, multiline: bool = True) -> str:
    """NFC-normalise, drop control and format characters, trim.

    Long texts keep their line breaks; one-line fields have all whitespace runs collapsed.
    The NFC step stays here, through the same :func:`nfc`, because spreadsheet cells and the
    CLI reach these services without a form or a JSON body; for text that came through one it
    changes nothing.
    """
    text = nfc((text or "").replace("\r\n", "\n").replace("\r", "\n"))
    # Line breaks and tabs are whitespace (kept, or collapsed below), not junk to delete:
    # "S3\nE1" must not become "S3E1".
    text = "".join(
        c for c in text if c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cf", "Cs")
    )
    if not multiline:
        return " ".join(text.split())
    return text.strip()
