"""Composition root: builds the two Flask apps and mounts them as one WSGI application.

The anonymous reporting side (``/``) and the staff side (``/staff``) are separate Flask apps
(as in SecureDrop): separate secret keys, session keys, cookie names and CSRF tokens, so
nothing about a reporter's browser session is readable by, or shared with, the staff side.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from flask import Flask
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from config.settings import Settings, load_settings
from core import web
from core.db import Database
from core.encryption import derive_subkey, fingerprint
from core.sessions import SealedCookieSessionInterface

HERE = Path(__file__).resolve().parent
STAFF_PREFIX = "/staff"


def configure_logging() -> None:
    """Plain messages without timestamps; the dev server's per-request log (which names the
    client address) is silenced."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # pikepdf reports a damaged upload at ERROR: a timestamped line saying when someone sent a
    # file. The upload is refused with a message instead.
    logging.getLogger("pikepdf").setLevel(logging.CRITICAL)


def _base_app(name: str, settings: Settings, database: Database, secret: bytes,
              load_session: Callable[[], None] | None = None) -> Flask:
    app = Flask(name, static_folder=str(HERE / "static"), template_folder=str(HERE / "templates"))
    app.config.update(
        SECRET_KEY=derive_subkey(secret, f"{name}/flask"),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=settings.https,
        WTF_CSRF_TIME_LIMIT=4 * 3600,
        WTF_CSRF_SSL_STRICT=False,  # no Referer is ever sent (Referrer-Policy: no-referrer)
        MAX_CONTENT_LENGTH=settings.max_attachments * settings.max_attachment_bytes
        + 2 * 1024 * 1024,
        TESTING=settings.testing,
    )
    app.session_interface = SealedCookieSessionInterface(derive_subkey(secret, f"{name}/session"))
    app.jinja_env.globals["organisation"] = settings.organisation
    web.install(app, settings, database)
    if load_session is not None:
        # Before the CSRF check: a form re-shown after an expired token still knows its user.
        app.before_request(load_session)
    CSRFProtect(app)
    return app


def create_source_app(settings: Settings, database: Database) -> Flask:
    """The anonymous side: raising a concern and coming back with a receipt."""
    app = _base_app("source", settings, database, settings.source_secret)
    app.config.update(
        SESSION_COOKIE_NAME="su_r",
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.reporter_session_minutes),
    )
    escrow_fingerprint = (fingerprint(settings.escrow_public_key)
                          if settings.escrow_public_key else None)
    from speakup.report_views import bp as report_bp
    from surveys.respond_views import bp as survey_bp

    app.register_blueprint(report_bp)
    app.register_blueprint(survey_bp)

    @app.context_processor
    def _layout() -> dict[str, object]:
        return {"service_name": "Speak Up", "service_home_url": "/", "header_links": [],
                "max_file_mb": settings.max_attachment_bytes // (1024 * 1024),
                "min_cell_size": settings.min_cell_size,
                "retention_days": settings.retention_days,
                "escrow_fingerprint": escrow_fingerprint,
                "privacy_url": "/privacy"}

    return app


def create_staff_app(settings: Settings, database: Database) -> Flask:
    """The staff side: guardians' inbox and case work, exports, audit."""
    from accounts.views import load_staff_session

    app = _base_app("staff", settings, database, settings.staff_secret,
                    load_session=load_staff_session)
    app.config.update(
        SESSION_COOKIE_NAME="su_s",
        SESSION_COOKIE_PATH=STAFF_PREFIX,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.staff_max_hours),
    )
    from accounts import orgkeys
    from accounts.views import bp as accounts_bp
    from core.cli import register_commands
    from equality.survey_views import bp as edi_bp
    from equality.theme_views import bp as themes_bp
    from equality.workforce_views import bp as workforce_bp
    from speakup import services as speakup_services
    from speakup.guardian_views import bp as guardian_bp

    # Every kind of grant sealed to a staff member's key, re-sealed when they rotate it.
    app.extensions["speakup.resealers"] = (speakup_services.reseal_grants, orgkeys.reseal_grants)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(guardian_bp)
    app.register_blueprint(edi_bp)
    app.register_blueprint(themes_bp)
    app.register_blueprint(workforce_bp)
    register_commands(app)
    return app


def create_app(settings: Settings | None = None, database: Database | None = None) -> Flask:
    """The whole platform as one WSGI app: the staff app, with the anonymous app at ``/``.

    The returned object is the staff Flask app (so ``flask --app wsgi`` finds the CLI), whose
    WSGI entry point hands every path outside ``/staff`` to the anonymous app.
    """
    settings = settings or load_settings()
    # Flask-WTF logs every failed CSRF check at INFO, including the anonymous side's: a
    # timestamped line saying when a reporter sent a form. It logs nothing here.
    logging.getLogger("flask_wtf.csrf").setLevel(logging.ERROR)
    database = database or Database.from_settings(settings)
    source = create_source_app(settings, database)
    staff = create_staff_app(settings, database)
    staff.extensions["speakup.source_app"] = source
    staff.wsgi_app = DispatcherMiddleware(  # type: ignore[method-assign]
        source.wsgi_app, {STAFF_PREFIX: staff.wsgi_app}
    )
    return staff
