"""The plan-implementation feedback platform: the application factory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, has_request_context, request, session

from feedback.config import load_config
from feedback.logs import init_logging
from feedback.paging import register_converters

ROOT = Path(__file__).resolve().parent.parent


def create_app(config_name: str | None = None, overrides: dict[str, Any] | None = None) -> Flask:
    """Create and wire the application. ``config_name`` is development, testing or production."""
    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    load_config(app, config_name, overrides)
    init_logging(app)
    register_extensions(app)
    # Before any rule is added: rules pick up their converters when they are registered.
    register_converters(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    return app


def select_locale() -> str:
    """Chinese unless the user chose English (kept in the session)."""
    if not has_request_context():
        return "zh_CN"  # CLI and background work speak Chinese
    chosen = session.get("lang")
    if chosen in ("zh_CN", "en"):
        return str(chosen)
    return "zh_CN"


def register_extensions(app: Flask) -> None:
    from feedback import assets, crypto, database, formatting, i18n, labels, menus, search, security
    from feedback.audit import chain, refusals
    from feedback.auth.login import init_login
    from feedback.codes.regions import region_label
    from feedback.extensions import babel, csrf, db, limiter, migrate

    crypto.init_crypto(app)
    from feedback.filing import scanning

    scanning.init_scanning(app)
    database.init_database(app, db)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    i18n.init_i18n(app)
    limiter.init_app(app)
    init_login(app)
    # Before the security headers: after_request hooks run last-registered first.
    assets.init_assets(app)
    security.init_security(app)
    # Every audit record joins the hash chain when it is flushed, in the action's transaction.
    chain.install(app)
    # …and a refused request (denial, CSRF, validation) gets one, in a transaction of its own.
    refusals.install(app)
    # Keeps the Chinese search index in step with every ORM write, in this process.
    search.install(app)
    # …and the similarity signatures of every submission whose text changes.
    from feedback.review import similarity

    similarity.install(app)
    # Staff menus kept per process, raised to a new version by every write to them.
    menus.install(app)

    @app.context_processor
    def inject_globals() -> dict[str, Any]:
        from flask_login import current_user

        from feedback.notifications.services import unread_count

        unread = unread_count(current_user.id) if current_user.is_authenticated else 0
        return {
            "current_locale": select_locale(),
            "request_path": request.path,
            "unread_notifications": unread,
        }

    app.jinja_env.globals.update(labels=labels.ALL, region_label=region_label)
    formatting.init_formatting(app)


def register_blueprints(app: Flask) -> None:
    from feedback.admin.views import bp as admin_bp
    from feedback.api import token_views  # noqa: F401 (adds its routes to the auth blueprint)
    from feedback.api.views import bp as api_bp
    from feedback.audit.views import bp as audit_bp
    from feedback.auth import mfa_views  # noqa: F401 (adds its routes to the auth blueprint)
    from feedback.auth.views import bp as auth_bp
    from feedback.campaigns.views import bp as campaigns_bp
    from feedback.consolidation.views import bp as consolidation_bp
    from feedback.extensions import csrf
    from feedback.filing.imports import bp as imports_bp
    from feedback.filing.views import bp as filing_bp
    from feedback.main.views import bp as main_bp
    from feedback.reports.export_views import bp as exports_bp
    from feedback.reports.views import bp as reports_bp
    from feedback.review.views import bp as review_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(filing_bp)
    app.register_blueprint(imports_bp)
    app.register_blueprint(campaigns_bp)
    app.register_blueprint(review_bp)
    app.register_blueprint(consolidation_bp)
    app.register_blueprint(reports_bp)
    app.register_blueprint(exports_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(api_bp)
    # The API takes no cookies, only bearer tokens: CSRF cannot forge what it does not read.
    csrf.exempt(api_bp)


def register_errorhandlers(app: Flask) -> None:
    from feedback.errors import init_errors

    init_errors(app)


def register_commands(app: Flask) -> None:
    from feedback.cli import register

    register(app)
