"""Audit-trail commands: verify the chain, purge past the retention period."""

from __future__ import annotations

from datetime import date, datetime

import click

from feedback.audit import chain, retention
from feedback.cli import fail
from feedback.database import checkpoint_wal, reading
from feedback.extensions import db
from feedback.formatting import CHINA


def describe_break(result: chain.Verification) -> str:
    """One line naming the first broken record."""
    reasons = {
        "prev_hash_mismatch": "与前一条记录的链接不符（记录被删除、插入或重排）",
        "hash_mismatch": "内容与其哈希不符（记录被篡改）",
        "purged_row_present": "编号落在已清理范围内",
    }
    at = result.broken_at.astimezone(CHINA).isoformat() if result.broken_at else "?"
    return (
        f"审计链在第 {result.broken_id} 号记录（{at}）处断裂："
        f"{reasons.get(result.reason or '', result.reason)}；此前 {result.count} 条完好。"
    )


@click.command("audit-verify")
def audit_verify() -> None:
    """Walk the audit hash chain; exit 1 naming the first broken record."""
    with reading():  # a walk over the whole trail must not hold SQLite's write lock
        result = chain.verify(db.session)
    if not result.ok:
        fail(describe_break(result))
    click.echo(f"审计链完整：共 {result.count} 条记录。")


def _parse_date(_ctx: click.Context, _param: click.Parameter, value: str) -> date:
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise click.BadParameter("日期格式应为 YYYY-MM-DD") from None


@click.command("audit-purge")
@click.option(
    "--before",
    required=True,
    callback=_parse_date,
    help="Delete records dated before this UTC day (YYYY-MM-DD); never younger than retention.",
)
def audit_purge(before: date) -> None:
    """Delete audit records past the retention period, keeping the chain verifiable."""
    try:
        result = retention.purge(db.session, before)
    except retention.PurgeRefused as error:
        fail(str(error))
    db.session.commit()
    checkpoint_wal()  # deleted pages are zeroed (secure_delete); empty the WAL too (row 40)
    click.echo(f"已清理 {result.purged} 条 {before.isoformat()} 之前的审计记录。")
