"""Configuration classes.

Nothing is read at import time: :func:`load_config` builds the settings when the factory runs, from
the class, then ``instance/config.py``, then ``FEEDBACK_*`` environment variables (highest wins).
"""

from __future__ import annotations

import os
import secrets
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

from flask import Flask

MIN_SECRET_KEY_BYTES = 32


class ConfigError(RuntimeError):
    """The configuration is unsafe or incomplete; the app refuses to start."""


class Config:
    """Settings shared by every environment."""

    ENV_NAME = "base"
    DEBUG = False
    TESTING = False
    SECRET_KEY: str | None = None
    SQLALCHEMY_DATABASE_URI: str | None = None  # default: SQLite in the instance folder
    SQLALCHEMY_ENGINE_OPTIONS: ClassVar[dict[str, Any]] = {}
    SQLITE_BUSY_TIMEOUT_MS = 10_000

    # Session cookie: HttpOnly, SameSite=Lax; Secure is switched on per request when served over
    # HTTPS (see ``feedback.security``) so that plain-HTTP local use still works.
    SESSION_COOKIE_NAME = "feedback_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    SESSION_IDLE_MINUTES = 30
    SESSION_IDLE_MINUTES_ADMIN = 15
    SESSION_ABSOLUTE_HOURS = 12
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
    # The cookie is sent again when the session changes (the idle clock, to the minute: see
    # security.enforce_session_policy), not on every response; the server enforces both limits.
    SESSION_REFRESH_EACH_REQUEST = False
    # Live sessions per user (SECURITY.md row 9): a further login ends the oldest. 0: no limit.
    MAX_SESSIONS_PER_USER = 3
    REMEMBER_COOKIE_DURATION = timedelta(seconds=0)  # remember-me is never offered

    # A report edited for hours must not lose its form to an expired token (SECURITY.md finding 4).
    WTF_CSRF_TIME_LIMIT = None

    LOGIN_MAX_FAILURES = 5
    LOGIN_LOCK_MINUTES = 30
    INITIAL_PASSWORD_HOURS = 72
    # Accounts unused this many days cannot log in until an administrator re-enables them
    # (等保 L3-CES1-07); `flask disable-dormant` marks them inactive from cron. 0: never.
    DORMANT_DAYS = 90
    # `flask purge-drafts` deletes drafts never submitted and untouched this many days (row 42).
    DRAFT_RETENTION_DAYS = 180
    # `flask sweep-uploads` removes files no row references once they are this old (row 41).
    ORPHAN_UPLOAD_HOURS = 24
    # Password expiry (等保 定期更换): on for the three administrator roles, off (0) for others.
    PASSWORD_MAX_AGE_DAYS_ADMIN = 90
    PASSWORD_MAX_AGE_DAYS = 0
    # The issuer shown in authenticator apps next to the account name.
    MFA_ISSUER = "石化联合会规划实施反馈平台"
    # How long the code page waits after the password was accepted.
    MFA_PENDING_SECONDS = 300
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_LOGIN = "20 per minute"
    RATELIMIT_API = "300 per minute"  # per token; per address for requests without one
    RATELIMIT_API_ADDRESS = "1200 per minute"  # per address, all tokens together
    # Exports per person, web (queue and audit CSV) and API together (feedback/ratelimits.py).
    RATELIMIT_EXPORT = "10 per hour"
    RATELIMIT_HEADERS_ENABLED = False

    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = ("zh_CN", "en")

    MAX_CONTENT_LENGTH = 25 * 1024 * 1024  # one request; nginx client_max_body_size must match
    ATTACHMENT_MAX_BYTES = 20 * 1024 * 1024
    IMPORT_MAX_BYTES = 10 * 1024 * 1024
    # All the attachments one organisation may keep, together (0: no quota). Checked with the
    # organisation's stored total before an upload is kept; a refusal is audited (row 22).
    ORG_UPLOAD_QUOTA_BYTES = 2 * 1024 * 1024 * 1024
    # Werkzeug's form parser: a text field over this many bytes, or a form of more parts than
    # this, is refused with 413 before it is read into memory. The longest field (10,000
    # characters, 30 KB in UTF-8) and the largest form (the plan's checkboxes, ten files) fit.
    MAX_FORM_MEMORY_SIZE = 512 * 1024
    MAX_FORM_PARTS = 500
    # A template import of at least this many rows is written by a background job, with a
    # progress page; smaller ones (seconds at most) answer in the request (bench/RESULTS.md).
    IMPORT_JOB_FROM_ROWS = 200
    MAIL_SMTP_HOST: str | None = None  # reminders are e-mailed only when this is set
    MAIL_SMTP_PORT = 25
    MAIL_FROM = "noreply@feedback.local"
    UPLOAD_DIR: str | None = None  # default: instance/uploads
    # /readyz answers 503 when the disk under UPLOAD_DIR has less free space than this.
    READYZ_MIN_FREE_MB = 1024
    # Background jobs (large exports): RQ on this Redis when set, else a thread of the web
    # process. JOB_TIMEOUT bounds one job on RQ; JOB_STALE_AFTER is how long a queued or running
    # job may go without a heartbeat before it is shown as interrupted and may be restarted.
    JOB_QUEUE_URL: str | None = None
    JOB_QUEUE_NAME = "feedback"
    JOB_TIMEOUT = 3600
    JOB_STALE_AFTER = 600
    PROXY_FIX_HOPS = 0
    TRUSTED_HOSTS: list[str] | None = None

    # Audit records are kept at least this long; under 180 days is refused at start-up, and a
    # purge never touches anything younger than max(this, 184) days (SECURITY.md row 36).
    AUDIT_RETENTION_DAYS = 365
    # Refused requests (authorisation denials, CSRF and validation failures) audited per client
    # address; past this they are only logged (feedback/audit/refusals.py).
    AUDIT_REFUSALS_LIMIT = "30 per minute"

    # Field encryption keys (base64url, 32 bytes each; the first encrypts, all decrypt; see
    # feedback/crypto.py). Required in production; elsewhere derived from SECRET_KEY when unset.
    FIELD_KEYS: str | None = None
    # Backups: a key (base64url, 32 bytes) or a passphrase; when either is set, `flask backup`
    # encrypts the archive (feedback/backup_crypto.py).
    BACKUP_KEY: str | None = None
    BACKUP_PASSPHRASE: str | None = None
    # Malware scanning of uploads through clamd's UNIX socket (feedback/filing/scanning.py);
    # unset: no scanning, with a warning at start-up.
    CLAMD_SOCKET: str | None = None
    # Log lines on stderr (feedback/logs.py): "json" (one object per line), "text" (readable),
    # or None to leave logging as it is (tests, where pytest captures the records).
    LOG_FORMAT: str | None = "text"
    LOG_LEVEL = "INFO"
    # Who answers questions about personal information (PIPL Art. 17), shown on the privacy
    # notice, e.g. "信息安全管理员 安全邮箱 security@example.org.cn"; unset: the federation's
    # security administrator, without an address.
    PRIVACY_CONTACT: str | None = None


class DevelopmentConfig(Config):
    """Local use by ``make run``: SQLite in ``instance/``."""

    ENV_NAME = "development"


class TestingConfig(Config):
    """A fresh app per test; fast password hashing; rate limits off unless a test turns them on."""

    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "test-secret-key-that-is-long-enough-0123456789"  # noqa: S105 (tests only)
    ARGON2_FAST = True
    RATELIMIT_ENABLED = False
    LOG_FORMAT = None


class ProductionConfig(Config):
    """Served behind nginx; refuses to start with an unsafe configuration."""

    ENV_NAME = "production"
    PROXY_FIX_HOPS = 1
    # Served over HTTPS only: browsers then keep the cookie to this host, Secure and Path=/
    # (SECURITY.md row 11). Plain-HTTP development keeps the base name, which browsers accept.
    SESSION_COOKIE_NAME = "__Host-feedback_session"
    # Structured logs for the log server (SECURITY.md row 33, deploy.md §9).
    LOG_FORMAT = "json"


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}

_ENV_KEYS = {
    "FEEDBACK_SECRET_KEY": "SECRET_KEY",
    "FEEDBACK_DATABASE_URL": "SQLALCHEMY_DATABASE_URI",
    "FEEDBACK_UPLOAD_DIR": "UPLOAD_DIR",
    "FEEDBACK_RATELIMIT_STORAGE_URI": "RATELIMIT_STORAGE_URI",
    "FEEDBACK_RATELIMIT_LOGIN": "RATELIMIT_LOGIN",
    "FEEDBACK_JOB_QUEUE_URL": "JOB_QUEUE_URL",
    "FEEDBACK_RATELIMIT_API": "RATELIMIT_API",
    "FEEDBACK_RATELIMIT_API_ADDRESS": "RATELIMIT_API_ADDRESS",
    "FEEDBACK_RATELIMIT_EXPORT": "RATELIMIT_EXPORT",
    "FEEDBACK_SMTP_HOST": "MAIL_SMTP_HOST",
    "FEEDBACK_MAIL_FROM": "MAIL_FROM",
    "FEEDBACK_AUDIT_RETENTION_DAYS": "AUDIT_RETENTION_DAYS",
    "FEEDBACK_AUDIT_REFUSALS_LIMIT": "AUDIT_REFUSALS_LIMIT",
    "FEEDBACK_PASSWORD_MAX_AGE_DAYS_ADMIN": "PASSWORD_MAX_AGE_DAYS_ADMIN",
    "FEEDBACK_PASSWORD_MAX_AGE_DAYS": "PASSWORD_MAX_AGE_DAYS",
    "FEEDBACK_FIELD_KEYS": "FIELD_KEYS",
    "FEEDBACK_SECRET_KEY_FALLBACKS": "SECRET_KEY_FALLBACKS",
    "FEEDBACK_BACKUP_KEY": "BACKUP_KEY",
    "FEEDBACK_BACKUP_PASSPHRASE": "BACKUP_PASSPHRASE",
    "FEEDBACK_CLAMD_SOCKET": "CLAMD_SOCKET",
    "FEEDBACK_READYZ_MIN_FREE_MB": "READYZ_MIN_FREE_MB",
    "FEEDBACK_DORMANT_DAYS": "DORMANT_DAYS",
    "FEEDBACK_MAX_SESSIONS_PER_USER": "MAX_SESSIONS_PER_USER",
    "FEEDBACK_DRAFT_RETENTION_DAYS": "DRAFT_RETENTION_DAYS",
    "FEEDBACK_LOG_FORMAT": "LOG_FORMAT",
    "FEEDBACK_LOG_LEVEL": "LOG_LEVEL",
    "FEEDBACK_ORG_UPLOAD_QUOTA_BYTES": "ORG_UPLOAD_QUOTA_BYTES",
    "FEEDBACK_PRIVACY_CONTACT": "PRIVACY_CONTACT",
}


def load_config(app: Flask, config_name: str | None, overrides: dict[str, Any] | None) -> None:
    """Fill ``app.config`` from the class, ``instance/config.py``, the environment and overrides."""
    name = config_name or os.environ.get("FEEDBACK_ENV", "development")
    if name not in CONFIGS:
        raise ConfigError(f"未知的运行环境 FEEDBACK_ENV={name!r}（可选：{', '.join(CONFIGS)}）")
    app.config.from_object(CONFIGS[name])
    if not app.config["TESTING"]:
        app.config.from_pyfile("config.py", silent=True)
        for env_key, config_key in _ENV_KEYS.items():
            if os.environ.get(env_key):
                app.config[config_key] = os.environ[env_key]
        if os.environ.get("FEEDBACK_TRUSTED_HOSTS"):
            app.config["TRUSTED_HOSTS"] = os.environ["FEEDBACK_TRUSTED_HOSTS"].split(",")
    if isinstance(app.config.get("SECRET_KEY_FALLBACKS"), str):
        # Old keys still accepted on signed cookies while users' sessions move to the new key.
        app.config["SECRET_KEY_FALLBACKS"] = [
            k.strip() for k in app.config["SECRET_KEY_FALLBACKS"].split(",") if k.strip()
        ]
    if overrides:
        app.config.update(overrides)

    instance = Path(app.instance_path)
    if not app.config["SQLALCHEMY_DATABASE_URI"]:
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'feedback.sqlite3'}"
    if not app.config["UPLOAD_DIR"]:
        app.config["UPLOAD_DIR"] = str(instance / "uploads")
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(app.config["SQLALCHEMY_DATABASE_URI"])
    check_config(app)


def engine_options(url: str) -> dict[str, Any]:
    """Engine options per backend: pool health checks for PostgreSQL, a lock timeout for SQLite.

    ``hide_parameters`` keeps bound values (report text, password hashes, phone numbers) out of
    database exceptions, which the error handler logs (SECURITY.md row 33).
    """
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 10}, "hide_parameters": True}
    return {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 5, "hide_parameters": True}


def check_audit_retention(app: Flask) -> None:
    """Audit records must be kept six months (CSL Art. 21(3)); 180 days is the least accepted."""
    try:
        days = int(app.config["AUDIT_RETENTION_DAYS"])
    except (TypeError, ValueError):
        raise ConfigError("AUDIT_RETENTION_DAYS 必须是整数（天数）。") from None
    if days < 180:
        raise ConfigError(f"AUDIT_RETENTION_DAYS={days} 过短：审计记录至少保留 180 天（6 个月）。")


def instance_secret_key(instance: Path) -> str:
    """The development secret key in ``instance/secret_key``, created (mode 0600) if missing."""
    path = instance / "secret_key"
    instance.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    for _attempt in range(50):  # another process may be between creating and writing the file
        key = path.read_text().strip()
        if len(key) >= 2 * MIN_SECRET_KEY_BYTES:
            return key
        time.sleep(0.01)
    raise ConfigError(f"{path} 内容不完整；删除该文件后重新启动即可。")


def check_field_keys(app: Flask) -> None:
    """Field keys must be well formed everywhere, and present in production."""
    from feedback.crypto import FieldKeyError, parse_keys

    try:
        keys = parse_keys(app.config.get("FIELD_KEYS"))
    except FieldKeyError as error:
        raise ConfigError(str(error)) from None
    if app.config["ENV_NAME"] == "production" and not keys:
        raise ConfigError(
            "生产环境必须设置 FEEDBACK_FIELD_KEYS（字段加密密钥，逗号分隔，第一个用于加密）。"
            '可用 python -c "import base64, os; print(base64.urlsafe_b64encode(os.urandom(32))'
            '.decode())" 生成；请与数据库分开保管，丢失后 TOTP 验证器须全部重新绑定。'
        )


def check_config(app: Flask) -> None:
    """Refuse to start with settings that would be unsafe outside development."""
    check_audit_retention(app)
    key = app.config.get("SECRET_KEY")
    if app.config["ENV_NAME"] == "development" and not key:
        # Local use only: a random key kept in instance/, shared by every worker process (a key
        # per process would make each worker reject the others' sessions).
        app.config["SECRET_KEY"] = instance_secret_key(Path(app.instance_path))
        check_field_keys(app)
        return
    if not key or len(str(key).encode()) < MIN_SECRET_KEY_BYTES:
        raise ConfigError(
            "FEEDBACK_SECRET_KEY 未设置或过短（至少 32 字节）。"
            '可用 python -c "import secrets; print(secrets.token_hex(32))" 生成。'
        )
    if app.config["ENV_NAME"] == "production":
        if app.config["DEBUG"]:
            raise ConfigError("生产环境不得开启 DEBUG。")
        if not app.config.get("TRUSTED_HOSTS"):
            raise ConfigError("生产环境必须设置 FEEDBACK_TRUSTED_HOSTS（以逗号分隔的域名）。")
        for fallback in app.config.get("SECRET_KEY_FALLBACKS") or []:
            if len(str(fallback).encode()) < MIN_SECRET_KEY_BYTES:
                raise ConfigError("FEEDBACK_SECRET_KEY_FALLBACKS 中有过短的密钥（至少 32 字节）。")
        check_outside_web_root(app)
        app.config["SESSION_COOKIE_SECURE"] = True
        check_host_cookie(app)
    check_field_keys(app)


def check_host_cookie(app: Flask) -> None:
    """A ``__Host-`` cookie is dropped by browsers unless Secure, with Path=/ and no Domain."""
    if not str(app.config["SESSION_COOKIE_NAME"]).startswith("__Host-"):
        return
    path = app.config.get("SESSION_COOKIE_PATH") or app.config.get("APPLICATION_ROOT") or "/"
    if app.config.get("SESSION_COOKIE_DOMAIN") or path != "/":
        raise ConfigError(
            "会话 Cookie 名以 __Host- 开头时不能设置 SESSION_COOKIE_DOMAIN，路径必须为 /。"
        )


def check_outside_web_root(app: Flask) -> None:
    """The database and the data folders must not be where nginx serves files (``static/``)."""
    served = Path(str(app.static_folder)).resolve()
    places = {"FEEDBACK_UPLOAD_DIR": app.config["UPLOAD_DIR"]}
    if app.config.get("EXPORT_DIR"):
        places["EXPORT_DIR"] = app.config["EXPORT_DIR"]
    url = str(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.startswith("sqlite:///"):
        places["FEEDBACK_DATABASE_URL"] = url.removeprefix("sqlite:///")
    for name, place in places.items():
        if Path(place).resolve().is_relative_to(served):
            raise ConfigError(
                f"{name} 指向 {place}，位于对外提供的静态目录 {served} 之下：请移到网站目录以外。"
            )
