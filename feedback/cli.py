"""Command-line interface: thin click commands over the services (DESIGN.md §6).

Every command exits 0 on success and non-zero with a one-line reason otherwise.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, NoReturn

import click
from flask import Flask, current_app
from flask_migrate import upgrade
from sqlalchemy import select

from feedback.admin import services as admin_services
from feedback.database import checkpoint_wal, reading
from feedback.exceptions import DomainError, ValidationFailed
from feedback.extensions import db
from feedback.models import Organisation, OrgKind, Role, User, utcnow

if TYPE_CHECKING:
    from feedback.backup_crypto import BackupSecret

FEDERATION_NAME = "中国石油和化学工业联合会"
FIRST_ADMIN_EMAIL = "admin@cpcif.local"


def fail(message: str) -> NoReturn:
    """Print a one-line reason to stderr and exit 1."""
    click.echo(f"错误：{message}", err=True)
    sys.exit(1)


# A service names the field it objects to; the person at the terminal typed an option.
_OPTION_NAMES = {
    "name": "--name",
    "short_name": "--short-name",
    "kind": "--kind",
    "region_code": "--region",
    "uscc": "--uscc",
    "email": "--email",
    "roles": "--role",
    "phone": "--phone",
    "password": "密码",
    "scopes": "--scopes",
    "expires_days": "--expires-days",
}


def _reason(error: DomainError) -> str:
    if isinstance(error, ValidationFailed):
        return "；".join(
            f"{_OPTION_NAMES.get(field, field)}: {'；'.join(msgs)}" if field else "；".join(msgs)
            for field, msgs in error.errors.items()
        )
    return str(error)


def _find_organisation(name: str) -> Organisation:
    """The organisation called ``name``: full name first, else a short name held by one only."""
    exact = db.session.scalars(select(Organisation).where(Organisation.name == name)).first()
    if exact is not None:
        return exact
    by_short = db.session.scalars(
        select(Organisation).where(Organisation.short_name == name).order_by(Organisation.name)
    ).all()
    if not by_short:
        fail(f"找不到单位“{name}”。")
    if len(by_short) > 1:
        full_names = "、".join(org.name for org in by_short)
        fail(f"多个单位的简称为“{name}”，请使用单位全称：{full_names}")
    return by_short[0]


def register(app: Flask) -> None:
    """Attach the commands to ``app.cli``."""
    from feedback.audit.commands import audit_purge, audit_verify
    from feedback.jobs import worker

    for command in (
        init,
        create_org,
        create_user,
        create_token,
        reset_mfa,
        enable_user,
        seed_demo,
        similarity_rebuild,
        audit_verify,
        audit_purge,
        backup,
        restore,
        copy_database,
        rotate_field_key,
        build_report,
        export_submissions,
        export_purge,
        purge_drafts,
        sweep_uploads,
        purge_sessions,
        disable_dormant,
        worker,
    ):
        app.cli.add_command(command)


@click.command("init")
@click.option(
    "--admin-email",
    default=FIRST_ADMIN_EMAIL,
    show_default=True,
    help="E-mail (login name) of the first administrator, if one is created.",
)
def init(admin_email: str) -> None:
    """Upgrade the schema, seed the taxonomy and create the first administrator (idempotent)."""
    from feedback.taxonomy.seed import seed_plan, seed_tags

    upgrade()
    plan_count = seed_plan()
    tag_count = seed_tags()
    federation = db.session.scalars(
        select(Organisation).where(Organisation.kind == OrgKind.FEDERATION).limit(1)
    ).first()
    password = None
    if admin_services.count_users() == 0:
        if federation is None:
            federation = admin_services.create_organisation(
                None,
                admin_services.OrganisationData(
                    name=FEDERATION_NAME,
                    short_name="石化联合会",
                    kind=OrgKind.FEDERATION,
                    region_code="110000",
                ),
            )
        try:
            _admin, password = admin_services.create_user(
                None,
                email=admin_email,
                name="系统管理员",
                organisation=federation,
                roles={Role.ADMIN},
            )
        except ValidationFailed as error:
            fail(_reason(error))
    db.session.commit()
    click.echo(f"数据库已就绪；新增规划条目 {plan_count} 个，新增标签 {tag_count} 个。")
    if password:
        click.echo(f"已创建首个系统管理员：{admin_email}")
        click.echo(f"一次性密码：{password}")
        hours = current_app.config["INITIAL_PASSWORD_HOURS"]
        click.echo(f"请立即登录并修改密码（{hours} 小时内有效）。")


@click.command("create-org")
@click.option("--name", required=True, help="Full name (单位全称).")
@click.option("--kind", required=True, type=click.Choice([k.value for k in OrgKind]))
@click.option("--region", default=None, help="GB/T 2260 code, e.g. 320500.")
@click.option("--uscc", default=None, help="Unified social credit code (统一社会信用代码).")
@click.option("--short-name", default=None)
@click.option("--requires-approval", is_flag=True, help="Submissions need the org approver.")
def create_org(
    name: str,
    kind: str,
    region: str | None,
    uscc: str | None,
    short_name: str | None,
    requires_approval: bool,
) -> None:
    """Create an organisation."""
    try:
        org = admin_services.create_organisation(
            None,
            admin_services.OrganisationData(
                name=name,
                kind=OrgKind(kind),
                region_code=region,
                uscc=uscc,
                short_name=short_name,
                requires_approval=requires_approval,
            ),
        )
    except DomainError as error:
        fail(_reason(error))
    db.session.commit()
    click.echo(f"已创建单位 {org.id}：{org.name}")


@click.command("create-user")
@click.option("--email", required=True)
@click.option(
    "--role", "roles", required=True, multiple=True, type=click.Choice([r.value for r in Role])
)
@click.option("--org", "org_name", required=True, help="Organisation name (full or short).")
@click.option("--name", default=None, help="Display name (defaults to the e-mail's local part).")
@click.option("--phone", default=None)
@click.option("--password-stdin", is_flag=True, help="Read the password from one line of stdin.")
def create_user(
    email: str,
    roles: tuple[str, ...],
    org_name: str,
    name: str | None,
    phone: str | None,
    password_stdin: bool,
) -> None:
    """Create a user; the password must be changed at first login."""
    org = _find_organisation(org_name)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("密码", hide_input=True, confirmation_prompt=True)
    try:
        user, _none = admin_services.create_user(
            None,
            email=email,
            name=name or email.split("@")[0],
            phone=phone,
            organisation=org,
            roles={Role(r) for r in roles},
            password=password,
        )
    except DomainError as error:
        fail(_reason(error))
    db.session.commit()
    click.echo(f"已创建用户 {user.id}：{user.email}（{org.name}）")


@click.command("create-token")
@click.argument("email")
@click.option("--name", required=True, help="What the token is for (令牌名称).")
@click.option(
    "--scopes", default="read", show_default=True, help="Comma-separated: read,file,review,compile."
)
@click.option("--expires-days", default=90, show_default=True, type=int, help="Lifetime in days.")
def create_token(email: str, name: str, scopes: str, expires_days: int) -> None:
    """Create an API token for EMAIL and print it (alone, on the last line); shown only once."""
    from feedback.api import tokens

    user = db.session.scalars(select(User).where(User.email == email.strip().lower())).first()
    if user is None or not user.is_active:
        fail(f"找不到在用的用户“{email}”。")
    try:
        created = tokens.create(
            user, name=name, scopes=scopes.split(","), expires_days=expires_days
        )
    except DomainError as error:
        fail(_reason(error))
    db.session.commit()
    click.echo(
        f"已为 {user.email} 创建令牌 {created.token.prefix}（{created.token.scopes_text}），"
        f"有效期至 {created.token.expires_at:%Y-%m-%d %H:%M} UTC。令牌只显示这一次："
    )
    click.echo(created.secret)


@click.command("reset-mfa")
@click.option("--email", required=True, help="The user whose authenticator is lost.")
def reset_mfa(email: str) -> None:
    """Remove a user's second factor; they set it up again at next login (audited).

    For the operator when the security administrator's own phone is lost: on the web, nobody
    resets their own second factor.
    """
    from feedback.auth.services import normalise_email

    user = db.session.scalars(select(User).where(User.email == normalise_email(email))).first()
    if user is None:
        fail(f"没有邮箱为 {email} 的用户。")
    admin_services.reset_mfa(None, user)
    db.session.commit()
    click.echo(f"已重置 {user.email} 的两步验证；该用户下次登录时须重新设置。")


@click.command("enable-user")
@click.option("--email", required=True, help="The account to re-enable.")
def enable_user(email: str) -> None:
    """Re-enable a deactivated or dormant account (audited); its dormancy clock starts again.

    For the operator when every administrator who could do it on the web is dormant or
    deactivated (e.g. the first start after more than DORMANT_DAYS without use).
    """
    from feedback.auth.services import normalise_email

    user = db.session.scalars(select(User).where(User.email == normalise_email(email))).first()
    if user is None:
        fail(f"没有邮箱为 {email} 的用户。")
    admin_services.set_user_active(None, user, True)
    db.session.commit()
    click.echo(f"已启用 {user.email}；该账户可以重新登录。")


@click.command("seed-demo")
@click.option(
    "--submissions",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="How many demo submissions to create.",
)
@click.option("--seed", default=2026, show_default=True, type=int, help="Random seed.")
def seed_demo(submissions: int, seed: int) -> None:
    """Create realistic demo organisations and users (and submissions). Not in production."""
    from feedback.audit.services import record
    from feedback.demo import seed_demo_data

    if current_app.config["ENV_NAME"] == "production":
        # Demo accounts share one password that is printed on the terminal.
        fail(
            "生产环境（FEEDBACK_ENV=production）不能生成演示数据：演示账户共用一个打印出来的密码。"
        )
    started = time.perf_counter()
    try:
        result = seed_demo_data(submissions=submissions, seed=seed)
    except DomainError as error:
        fail(_reason(error))
    record(
        "seed_demo",
        actor=None,
        organisations=result.organisations,
        users=len(result.logins),
        submissions=submissions,
        seed=seed,
    )
    db.session.commit()
    click.echo(
        f"演示数据：新增单位 {result.organisations} 个，用户 {len(result.logins)} 个，"
        f"材料 {result.submissions} 份，"
        f"用时 {time.perf_counter() - started:.1f} 秒。"
    )
    if result.logins:
        click.echo(f"演示账户的密码（本次随机生成）：{result.password}")
        for email, role, org in result.logins:
            click.echo(f"  {role:<14} {email:<36} {org}")


@click.command("similarity-rebuild")
def similarity_rebuild() -> None:
    """Recompute every submission's similarity signature and links (after bulk imports)."""
    from feedback.review import similarity

    timings = similarity.rebuild(db.session)
    db.session.commit()
    click.echo("相似材料索引已重建：" + "，".join(f"{k} {v:.1f}" for k, v in timings.items()))


@click.command("build-report")
@click.option("--id", "report_id", required=True, type=int, help="The report's number.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True))
@click.option(
    "--version",
    "number",
    default=None,
    type=int,
    help="A frozen version (its stored bytes); default: the draft, built now.",
)
def build_report(report_id: int, out: str, number: int | None) -> None:
    """Write a report's workbook: a frozen version byte for byte, or the current draft."""
    from feedback.audit.services import record
    from feedback.models import Report, utcnow
    from feedback.reports import services
    from feedback.reports.compile import build_workbook

    with reading():  # building a workbook must not hold SQLite's write lock
        report = db.session.get(Report, report_id)
        if report is None:
            fail(f"找不到编号为 {report_id} 的报告。")
        if number is not None:
            edition = services.get_version(report, number)
            if edition is None:
                fail(f"报告 {report_id} 没有第 {number} 版。")
            content = edition.workbook
        else:
            number = report.next_number
            content = build_workbook(report, number=number, generated_at=utcnow())
        db.session.commit()  # ends the read; the record below takes the write lock briefly
    with _atomic_file(out) as stream:
        stream.write(content)
    record("report_cli_build", actor=None, object_type="report", object_id=report_id,
           number=number, out=out)  # fmt: skip
    db.session.commit()
    click.echo(f"已写入 {out}（第 {number} 版，{len(content)} 字节）。")


@contextmanager
def _atomic_file(out: str) -> Iterator[IO[bytes]]:
    """A file written beside ``out`` and renamed onto it: a failure never leaves half a file."""
    target = Path(out)
    handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".part")
    try:
        with os.fdopen(handle, "wb") as stream:
            yield stream
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@click.command("export-submissions")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True),
              help="FILE.xlsx or FILE.csv (the format follows the extension).")  # fmt: skip
@click.option("--status", default="", help="submitted, in_review, accepted …")
@click.option("--kind", default="", help="experience, problem or suggestion.")
@click.option("--q", default="", help="Chinese full-text search.")
@click.option("--columns", default="", help="Comma-separated column keys (default: the usual).")
def export_submissions(out: str, status: str, kind: str, q: str, columns: str) -> None:
    """Export every submission that reached the federation and matches the filters."""
    from werkzeug.datastructures import MultiDict

    from feedback.audit.services import record
    from feedback.reports import exports
    from feedback.review.queue import QueueFilters

    file_format = Path(out).suffix.lower().lstrip(".")
    if file_format not in exports.FORMATS:
        fail("--out 须以 .xlsx 或 .csv 结尾。")
    filters = QueueFilters.from_args(MultiDict({"status": status, "kind": kind, "q": q}))
    if (status and filters.status != status) or (kind and filters.kind != kind):
        fail("--status 或 --kind 的取值无效。")
    query = exports.query_for(filters, None)
    chosen = exports.chosen([c.strip() for c in columns.split(",") if c.strip()])
    started = time.perf_counter()
    with reading():  # minutes of reading must not hold SQLite's write lock
        total = exports.count(query)

        def progress(done: int) -> None:
            click.echo(f"\r{done}/{total}", nl=False, err=True)

        with _atomic_file(out) as stream:
            records = exports.write(stream, file_format, query, chosen, progress=progress)
        db.session.commit()  # ends the read; the record below takes the write lock briefly
    record("export_cli", actor=None, object_type="export", object_id=None, rows=records,
           query=filters.to_args(), out=out)  # fmt: skip
    db.session.commit()
    seconds = time.perf_counter() - started
    click.echo(f"\n已导出 {records} 份材料到 {out}（{seconds:.1f} 秒）。")


@click.command("export-purge")
def export_purge() -> None:
    """Delete the files of background exports past their expiry (the job rows stay as history).

    Run it daily from cron: nothing else removes them, and each holds a whole filtered set of
    submissions (SECURITY.md row 40, residual information).
    """
    from feedback.audit.services import record
    from feedback.reports import exports

    removed = exports.purge_expired()
    record("export_purge", actor=None, object_type="export", object_id=None, files=removed)
    db.session.commit()
    checkpoint_wal()
    click.echo(f"已删除 {removed} 个过期的导出文件。")


@click.command("purge-drafts")
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=None,
    help="Untouched for this many days (default: DRAFT_RETENTION_DAYS, 180).",
)
@click.option("--dry-run", is_flag=True, help="List what would be deleted; delete nothing.")
def purge_drafts(days: int | None, dry_run: bool) -> None:
    """Delete drafts never sent and unchanged for DAYS, with their files (audited per organisation).

    Run it daily from cron (SECURITY.md row 42). A draft sent to the organisation's approver or
    the federation, even once, is never purged; its author sees a draft on the home page for
    30 days before it goes.
    """
    from feedback.filing import retention

    days = days if days is not None else int(current_app.config["DRAFT_RETENTION_DAYS"])
    drafts = list(db.session.scalars(retention.stale_drafts(utcnow(), days)).unique())
    if dry_run:
        for draft in drafts:
            click.echo(
                f"{draft.reference}\t{draft.organisation.name}\t"
                f"最后修改 {draft.updated_at:%Y-%m-%d}\t附件 {len(draft.attachments)} 个"
            )
        click.echo(
            f"试运行：将删除 {len(drafts)} 份超过 {days} 天未修改、从未报送的草稿；未删除任何内容。"
        )
        return
    purged = retention.purge_drafts(drafts, days=days)
    db.session.commit()
    # The rows are gone for good; only now their files (a failed commit leaves them to the
    # sweeper, never a row without its file).
    retention.remove_files(Path(current_app.config["UPLOAD_DIR"]), purged.files)
    checkpoint_wal()
    click.echo(
        f"已删除 {len(purged.drafts)} 份超过 {days} 天未修改、从未报送的草稿"
        f"（{len(purged.by_organisation)} 个单位，附件 {len(purged.files)} 个）。"
    )


@click.command("sweep-uploads")
@click.option("--dry-run", is_flag=True, help="List the orphaned files; delete nothing.")
def sweep_uploads(dry_run: bool) -> None:
    """Delete uploaded and temporary files no row references, once 24 hours old (audited).

    Run it daily from cron (SECURITY.md row 41): a crash between storing a file and committing
    its row leaves a file nobody can reach. Younger files may belong to a filing in flight.
    """
    from feedback.audit.services import record
    from feedback.filing import sweep

    orphans = sweep.find_orphans(Path(current_app.config["UPLOAD_DIR"]))
    db.session.commit()  # ends the read
    if dry_run:
        for orphan in orphans:
            click.echo(f"{orphan.path}\t{orphan.size} 字节")
        click.echo(f"试运行：有 {len(orphans)} 个无人引用的文件；未删除任何文件。")
        return
    removed = sweep.remove(orphans)
    temporary = sum(1 for orphan in orphans if orphan.temporary)
    record("upload_sweep", actor=None, files=removed, temporary=temporary)
    db.session.commit()
    click.echo(f"已删除 {removed} 个无人引用的上传文件或临时文件。")


@click.command("purge-sessions")
def purge_sessions() -> None:
    """Delete the records of ended and expired login sessions (run daily from cron; audited)."""
    from feedback.audit.services import record
    from feedback.auth import sessions

    removed = sessions.purge()
    record("session_purge", actor=None, rows=removed)
    db.session.commit()
    checkpoint_wal()
    click.echo(f"已删除 {removed} 条已结束或已过期的会话记录。")


@click.command("disable-dormant")
def disable_dormant() -> None:
    """Mark accounts unused for DORMANT_DAYS (default 90) inactive, each audited.

    Run it daily from cron (等保 L3-CES1-07). Login refuses a dormant account anyway; this makes
    the state visible on the user list, where an administrator re-enables the account.
    """
    from feedback.auth import services as auth

    now = utcnow()
    cutoff = auth.dormant_before(now)
    if cutoff is None:
        click.echo("DORMANT_DAYS 为 0：不停用长期未使用的账户。")
        return
    users = db.session.scalars(select(User).where(User.active).order_by(User.id)).all()
    dormant = [user for user in users if user.last_used_at < cutoff]
    for user in dormant:
        auth.disable_dormant(user)
    db.session.commit()
    days = current_app.config["DORMANT_DAYS"]
    click.echo(f"已停用 {len(dormant)} 个超过 {days} 天未使用的账户。")


@click.command("rotate-field-key")
def rotate_field_key() -> None:
    """Re-encrypt every encrypted field under the first key of FEEDBACK_FIELD_KEYS."""
    from feedback.audit.services import record
    from feedback.crypto import FieldKeyError, current_cipher, reencrypt_all

    try:
        changed = reencrypt_all(db.session.connection(), current_cipher())
    except FieldKeyError as error:
        db.session.rollback()
        fail(str(error))
    record("field_key_rotate", actor=None, values=changed)
    db.session.commit()
    click.echo(
        f"已用当前密钥重新加密 {changed} 个字段值；确认无误后可从 FEEDBACK_FIELD_KEYS 删除旧密钥。"
    )


_PASSPHRASE_FILE = click.option(
    "--passphrase-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the backup passphrase from this file (instead of FEEDBACK_BACKUP_KEY/PASSPHRASE).",
)


def _backup_secret(passphrase_file: Path | None) -> BackupSecret | None:
    from feedback.backup_crypto import BackupSecret, secret_from_config

    if passphrase_file is not None:
        return BackupSecret(passphrase=passphrase_file.read_text("utf-8").strip())
    return secret_from_config(current_app.config)


@click.command("backup")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Archive to write (.tar.gz): database, uploads and a SHA-256 manifest.",
)
@click.option(
    "--encrypt/--no-encrypt",
    default=None,
    help="Encrypt the archive (default: yes when a backup key or passphrase is configured).",
)
@_PASSPHRASE_FILE
def backup(out: Path, encrypt: bool | None, passphrase_file: Path | None) -> None:
    """Back up the database (online, consistent) and the uploads into one archive."""
    from feedback.audit.services import record
    from feedback.backup import BackupError, create_backup

    secret = _backup_secret(passphrase_file)
    if encrypt and secret is None:
        fail(
            "要加密备份，请设置 FEEDBACK_BACKUP_KEY 或 FEEDBACK_BACKUP_PASSPHRASE，"
            "或给出 --passphrase-file。"
        )
    if encrypt is False:
        secret = None
    try:
        result = create_backup(out, secret=secret)
    except BackupError as error:
        fail(str(error))
    record(
        "backup",
        actor=None,
        file=out.name,
        sha256=result.sha256,
        files=result.files,
        rows=sum(result.tables.values()),
        encrypted=secret is not None,
    )
    db.session.commit()
    state = "已加密" if secret is not None else "未加密"
    click.echo(
        f"已备份到 {out}（{state}）：{len(result.tables)} 张表共 {sum(result.tables.values())} 行，"
        f"{result.files} 个文件；SHA-256 {result.sha256}"
    )


@click.command("restore")
@click.argument("archive", type=click.Path(dir_okay=False, path_type=Path))
@_PASSPHRASE_FILE
def restore(archive: Path, passphrase_file: Path | None) -> None:
    """Restore a backup into this empty instance, after checking every file against the manifest."""
    from feedback.audit.services import record
    from feedback.backup import BackupError, restore_backup

    try:
        result = restore_backup(archive, secret=_backup_secret(passphrase_file))
    except BackupError as error:
        fail(str(error))
    record("restore", actor=None, file=archive.name, rows=sum(result.tables.values()))
    db.session.commit()
    click.echo(
        f"已从 {archive} 恢复：{len(result.tables)} 张表共 {sum(result.tables.values())} 行"
        f"（与备份清单一致），{result.files} 个上传文件。"
    )


@click.command("copy-database")
@click.option(
    "--to",
    "target",
    required=True,
    help="URL of the empty target database, migrated to the same revision "
    "(e.g. postgresql+psycopg://feedback@127.0.0.1/feedback).",
)
def copy_database(target: str) -> None:
    """Copy every table into an empty database (SQLite → PostgreSQL), all or nothing, and verify.

    Stop the service first. Uploaded files are not copied: copy UPLOAD_DIR as a folder.
    """
    from feedback.audit.services import record
    from feedback.dbcopy import CopyError
    from feedback.dbcopy import copy_database as copy

    def progress(table: str, rows: int) -> None:
        click.echo(f"  {table:<28} {rows:>9} 行")

    source = db.engine.dialect.name
    # Recorded (and copied) first: the new database's trail says where its rows came from.
    record("database_copy", actor=None, source=source, target=target.split("://")[0])
    db.session.commit()
    try:
        result = copy(target, progress=progress)
    except CopyError as error:
        fail(str(error))
    click.echo(
        f"已复制到 {result.target}：{len(result.tables)} 张表共 {sum(result.tables.values())} 行，"
        f"各表行数与源数据库一致；搜索索引已重建（{result.indexed} 份材料）；"
        f"审计链完整（{result.audit_records} 条记录）；用时 {result.seconds:.1f} 秒。"
    )
    click.echo(
        "下一步：把 FEEDBACK_DATABASE_URL 改为目标地址，并把上传目录 "
        f"{current_app.config['UPLOAD_DIR']} 整个复制到新服务器的 FEEDBACK_UPLOAD_DIR。"
    )
