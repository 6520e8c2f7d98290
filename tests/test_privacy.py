"""Anonymity: headers, cookies, logs, and the separation of the two apps."""

from __future__ import annotations

import logging

from flask.testing import FlaskClient

from core import create_app
from core.web import CSP
from tests.conftest import csrf_token, submit_concern


def test_security_headers_on_every_page(client: FlaskClient, guardian) -> None:
    for path in ("/", "/concern/new", "/return", "/privacy", "/staff/login", "/nope"):
        response = client.get(path)
        headers = response.headers
        assert headers["Content-Security-Policy"] == CSP, path
        assert "frame-ancestors 'none'" in CSP and "'unsafe-inline'" not in CSP
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Cache-Control"] == "no-store"
        assert "Strict-Transport-Security" not in headers  # only behind HTTPS


def test_hsts_and_secure_cookies_behind_https(settings, database) -> None:
    app = create_app(settings.with_overrides(https=True), database)
    response = app.test_client().get("/concern/new")
    assert "max-age=" in response.headers["Strict-Transport-Security"]
    assert "Secure" in response.headers["Set-Cookie"]


def test_anonymous_side_sets_only_a_session_cookie(client: FlaskClient, guardian) -> None:
    response = client.get("/concern/new")
    cookies = response.headers.getlist("Set-Cookie")
    assert len(cookies) == 1
    cookie = cookies[0]
    assert cookie.startswith("su_r=")
    assert "Expires" not in cookie and "Max-Age" not in cookie
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie


def test_staff_and_reporter_sessions_are_separate(app, client: FlaskClient, guardian) -> None:
    source = app.extensions["speakup.source_app"]
    assert source.secret_key != app.secret_key
    assert source.config["SESSION_COOKIE_NAME"] != app.config["SESSION_COOKIE_NAME"]
    assert app.config["SESSION_COOKIE_PATH"] == "/staff"
    client.get("/concern/new")
    reporter_cookie = client.get_cookie("su_r")
    assert reporter_cookie is not None
    # The reporter's cookie is sealed: it reveals nothing, not even the CSRF token.
    page = client.get("/concern/new").data.decode()
    assert csrf_token(page).split(".")[0] not in reporter_cookie.value
    # Presented to the staff side under the staff cookie name, it opens nothing.
    staff = app.test_client()
    staff.set_cookie("su_s", reporter_cookie.value, path="/staff")
    assert staff.get("/staff/cases/").status_code == 302


def test_logs_hold_no_report_text_or_client_details(client: FlaskClient, guardian, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    environ = {"REMOTE_ADDR": "203.0.113.77", "HTTP_USER_AGENT": "AnxiousNurseBrowser/1.0"}
    page = client.get("/concern/new", environ_base=environ).data.decode()
    client.post("/concern/new", data={"csrf_token": csrf_token(page), "text": "LOGMARKER text",
                                      "kind": "nonsense"}, environ_base=environ)
    submit_concern(client, "LOGMARKER submitted")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in ("LOGMARKER", "203.0.113.77", "AnxiousNurseBrowser"):
        assert secret not in logged


def test_gunicorn_access_log_skips_anonymous_side_and_names_nobody(monkeypatch) -> None:
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "gconf", Path(__file__).resolve().parent.parent / "config" / "gunicorn.conf.py")
    gconf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gconf)
    assert "%(h)s" not in gconf.access_log_format and "%(a)s" not in gconf.access_log_format
    assert "%(t)s" not in gconf.access_log_format

    class Recorder(gconf.ScrubbedLogger):
        def __init__(self) -> None:
            self.seen: list[str] = []

    def parent_access(self, resp, req, environ, request_time) -> None:
        self.seen.append(environ["PATH_INFO"])

    from gunicorn.glogging import Logger

    monkeypatch.setattr(Logger, "access", parent_access)
    logger = Recorder()
    for path in ("/", "/concern/new", "/return", "/staff/login"):
        logger.access(None, None, {"PATH_INFO": path}, 0)
    assert logger.seen == ["/staff/login"]
