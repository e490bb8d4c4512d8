"""The auditor's CSV export: UTF-8 with BOM, every field quoted, formula-safe.

CSV has no quotePrefix, so OWASP's literal apostrophe goes in front of any cell that a
spreadsheet would read as a formula (SECURITY.md finding 1, row 20). Times are the canonical UTC
ISO-8601 form that is hashed, and the hashes are included, so the chain can be recomputed from
an export (after removing those apostrophes).
"""

from __future__ import annotations

import csv
import hashlib
import io
import tempfile
from dataclasses import dataclass
from typing import IO, Final

from sqlalchemy import Select

from feedback.audit.chain import iso_utc
from feedback.extensions import db
from feedback.i18n import gettext as _
from feedback.models import AuditRecord
from feedback.reports.xlsx import needs_quote_prefix

BOM: Final = "\ufeff"


def safe_cell(value: object) -> str:
    """``value`` as text a spreadsheet shows as text: an apostrophe before a formula trigger."""
    text = "" if value is None else str(value)
    # The workbook rule, blanks included: "\u3000＋1" or "\xa0=1" is a formula to a spreadsheet
    # that trims on import, and a check that skipped only ASCII spaces let those through.
    if needs_quote_prefix(text):
        return "'" + text
    return text


def _header() -> list[str]:
    return [
        _("编号"),
        _("时间（UTC）"),
        _("操作人编号"),
        _("操作人"),
        _("角色"),
        _("所属单位编号"),
        _("操作"),
        _("对象类型"),
        _("对象编号"),
        _("结果"),
        _("IP 地址"),
        _("请求编号"),
        _("详情"),
        _("前一条哈希"),
        _("哈希"),
    ]


def _cells(row: AuditRecord) -> list[object]:
    return [
        row.id,
        iso_utc(row.at),
        row.actor_id,
        row.actor_email,
        row.actor_roles,
        row.actor_org_id,
        row.action,
        row.object_type,
        row.object_id,
        row.outcome,
        row.ip,
        row.request_id,
        row.detail,
        row.prev_hash,
        row.hash,
    ]


@dataclass
class CsvExport:
    file: IO[bytes]
    rows: int
    sha256: str


def write_csv(query: Select[AuditRecord], batch: int = 1000) -> CsvExport:
    """Write the records of ``query`` (oldest first) to a temporary file, hashing as it goes."""
    out = tempfile.TemporaryFile()  # noqa: SIM115 (handed to send_file, which closes it)
    digest = hashlib.sha256()
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow([safe_cell(h) for h in _header()])
    count = 0
    after = 0
    while True:
        rows = db.session.scalars(
            query.where(AuditRecord.id > after).order_by(AuditRecord.id).limit(batch)
        ).all()
        for row in rows:
            writer.writerow([safe_cell(c) for c in _cells(row)])
        count += len(rows)
        chunk = buffer.getvalue().encode("utf-8")
        digest.update(chunk)
        out.write(chunk)
        buffer.seek(0)
        buffer.truncate()
        if len(rows) < batch:
            break
        after = rows[-1].id
        for row in rows:
            db.session.expunge(row)
    out.seek(0)
    return CsvExport(file=out, rows=count, sha256=digest.hexdigest())
