"""Denial of service on receipts across two gunicorn instances (issue 8, finding 6).

The first release kept one global in-memory limiter (about five minutes of wrong guesses
locked every reporter out for ten), per-session counts that a replayed cookie reset, and limits
per process. Here two real gunicorn servers share one database, as two servers behind a load
balancer would: a stranger's flood of wrong receipts makes every attempt need proof of work,
but never locks an honest reporter out, and one browser's limit holds across both servers and
across a replayed cookie.
"""

from __future__ import annotations

import http.client
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from speakup import services
from tests.conftest import csrf_token, pow_fields

ROOT = Path(__file__).resolve().parent.parent
THRESHOLD = 12


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Browser:
    """A minimal HTTP client with one cookie jar, talking to either server."""

    def __init__(self) -> None:
        self.cookie: str | None = None

    def request(self, port: int, method: str, path: str,
                form: dict[str, str] | None = None) -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Cookie": f"su_r={self.cookie}"} if self.cookie else {}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        text = response.read().decode()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie" and value.startswith("su_r="):
                self.cookie = value.split(";", 1)[0].split("=", 1)[1] or None
        conn.close()
        return response.status, text

    def try_receipt(self, port: int, receipt: str, *, solve: bool = True) -> tuple[int, str]:
        _status, page = self.request(port, "GET", "/return")
        fields = pow_fields(page) if solve else {}
        return self.request(port, "POST", "/return", {"csrf_token": csrf_token(page),
                                                      "receipt": receipt, **fields})


@pytest.fixture
def servers(settings, database, guardian, tmp_path: Path) -> Iterator[tuple[list[int], str]]:
    with database.session() as db:
        receipt = services.submit_concern(db, draft=services.ConcernDraft(
            text="Two servers", kind="other", identity_mode="anonymous"),
            form_token="t" * 30, settings=settings).receipt
    env = {**os.environ, "SPEAKUP_ENV": "test", "SPEAKUP_KDF": "fast",
           "DATABASE_URL": settings.database_url,
           "SPEAKUP_INSTANCE_DIR": str(settings.instance_dir),
           "SPEAKUP_RECEIPT_ATTACK_THRESHOLD": str(THRESHOLD),
           "SPEAKUP_WORKERS": "2", "SPEAKUP_THREADS": "2"}
    ports, processes = [_free_port(), _free_port()], []
    for port in ports:
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "--bind",
             f"127.0.0.1:{port}", "wsgi:app"], cwd=ROOT, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        for port in ports:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if Browser().request(port, "GET", "/")[0] == 200:
                        break
                except OSError:
                    pass
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.3)
        assert receipt is not None
        yield ports, receipt
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


def test_a_flood_of_wrong_receipts_locks_nobody_out(servers) -> None:
    ports, receipt = servers
    wrong = "abandon " * 8
    # A stranger with a fresh session for every guess, alternating servers.
    for i in range(THRESHOLD):
        status, _ = Browser().try_receipt(ports[i % 2], wrong)
        assert status == 400
    # Now the service is under attack: an attempt without proof of work is turned away (on
    # both servers: the count is in the database) ...
    for port in ports:
        status, page = Browser().try_receipt(port, wrong, solve=False)
        assert status == 429 and "prove it is not a machine" in page
        assert re.search(r'data-pow-bits="(\d+)"', page).group(1) != "0"
    # ... but an honest reporter whose browser does the work gets in, on either server.
    for port in ports:
        honest = Browser()
        status, _ = honest.try_receipt(port, receipt)
        assert status == 302
        assert "Two servers" in honest.request(port, "GET", "/concern")[1]


def test_one_browsers_limit_holds_across_servers_and_replayed_cookies(servers) -> None:
    ports, receipt = servers
    browser = Browser()
    browser.request(ports[0], "GET", "/return")
    before = browser.cookie  # the cookie before the first attempt
    assert before is not None
    statuses = [browser.try_receipt(ports[i % 2], "abandon " * 8)[0] for i in range(7)]
    assert statuses[:5] == [400] * 5 and statuses[5:] == [429, 429]
    replay = Browser()
    replay.cookie = before
    status, page = replay.try_receipt(ports[1], "abandon " * 8)
    assert status == 429 and "too many attempts from this browser" in page
    # Another browser is not affected.
    assert Browser().try_receipt(ports[1], receipt)[0] == 302
