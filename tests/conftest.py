"""Fixtures in layers: settings -> database -> app -> clients -> role helpers.

Every database test runs against SQLite, and also against the real PostgreSQL server when
``TEST_DATABASE_URL`` is set. With ``SPEAKUP_REQUIRE_ALL=1`` (CI) a missing PostgreSQL or
Chromium is a failure, not a skip.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from accounts import services as accounts
from config.settings import Settings, load_settings
from core import create_app
from core.db import Database
from core.migrate import upgrade

REQUIRE_ALL = os.environ.get("SPEAKUP_REQUIRE_ALL") == "1"
PG_URL = os.environ.get("TEST_DATABASE_URL", "")
PASSWORD = "a long test password 123"


def missing(reason: str) -> None:
    """Skip for a missing dependency, or fail when CI requires everything."""
    if REQUIRE_ALL:
        pytest.fail(f"required for CI but missing: {reason}")
    pytest.skip(reason)


def _backends() -> list[str]:
    return ["sqlite", "postgresql"]


@pytest.fixture(params=_backends())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'speakup.db'}"
        return
    if not PG_URL:
        missing("TEST_DATABASE_URL is not set")
    base = PG_URL.replace("postgresql://", "postgresql+psycopg://", 1) \
        if PG_URL.startswith("postgresql://") else PG_URL
    # Each test gets its own schema, so test runs can share one server in parallel.
    schema = f"t_{os.getpid()}_{next(_schema_numbers)}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


_schema_numbers = itertools.count()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return load_settings({
        "SPEAKUP_ENV": "test", "SPEAKUP_KDF": "fast", "DATABASE_URL": database_url,
        "SPEAKUP_INSTANCE_DIR": str(tmp_path / "instance"),
    })


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    database = Database.from_settings(settings)
    upgrade(database.engine, settings)
    yield database
    database.dispose()


@pytest.fixture
def db(database: Database) -> Iterator[Session]:
    session = database.sessionmaker()
    yield session
    session.rollback()
    session.close()


@pytest.fixture
def app(settings: Settings, database: Database) -> Flask:
    return create_app(settings, database)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@dataclass
class Staff:
    id: int
    name: str
    email: str
    password: str
    totp_secret: str
    recovery_key: str
    private_key: bytes = b""

    def code(self) -> str:
        return pyotp.TOTP(self.totp_secret).now()


def make_staff(database: Database, settings: Settings, name: str, role: str = "guardian") -> Staff:
    email = f"{name.lower().replace(' ', '.')}@example.nhs.uk"
    with database.session() as session:
        new = accounts.create_staff(session, name=name, email=email, password=PASSWORD,
                                    role=role, settings=settings)
        return Staff(new.user.id, name, email, PASSWORD, new.totp_secret, new.recovery_key,
                     new.private_key)


def analysis_key(database: Database, settings: Settings, holder: Staff | None = None) -> bytes:
    """The organisation's analysis private key, as an EDI lead's session opens it (``holder``),
    or from the bootstrap copy while no EDI lead exists (tests only)."""
    from sqlalchemy import select

    from accounts import orgkeys
    from accounts.models import StaffUser
    from core.encryption import open_sealed, server_key

    with database.session() as session:
        if holder is not None:
            user = session.get(StaffUser, holder.id)
            assert user is not None
            return orgkeys.private_key(session, user, holder.private_key)
        boot = session.scalar(select(orgkeys.OrgKeyGrant).where(
            orgkeys.OrgKeyGrant.staff_id.is_(None)))
        assert boot is not None, "no bootstrap copy: pass the EDI lead holding the key"
        return open_sealed(server_key(settings.staff_secret, "org-key-bootstrap"),
                           boot.key_sealed, context=b"speakup/org-key/analysis")


@pytest.fixture
def guardian(database: Database, settings: Settings) -> Staff:
    return make_staff(database, settings, "Gina Guardian")


@pytest.fixture
def second_guardian(database: Database, settings: Settings) -> Staff:
    return make_staff(database, settings, "Sam Second")


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


@pytest.fixture
def edi_staff(database: Database, settings: Settings) -> Staff:
    return make_staff(database, settings, "Eddie Edi", role="edi")


@pytest.fixture
def edi(client: FlaskClient, edi_staff: Staff) -> FlaskClient:
    """The test client, signed in as an EDI lead."""
    login(client, edi_staff)
    return client


def csrf_token(html: str) -> str:
    match = CSRF_RE.search(html) or re.search(r'value="([^"]+)"[^>]*name="csrf_token"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def form_token(html: str) -> str:
    match = re.search(r'name="form_token" value="([^"]+)"', html)
    assert match, "no form token on the page"
    return match.group(1)


def login(client: FlaskClient, staff: Staff) -> None:
    page = client.get("/staff/login").data.decode()
    response = client.post("/staff/login", data={
        "csrf_token": csrf_token(page), "email": staff.email, "password": staff.password,
        "code": staff.code(),
    })
    assert response.status_code == 302, response.data.decode()[:2000]


def submit_concern(client: FlaskClient, text_: str = "The rota is unsafe on ward 7.",
                   **fields: object) -> tuple[str, str]:
    """Submit the concern form as a reporter; return (receipt, page html)."""
    page = client.get("/concern/new").data.decode()
    data: dict[str, object] = {
        "csrf_token": csrf_token(page), "form_token": form_token(page), "text": text_,
        "kind": "patient-safety", "identity_mode": "anonymous", **fields,
    }
    response = client.post("/concern/new", data=data, content_type="multipart/form-data")
    html = response.data.decode()
    return receipt_on(html, response.status_code), html


def receipt_on(html: str, status: int = 200) -> str:
    """The receipt words shown on a receipt page."""
    match = re.search(r'id="receipt">(.*?)</p>', html, re.S)
    assert status == 200 and match, html[:3000]
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


def pow_fields(html: str) -> dict[str, str]:
    """The receipt form's proof-of-work challenge, solved (no work unless under attack)."""
    from core.ratelimit import solve

    token = re.search(r'name="pow_token" type="hidden" value="([^"]*)"', html) or re.search(
        r'value="([^"]*)"[^>]*name="pow_token"', html)
    bits = re.search(r'data-pow-bits="(\d+)"', html)
    assert token and bits, "no proof-of-work challenge on the page"
    return {"pow_token": token.group(1), "pow_solution": solve(token.group(1), int(bits.group(1)))}


def reporter_sign_in(client: FlaskClient, receipt: str) -> FlaskClient:
    page = client.get("/return").data.decode()
    response = client.post("/return", data={"csrf_token": csrf_token(page), "receipt": receipt,
                                            **pow_fields(page)})
    assert response.status_code == 302, response.data.decode()[:2000]
    return client


def tiny_pdf(text: str = "Hello", *, javascript: str | None = None) -> bytes:
    """A real one-page PDF showing ``text``; with ``javascript``, one that runs it on opening
    (an /OpenAction), as a hostile attachment would."""
    import io

    import pikepdf

    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=(200, 100))
    page.Contents = pdf.make_stream(f"BT /F1 12 Tf 10 50 Td ({text}) Tj ET".encode())
    if javascript is not None:
        pdf.Root.OpenAction = pdf.make_indirect(pikepdf.Dictionary(
            Type=pikepdf.Name.Action, S=pikepdf.Name.JavaScript,
            JS=pikepdf.String(javascript)))
    pdf.docinfo["/Author"] = "Nurse Jane Smith"
    out = io.BytesIO()
    pdf.save(out, compress_streams=False)
    return out.getvalue()
