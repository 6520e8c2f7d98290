"""What every page of both apps shares: the request's database session, security headers,
error pages, and the CSRF-expiry handling that keeps what the person typed."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app, g, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.orm import Session
from werkzeug.exceptions import BadRequest, HTTPException

from config.settings import Settings
from core.db import Database

log = logging.getLogger("speakup")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; "
    "form-action 'self'; base-uri 'none'"
)


def settings() -> Settings:
    """The settings of the app handling this request."""
    value: Settings = current_app.extensions["speakup.settings"]
    return value


def database() -> Database:
    value: Database = current_app.extensions["speakup.database"]
    return value


def db() -> Session:
    """The request's database session, opened on first use and closed at teardown."""
    if "db_session" not in g:
        g.db_session = database().sessionmaker()
    session: Session = g.db_session
    return session


def _close_db(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.rollback()
        session.close()


def _security_headers(response: Any) -> Any:
    headers = response.headers
    headers["Content-Security-Policy"] = CSP
    headers["Referrer-Policy"] = "no-referrer"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Cross-Origin-Resource-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), interest-cohort=()"
    if settings().https:
        headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    if not request.path.startswith(("/static/", "/staff/static/")):
        # Pages can hold concern text or receipts: never keep them in any cache.
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"
    return response


def _error_page(error: HTTPException) -> tuple[str, int]:
    code = error.code or 500
    description = _ERROR_TEXT.get(code)
    if code == 413:
        cfg = settings()
        description = (f"Everything sent at once can be at most {cfg.max_attachments} files of "
                       f"up to {cfg.max_attachment_bytes // (1024 * 1024)} MB each. "
                       f"{description}")
    # "Go back" goes back to the form that was sent (the browser keeps what was typed there).
    back = request.path if code == 413 and request.method == "POST" else None
    return render_template("errors.html", code=code, description=description,
                           back_url=back), code


_ERROR_TEXT = {
    400: "The request could not be understood. Go back and try again.",
    403: "You do not have permission to see this page.",
    404: "Check the address, or go back to the start page.",
    405: "That page cannot be used like that. Go back and try again.",
    413: "What you sent is too large. Go back: your browser should still have what you "
    "typed. Remove or shrink the files and send it again.",
    429: "There have been too many attempts. Wait a few minutes and try again.",
}


_PLAIN_500 = (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Sorry, there is a '
    'problem with the service</title><meta name="viewport" content="width=device-width, '
    'initial-scale=1"></head><body style="font-family:Arial,sans-serif;margin:2em;max-width:40em">'
    "<h1>Sorry, there is a problem with the service</h1><p>{text}</p>"
    '<p><a href="{home}">Go to the start page</a></p></body></html>')


def _server_error(error: Exception) -> tuple[str, int]:
    """An unexpected failure: never a bare 500 and never a traceback with SQL parameters.

    The request's database session is rolled back first (a failed flush leaves it unusable,
    and the page's own context would fail on it). If the page still cannot be drawn (the
    database is gone), a plain page written here is sent. On the staff side the kind of failure
    is logged, never the request or the exception's text; on the anonymous side nothing is
    logged at all (a timestamped line would say when a reporter did something): the failure is
    counted per day in the database instead, when it can be.
    """
    anonymous = current_app.name == "source"
    sent = request.method not in ("GET", "HEAD")
    text = ("Something went wrong on our side. Nothing you sent was saved. Go back: your "
            "browser should still have what you typed. Please try again." if sent else
            "Something went wrong on our side. Please try again in a few minutes.")
    session = g.pop("db_session", None)
    if session is not None:
        try:
            session.rollback()
        finally:
            session.close()
    if anonymous:
        _count_anonymous_error()
    else:
        log.error("unhandled %s on %s", type(error).__name__, request.endpoint,
                  exc_info=current_app.testing)
    try:
        return render_template("errors.html", code=500, description=text), 500
    except Exception:  # the page itself failed (the database is down): a plain one
        home = "/" if anonymous else "/staff/"
        return _PLAIN_500.format(text=text, home=home), 500


def _count_anonymous_error() -> None:
    from core.ratelimit import hit

    try:
        with database().session() as session:
            hit(session, name="anonymous-errors", window_seconds=86_400, settings=settings())
    except Exception:  # noqa: S110 - counting is best effort; nothing may be logged here
        pass


CSRF_EXPIRED = ("This page was open for a long time, so for your security we need you to "
                "send it again. We have kept what you wrote: check it and send it again.")


def _csrf_failed(_error: CSRFError) -> Any:
    """An expired or missing form token: show the same form again with what was typed.

    The view runs again; its form fails CSRF validation, so it re-renders with the posted
    values, a fresh token and a message asking the person to check and send again.
    """
    g.csrf_failed = True
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None:
        return _error_page(BadRequest())
    try:
        return view(**(request.view_args or {}))
    except HTTPException as e:
        # abort() in the view (a redirect to sign in, a 404): raised inside this error
        # handler it would escape Flask's handling and become a 500.
        return current_app.handle_http_exception(e)


def install(app: Flask, settings_: Settings, database_: Database) -> None:
    app.extensions["speakup.settings"] = settings_
    app.extensions["speakup.database"] = database_
    app.teardown_appcontext(_close_db)
    app.after_request(_security_headers)
    app.register_error_handler(CSRFError, _csrf_failed)
    # Every form's CSRF error is shown in these plain words (macros/forms.html error_summary).
    app.jinja_env.globals["csrf_failed_message"] = CSRF_EXPIRED
    app.register_error_handler(HTTPException, _error_page)
    app.register_error_handler(Exception, _server_error)
