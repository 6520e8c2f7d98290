"""Browser fixtures: SQLite-only settings, the app served for real, Chromium and axe-core.

The ``settings`` fixture here replaces the one in tests/conftest.py (which is parametrised over
SQLite and PostgreSQL): a browser journey is about pages, not backends, so it runs once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright
from werkzeug.serving import WSGIRequestHandler, make_server

from config.settings import Settings
from core import create_app
from core.db import Database
from tests.conftest import missing

ROOT = Path(__file__).resolve().parents[2]
AXE_PATH = ROOT / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """Browser tests run on SQLite only (the parent conftest's settings and database build on
    this): the server runs in another thread, and one backend is enough for the browser."""
    return f"sqlite:///{tmp_path / 'speakup.db'}"


class _QuietHandler(WSGIRequestHandler):
    """No per-request log lines (the app itself never logs the client)."""

    def log_request(self, *args: object, **kwargs: object) -> None:
        pass


@pytest.fixture
def live_url(settings: Settings, database: Database) -> Iterator[str]:
    """The whole WSGI app served on 127.0.0.1 at a free port, in a background thread."""
    app = create_app(settings, database)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture
def axe_path() -> Path:
    if not AXE_PATH.is_file():
        missing(f"axe-core not installed ({AXE_PATH}); run `npm ci`")
    return AXE_PATH


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def chromium(playwright: Playwright) -> Iterator[Browser]:
    executable = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    if not Path(executable).is_file():
        missing("chromium not installed")
    browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def shots_dir() -> Path:
    path = Path(os.environ.get("SPEAKUP_SHOTS_DIR", "/tmp/journey-shots"))
    path.mkdir(parents=True, exist_ok=True)
    return path
