"""Whatever is sent, no page fails with a 500, and what the person typed is kept.

Hypothesis drives every form of both apps, and random paths and methods. The budget is a few
hundred requests per test on SQLite and a quarter of that on PostgreSQL. Also: CSRF failures,
double submission, and a failure half-way through saving a concern.
"""

from __future__ import annotations

import io
import os
import re
import struct
import time
import zlib
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, quote_from_bytes, urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from itsdangerous.timed import TimestampSigner
from markupsafe import escape
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from accounts.models import StaffUser
from accounts.services import start_session
from config.settings import Settings
from config.vocabulary import ETHNICITIES, IDENTITY_MODES, NGO_ELEMENTS, PREFER_NOT_TO_SAY
from core.db import Database, today
from core.web import CSRF_EXPIRED
from speakup import services
from speakup.forms import TEXT_LIMIT, recent_months
from speakup.models import Concern, SubmissionToken
from surveys import definition as survey_definitions
from surveys import services as surveys
from surveys.models import SurveyWave
from tests.conftest import (
    Staff,
    csrf_token,
    form_token,
    make_staff,
    pow_fields,
    reporter_sign_in,
    submit_concern,
    tiny_pdf,
)

RECEIPT_RE = re.compile(r'id="receipt">(.*?)</p>', re.S)


def receipt_on(html: str) -> str | None:
    """The receipt words on a receipt page (each word may be in its own element), or None."""
    match = RECEIPT_RE.search(html)
    if match is None:
        return None
    words = re.sub(r"<[^>]+>", " ", match.group(1)).split()
    return " ".join(words) if len(words) == 8 else None


# SPEAKUP_FUZZ_SCALE=10 for a longer hunt (the default keeps this file under a minute).
SCALE = float(os.environ.get("SPEAKUP_FUZZ_SCALE", "1"))


def fuzz(database: Database, examples: int) -> Callable[[Any], Any]:
    """Hypothesis settings: ``examples`` on SQLite, a quarter of that on PostgreSQL."""
    examples = max(5, int(examples * SCALE))
    return hsettings(
        max_examples=examples if database.is_sqlite else max(5, examples // 4),
        deadline=None, database=None, derandomize=False, print_blob=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                               HealthCheck.data_too_large, HealthCheck.large_base_example],
    )


def count(database: Database, model: type) -> int:
    with database.session() as db:
        return int(db.scalar(select(func.count()).select_from(model)) or 0)


def staff_client(app: Flask, database: Database, settings: Settings, staff: Staff) -> FlaskClient:
    """A client with a fresh staff session, without using up a TOTP code (codes cannot be
    replayed, so ``login`` works once per 30 seconds per account)."""
    with database.session() as db:
        user = db.get(StaffUser, staff.id)
        assert user is not None
        token = start_session(db, user=user, private_key=staff.private_key)
    client = app.test_client()
    with client.session_transaction() as session:
        session["token"] = token
    assert client.get("/staff/").location in ("/staff/cases/", "/staff/surveys/")  # signed in
    return client


def open_survey(database: Database, settings: Settings) -> tuple[int, int]:
    """A survey from the first template, with an open wave; returns their ids."""
    with database.session() as db:
        template = survey_definitions.template_names()[0]
        survey = surveys.save_survey(db, definition_text=survey_definitions.template_text(
            template), settings=settings, actor="test")
        wave = surveys.open_wave(db, wave_=surveys.wave(db, survey, "Spring"), open_link=True,
                                 actor="test")
        return survey.id, wave.id


def is_plain(text: str) -> bool:
    """Text a person could type in a textarea and expect to see again, character for
    character, in the page source."""
    return text.isprintable()


# --- strategies -------------------------------------------------------------------------------

ANY_TEXT = st.text(max_size=300)  # any unicode: control characters, NUL, emoji, RTL marks
PRINTABLE = st.text(st.characters(codec="utf-8", categories=("L", "M", "N", "P", "S", "Zs")),
                    max_size=300)
EDGE_TEXT = st.sampled_from([
    "", " ", "   \t\n  ", "\x00", "a\x00b", "\r\n\r\n", "\u202etxt.exe", "<script>alert(1)</script>",
    "&lt; &amp; \"quotes\" 'single'", "{{ 7*7 }}", "%s%n", "\ufeff", "\U0001f4a9" * 50,
    "Robert'); DROP TABLE concerns;--",
])
HUGE_TEXT = st.one_of(
    st.integers(TEXT_LIMIT - 1, TEXT_LIMIT + 2).map(lambda n: "w" * n),
    st.sampled_from(["y" * 50_000, "é" * 30_000, ("0123456789 " * 10_000)]),
)
TEXT = st.one_of(PRINTABLE.filter(str.strip), PRINTABLE, ANY_TEXT, EDGE_TEXT, HUGE_TEXT)
SHORT_TEXT = st.one_of(st.text(max_size=40), ANY_TEXT, EDGE_TEXT, st.just("n" * 500))
GARBAGE_CHOICE = st.one_of(
    st.text(max_size=60),
    st.sampled_from(["", " ", " " * 60, "\t" * 60, "\x00", "None", "0", "-1", "[]", "on",
                     "earlier ", "2020-13", "9999-99", "x" * 500]),
)


@st.composite
def choice(draw: st.DrawFn, valid: list[str]) -> str:
    """Mostly one of the choices offered (so that whole forms are often valid), else garbage."""
    if draw(st.sampled_from([True] * 9 + [False])):
        return draw(st.sampled_from(valid))
    return draw(GARBAGE_CHOICE)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(
        ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def _png(width: int = 3, height: int = 2) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "green").save(out, format="PNG")
    return out.getvalue()


VALID_PNG = _png()
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_header(width: int, height: int, depth: int, colour: int) -> bytes:
    """A PNG signature and a well-formed IHDR chunk (right CRC) with any dimensions."""
    return PNG_MAGIC + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour,
                                                   0, 0, 0))


FILE_CONTENT = st.one_of(
    st.binary(max_size=2_000),
    st.just(b""),
    st.binary(max_size=600).map(lambda junk: PNG_MAGIC + junk),
    st.binary(max_size=600).map(lambda junk: b"\xff\xd8\xff" + junk),
    st.binary(max_size=600).map(lambda junk: b"%PDF-" + junk),
    st.just(VALID_PNG),
    st.binary(max_size=600).map(lambda junk: VALID_PNG + junk),
    st.binary(max_size=600).map(lambda junk: VALID_PNG[:40] + junk),
    st.builds(lambda w, h, depth, colour, junk: png_header(w, h, depth, colour) + junk,
              st.integers(0, 6_000), st.integers(0, 6_000), st.sampled_from([1, 2, 4, 8, 16]),
              st.sampled_from([0, 2, 3, 4, 6, 7]), st.binary(max_size=200)),
)
FILENAME = st.one_of(
    st.sampled_from(["rota.png", "minutes.pdf", "photo.jpg", "evil.exe", "a.png.exe", ".png",
                     "noextension", "../../etc/passwd", "C:\\Users\\me\\Desktop\\scan.pdf",
                     "x" * 300 + ".png", "报告.png", "Zoë's notes.pdf", "a;b=c.png"]),
    st.text(st.characters(codec="utf-8", exclude_characters='"\r\n\\'), min_size=1,
            max_size=40),
)
CONTENT_TYPE = st.sampled_from(["image/png", "application/pdf", "application/octet-stream",
                                "text/html", "application/x-msdownload", "image/jpeg"])
UPLOAD = st.tuples(FILE_CONTENT, FILENAME, CONTENT_TYPE)
GOOD_UPLOAD = st.tuples(st.sampled_from([VALID_PNG, tiny_pdf()]), FILENAME, CONTENT_TYPE)
FILES = st.one_of(
    st.just([]),
    st.lists(GOOD_UPLOAD, min_size=1, max_size=2),
    st.lists(UPLOAD, max_size=3),
    st.lists(UPLOAD, min_size=6, max_size=7),  # more than the five allowed
    st.text(max_size=20),  # a plain form value where a file should be
)


def with_files(data: dict[str, Any], files: Any) -> dict[str, Any]:
    """The request data with fresh file objects for ``files`` (a list of uploads, or a str)."""
    if isinstance(files, str):
        return {**data, "files": files}
    return {**data, "files": [(io.BytesIO(content), name, ctype)
                              for content, name, ctype in files]}


# --- the concern form -------------------------------------------------------------------------


def concern_fields(settings: Settings, guardian_ids: list[int]) -> st.SearchStrategy[dict]:
    org = settings.organisation
    ids = [str(i) for i in guardian_ids]
    return st.fixed_dictionaries({
        "text": TEXT,
        "kind": choice([code for code, _ in org.concern_kinds]),
        "identity_mode": choice([code for code, _, _ in IDENTITY_MODES]),
    }, optional={
        "site": choice([code for code, _ in org.sites]),
        "happened_month": choice([m for m, _ in recent_months(today())] + ["earlier"]),
        "name": SHORT_TEXT,
        "contact": SHORT_TEXT,
        "professional_group": choice([c for c, _ in org.professional_groups]
                                     + [PREFER_NOT_TO_SAY[0]]),
        "ethnicity": choice([c for c, _ in ETHNICITIES] + [PREFER_NOT_TO_SAY[0]]),
        "quote_consent": st.sampled_from(["y", "", "no", "\x00", "on"]),
        "excluded_guardians": st.lists(st.sampled_from(ids), max_size=1) | st.lists(st.one_of(
            st.sampled_from(ids),
            st.sampled_from(["abc", "-1", "999999", "", " 1", "1.0", "0x1", "١", "9" * 40]),
            st.text(max_size=10)), max_size=4),
        "form_token": st.one_of(st.text(max_size=40), st.just("t" * 5000)),
    })


def test_concern_form_never_fails_and_keeps_what_was_typed(
    app: Flask, database: Database, settings: Settings, guardian: Staff, second_guardian: Staff,
) -> None:
    client = app.test_client()
    page = client.get("/concern/new").data.decode()
    token = csrf_token(page)
    seen: list[int] = []

    @fuzz(database, 300)
    @given(fields=concern_fields(settings, [guardian.id, second_guardian.id]), files=FILES)
    def run(fields: dict[str, Any], files: Any) -> None:
        data = {"csrf_token": token, "form_token": form_token(client.get("/concern/new")
                                                              .data.decode()), **fields}
        response = client.post("/concern/new", data=with_files(data, files),
                               content_type="multipart/form-data")
        body = response.data.decode()
        assert response.status_code in (200, 400), body[:3000]
        seen.append(response.status_code)
        text = fields["text"]
        if response.status_code == 400:
            assert '<textarea' in body  # the form again, not an error page
            if is_plain(text):
                assert str(escape(text)) in body
            return
        receipt = receipt_on(body)
        assert receipt, body[:3000]
        if "we did not save it twice" in body:
            return  # a form_token already used: the first concern's receipt, nothing new
        # Saved exactly as typed, and nothing but the offered choices stored.
        with database.session() as db:
            access = services.open_with_receipt(db, receipt=receipt, settings=settings)
            assert services.reporter_case(db, access=access).text == text
            case = services.reporter_case(db, access=access).record
            for column in ("kind", "identity_mode", "site", "happened_month",
                           "professional_group", "ethnicity"):
                stored = getattr(case, column)
                assert stored is None or stored == (fields.get(column) or "").strip(), column

    run()
    print(f"concern form: {len(seen)} posts, {seen.count(200)} saved")
    assert {200, 400} <= set(seen)  # both outcomes were exercised


def test_a_garbage_exclusion_does_not_drop_the_others(
    client: FlaskClient, database: Database, guardian: Staff, second_guardian: Staff,
) -> None:
    """Found by fuzzing: a blank first value made Optional() swallow the coercion error,
    and the concern was saved with no exclusion at all."""
    page = client.get("/concern/new").data.decode()
    response = client.post("/concern/new", data={
        "csrf_token": csrf_token(page), "form_token": form_token(page), "text": "Keep them out",
        "kind": "patient-safety", "identity_mode": "anonymous",
        "excluded_guardians": [" ", str(second_guardian.id)]})
    assert response.status_code == 400
    assert count(database, Concern) == 0


def test_no_guardian_set_up_keeps_the_text(client: FlaskClient, database: Database) -> None:
    page = client.get("/concern/new").data.decode()
    response = client.post("/concern/new", data={
        "csrf_token": csrf_token(page), "form_token": form_token(page),
        "text": "Nobody to read <this>", "kind": "patient-safety", "identity_mode": "anonymous"})
    body = response.data.decode()
    assert response.status_code == 400
    assert "Nothing was saved" in body
    assert str(escape("Nobody to read <this>")) in body
    assert count(database, Concern) == 0


# --- the reporter's other forms ---------------------------------------------------------------


def test_return_form_never_fails(app: Flask, database: Database, guardian: Staff) -> None:
    receipt, _ = submit_concern(app.test_client())
    words = receipt.split()
    variants = st.sampled_from([
        receipt.upper(), "-".join(words), "  ".join(words) + "\n", " ".join(w[:4] for w in words),
        "\x00".join(words), " ".join(words[:-1]), receipt + " extra"])

    @fuzz(database, 80)
    @given(typed=st.one_of(SHORT_TEXT, variants, st.text(max_size=250)))
    def run(typed: str) -> None:
        client = app.test_client()
        page = client.get("/return").data.decode()
        response = client.post("/return", data={"csrf_token": csrf_token(page),
                                                "receipt": typed, **pow_fields(page)})
        assert response.status_code in (302, 400, 429), response.data.decode()[:2000]
        if response.status_code == 302:
            assert response.location == "/concern"
            assert client.get("/concern").status_code == 200

    run()


def test_reporter_message_and_feedback_never_fail(
    app: Flask, database: Database, guardian: Staff,
) -> None:
    receipt, _ = submit_concern(app.test_client())
    client = reporter_sign_in(app.test_client(), receipt)
    token = csrf_token(client.get("/concern").data.decode())

    @fuzz(database, 120)
    @given(text=st.one_of(TEXT, st.just("m" * 10_001)), files=FILES,
           answer=st.one_of(st.sampled_from(["yes", "no", "maybe", "dont-know"]), SHORT_TEXT))
    def run(text: str, files: Any, answer: str) -> None:
        response = client.post("/concern/message",
                               data=with_files({"csrf_token": token, "text": text}, files),
                               content_type="multipart/form-data")
        body = response.data.decode()
        assert response.status_code in (302, 400), body[:3000]
        if response.status_code == 302:
            assert response.location == "/concern"
        elif is_plain(text):
            assert str(escape(text)) in body
        response = client.post("/concern/feedback", data={"csrf_token": token,
                                                          "answer": answer})
        assert response.status_code in (302, 400), response.data.decode()[:3000]

    run()


# --- staff forms ------------------------------------------------------------------------------


def test_staff_login_form_never_fails(app: Flask, database: Database, guardian: Staff) -> None:
    @fuzz(database, 80)
    @given(email=st.one_of(SHORT_TEXT, st.just(guardian.email),
                           st.just(guardian.email.upper() + "\x00"), st.emails()),
           password=st.one_of(SHORT_TEXT, st.just(guardian.password + "\x00")),
           code=st.one_of(SHORT_TEXT, st.text("0123456789 ", max_size=14)))
    def run(email: str, password: str, code: str) -> None:
        client = app.test_client()
        page = client.get("/staff/login").data.decode()
        response = client.post("/staff/login", data={
            "csrf_token": csrf_token(page), "email": email, "password": password, "code": code})
        body = response.data.decode()
        assert response.status_code in (400, 429), body[:3000]
        if email and is_plain(email):
            assert f'value="{escape(email)}"' in body  # kept, to correct it
        for secret in ("password", "code"):  # never sent back
            field = re.search(rf'<input[^>]*name="{secret}"[^>]*>', body)
            assert field and "value=" not in field.group(0)

    run()


@pytest.fixture
def case_ref(app: Flask, database: Database, guardian: Staff, second_guardian: Staff) -> str:
    submit_concern(app.test_client(), "Staffing on the night shift.")
    with database.session() as db:
        ref = db.scalar(select(Concern.ref))
    assert ref is not None
    return ref


def _ngo_fields(settings: Settings) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries({}, optional={
        "raised": choice([code for code, _, _ in IDENTITY_MODES]),
        "elements": st.lists(choice([code for code, _ in NGO_ELEMENTS]), max_size=4),
        "professional_group": choice([c for c, _ in settings.organisation.professional_groups]),
        "speak_up_again": choice(["yes", "no", "maybe", "dont-know"]),
    })


def test_guardian_actions_never_fail(
    app: Flask, database: Database, settings: Settings, guardian: Staff,
    second_guardian: Staff, case_ref: str,
) -> None:
    client = staff_client(app, database, settings, guardian)
    token = csrf_token(client.get(f"/staff/cases/{case_ref}").data.decode())
    ids = [str(guardian.id), str(second_guardian.id)]
    actions = st.one_of(
        st.tuples(st.just("reply"), st.fixed_dictionaries({"text": TEXT})),
        st.tuples(st.just("note"), st.fixed_dictionaries({"note-text": TEXT})),
        st.tuples(st.just("update"), st.tuples(st.fixed_dictionaries({}, optional={
            "status": choice(["new", "acknowledged", "in-progress", "closed"]),
            "assignee": choice(["", *ids]), "closing_message": TEXT,
            "close_without_message": choice(["y", ""])}), _ngo_fields(settings)).map(
                lambda parts: {**parts[0], **parts[1]})),
    )

    @fuzz(database, 250)
    @given(action=actions, garbage_token=st.one_of(st.none(), st.none(), SHORT_TEXT))
    def run(action: tuple[str, dict[str, Any]], garbage_token: str | None) -> None:
        name, fields = action
        data = {"csrf_token": token if garbage_token is None else garbage_token, **fields}
        response = client.post(f"/staff/cases/{case_ref}/{name}", data=data)
        body = response.data.decode()
        assert response.status_code in (302, 400), body[:3000]
        if response.status_code == 302:
            assert response.location == f"/staff/cases/{case_ref}"
        else:
            text = fields.get("text", fields.get("note-text", fields.get("closing_message", "")))
            if is_plain(text):
                assert str(escape(text)) in body  # the reply or note is not lost
            if garbage_token is not None and garbage_token != token:
                assert CSRF_EXPIRED in body

    run()


def test_export_form_never_fails(
    app: Flask, database: Database, settings: Settings, guardian: Staff, case_ref: str,
) -> None:
    client = staff_client(app, database, settings, guardian)
    token = csrf_token(client.get("/staff/export").data.decode())
    periods = st.one_of(SHORT_TEXT, st.sampled_from([
        "2026-27", "2026-27-Q1", "2026-27-Q5", "1999-00", "2026-02-30", "9999-12-31", "",
        "2026-27-Q", "../2026"]))

    @fuzz(database, 80)
    @given(period=periods)
    def run(period: str) -> None:
        response = client.post("/staff/export", data={"csrf_token": token, "period": period,
                                                      "format": "csv"})
        assert response.status_code in (200, 400), response.data.decode()[:3000]
        if response.status_code == 200:
            assert response.mimetype == "text/csv"
            assert response.data.decode().startswith("section,item,count")

    run()


def test_edi_survey_forms_never_fail(
    app: Flask, database: Database, settings: Settings,
) -> None:
    survey_id, wave_id = open_survey(database, settings)
    client = staff_client(app, database, settings,
                          make_staff(database, settings, "Eve Equality", role="edi"))
    token = csrf_token(client.get(f"/staff/surveys/{survey_id}").data.decode())
    templates = survey_definitions.template_names()
    base = f"/staff/surveys/{survey_id}"
    actions = st.one_of(
        st.tuples(st.just("/staff/surveys/new"),
                  st.fixed_dictionaries({}, optional={"template": choice(templates)})),
        st.tuples(st.just(f"{base}/waves"), st.fixed_dictionaries({}, optional={
            "label": SHORT_TEXT, "open_link": choice(["codes", "link"])})),
        st.tuples(st.just(f"{base}/waves/{wave_id}/codes"), st.fixed_dictionaries({}, optional={
            "count": st.one_of(st.integers(-5, 200_000).map(str), SHORT_TEXT)})),
    )

    @fuzz(database, 60)
    @given(action=actions)
    def run(action: tuple[str, dict[str, Any]]) -> None:
        path, fields = action
        response = client.post(path, data={"csrf_token": token, **fields})
        assert response.status_code in (200, 302, 400), response.data.decode()[:3000]
        label = fields.get("label", "")
        if response.status_code == 400 and path.endswith("/waves") and is_plain(label):
            assert str(escape(label)) in response.data.decode()

    run()


def test_survey_answers_never_fail(app: Flask, database: Database, settings: Settings) -> None:
    _survey_id, wave_id = open_survey(database, settings)
    with database.session() as db:
        wave = db.get(SurveyWave, wave_id)
        assert wave is not None
        link = wave.open_link
        definition = surveys.definition_of(wave.survey, settings)
    answers: dict[str, st.SearchStrategy[Any]] = {}
    for q in definition.questions:
        answers[q.id] = TEXT if q.is_text else choice(list(q.option_ids))
        if q.kind == "multiple":
            answers[q.id] = st.lists(choice(list(q.option_ids)), max_size=4)
    for d in definition.demographics:
        answers[d.id] = choice([o for o, _ in d.options] + [PREFER_NOT_TO_SAY[0]])
    extra = st.dictionaries(st.text(max_size=10), SHORT_TEXT, max_size=2)

    @fuzz(database, 50)
    @given(fields=st.fixed_dictionaries({}, optional=answers), extra=extra)
    def run(fields: dict[str, Any], extra: dict[str, str]) -> None:
        client = app.test_client()
        assert client.get(f"/survey/link/{link}").location == "/survey/answer"
        token = csrf_token(client.get("/survey/answer").data.decode())
        response = client.post("/survey/answer", data={**extra, **fields, "csrf_token": token})
        assert response.status_code in (200, 400), response.data.decode()[:3000]

    run()


# --- random paths and methods -----------------------------------------------------------------

SEGMENT = st.one_of(
    st.text(max_size=15),
    st.sampled_from(["concern", "new", "files", "return", "privacy", "staff", "cases", "reply",
                     "note", "update", "export", "audit", "login", "static",
                     "survey", "link", "answer", "results", "results.csv",
                     "..", ".", "", "1", "0", "-1", "99999999999999999999999", "%00", "%ff",
                     "%2F", "%2e%2e", "%", "%zz", "?a=%00", "#x", ";jsessionid=1"]),
    st.binary(max_size=12).map(quote_from_bytes),
)
PREFIX = st.sampled_from(["/", "/staff/", "/concern/", "/concern/files/", "/staff/cases/",
                          "/static/", "/staff/static/", "/staff/cases/{ref}/", "/survey/",
                          "/survey/link/", "/staff/surveys/", "/staff/surveys/{survey}/",
                          "/staff/surveys/{survey}/waves/{wave}/",
                          "/staff/cases/{ref}/files/"])
METHOD = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE"])


def test_random_paths_and_methods_never_fail(
    app: Flask, database: Database, settings: Settings, guardian: Staff, case_ref: str,
) -> None:
    receipt, _ = submit_concern(app.test_client())
    survey_id, wave_id = open_survey(database, settings)
    clients = {"anonymous": app.test_client(),
               "reporter": reporter_sign_in(app.test_client(), receipt),
               "guardian": staff_client(app, database, settings, guardian),
               "edi": staff_client(app, database, settings,
                                   make_staff(database, settings, "Eve Equality", role="edi"))}
    tokens = {(who, side): csrf_token(client.get(page).data.decode())
              for who, client in clients.items()
              for side, page in (("staff", "/staff/login"), ("source", "/return"))}

    @fuzz(database, 500)
    @given(who=st.sampled_from(sorted(clients)), prefix=PREFIX,
           segments=st.lists(SEGMENT, max_size=4), method=METHOD,
           query=st.one_of(st.just(""), st.text(max_size=20).map(lambda q: "?" + quote(q)),
                           st.dictionaries(st.sampled_from(["by", "by2", "wave", "question",
                                                            "directorate", "status", "next"]),
                                           SHORT_TEXT, max_size=3).map(
                               lambda q: "?" + urlencode(q))),
           body=st.one_of(st.none(), st.dictionaries(SEGMENT, ANY_TEXT, max_size=3)))
    def run(who: str, prefix: str, segments: list[str], method: str, query: str,
            body: dict[str, str] | None) -> None:
        path = prefix.format(ref=case_ref, survey=survey_id, wave=wave_id) \
            + "/".join(segments) + query
        # "//x" would be read as a host name by the test client (not a request to the app).
        path = "/" + path.lstrip("/")
        data = None
        if body is not None:  # with this client's own token; without a body, no token
            side = "staff" if path.startswith("/staff") else "source"
            data = {"csrf_token": tokens[(who, side)], **body}
        response = clients[who].open(path, method=method, data=data)
        assert response.status_code < 500, f"{who} {method} {path!r} -> {response.status_code}"

    run()


def test_nul_bytes_and_impossible_ids(
    app: Flask, database: Database, settings: Settings, guardian: Staff, case_ref: str,
) -> None:
    """PostgreSQL refuses NUL in a query parameter: none may reach it (found by fuzzing)."""
    client = staff_client(app, database, settings, guardian)
    token = csrf_token(client.get(f"/staff/cases/{case_ref}").data.decode())
    for bad in ("%00", "A%00B", "x" * 300, "%C3%A9", "%F0%9F%92%A9", case_ref.lower()):
        assert client.get(f"/staff/cases/{bad}").status_code == 404, bad
        assert client.get(f"/staff/cases/{bad}/files/1").status_code == 404, bad
        for action in ("reply", "note", "update"):
            assert client.post(f"/staff/cases/{bad}/{action}", data={
                "csrf_token": token, "text": "x", "note-text": "x", "status": "closed",
                "assignee": "", "raised": "open"}).status_code == 404, (bad, action)
    assert client.get(f"/staff/cases/{case_ref}/files/{'9' * 40}").status_code == 404

    anonymous = app.test_client()
    page = anonymous.get("/staff/login").data.decode()
    response = anonymous.post("/staff/login", data={
        "csrf_token": csrf_token(page), "email": guardian.email + "\x00",
        "password": guardian.password, "code": guardian.code()})
    assert response.status_code == 400
    page = anonymous.get("/return").data.decode()
    assert anonymous.post("/return", data={"csrf_token": csrf_token(page),
                                           "receipt": "\x00" * 8}).status_code == 400


def test_survey_nul_bytes(app: Flask, database: Database, settings: Settings) -> None:
    """Found by fuzzing: PostgreSQL refuses NUL in a query, so NUL must never reach one."""
    survey_id, _wave_id = open_survey(database, settings)
    statuses = [app.test_client().get("/survey/link/%00").status_code]
    client = staff_client(app, database, settings,
                          make_staff(database, settings, "Eve Equality", role="edi"))
    token = csrf_token(client.get(f"/staff/surveys/{survey_id}").data.decode())
    statuses.append(client.post(f"/staff/surveys/{survey_id}/waves", data={
        "csrf_token": token, "label": "Spring\x00", "open_link": "codes"}).status_code)
    assert 500 not in statuses


def test_any_file_name_can_be_downloaded(
    app: Flask, database: Database, settings: Settings, guardian: Staff,
) -> None:
    """Whatever the file was called, both sides can download it, and the response headers
    can be sent (WSGI servers send headers as Latin-1)."""
    client = app.test_client()
    staff = staff_client(app, database, settings, guardian)

    @fuzz(database, 25)
    @given(name=FILENAME)
    def run(name: str) -> None:
        receipt, _ = submit_concern(client, files=[(io.BytesIO(VALID_PNG), name)])
        reporter = reporter_sign_in(app.test_client(), receipt)
        page = reporter.get("/concern").data.decode()
        links = re.findall(r'href="(/concern/files/[0-9a-f]{32})"', page)
        assert len(links) == 1
        with database.session() as db:
            access = services.open_with_receipt(db, receipt=receipt, settings=settings)
            ref = db.get(Concern, access.concern_id).ref
        case = staff.get(f"/staff/cases/{ref}").data.decode()
        staff_links = re.findall(rf'href="(/staff/cases/{ref}/files/[0-9a-f]{{32}})"', case)
        assert len(staff_links) == 1
        for response in (reporter.get(links[0]), staff.get(staff_links[0])):
            assert response.status_code == 200
            assert response.data.startswith(PNG_MAGIC)
            for header, value in response.headers.items():
                value.encode("latin-1")  # what a WSGI server does with it
                assert "\n" not in value and "\r" not in value, header
            assert response.headers["Content-Disposition"].startswith("attachment;")

    run()


def test_picture_over_the_pixel_limit_is_refused(client: FlaskClient, database: Database,
                                                 guardian: Staff) -> None:
    out = io.BytesIO()
    Image.new("1", (7_000, 7_000)).save(out, format="PNG")  # 49M pixels, a few kB
    page = client.get("/concern/new").data.decode()
    response = client.post("/concern/new", data={
        "csrf_token": csrf_token(page), "form_token": form_token(page),
        "text": "A photo of the rota.", "kind": "patient-safety", "identity_mode": "anonymous",
        "files": [(io.BytesIO(out.getvalue()), "big.png")]})
    assert response.status_code == 400
    assert str(escape("A photo of the rota.")) in response.data.decode()
    assert count(database, Concern) == 0


# --- CSRF: expired, missing or garbage tokens -------------------------------------------------


def _expired_token_page(client: FlaskClient, monkeypatch: pytest.MonkeyPatch, path: str) -> str:
    """A form page whose CSRF token was issued five hours ago (the limit is four)."""
    with monkeypatch.context() as m:
        m.setattr(TimestampSigner, "get_timestamp", lambda _self: int(time.time()) - 5 * 3600)
        return client.get(path).data.decode()


@pytest.mark.parametrize("problem", ["missing", "expired", "garbage", "other session"])
def test_concern_form_with_a_bad_csrf_token_keeps_the_text(
    app: Flask, client: FlaskClient, database: Database, guardian: Staff,
    monkeypatch: pytest.MonkeyPatch, problem: str,
) -> None:
    text = "The ward was short of 3 nurses & nobody <escalated> it."
    if problem == "expired":
        page = _expired_token_page(client, monkeypatch, "/concern/new")
    else:
        page = client.get("/concern/new").data.decode()
    token = {"missing": None, "expired": csrf_token(page), "garbage": "I\x00am not a token",
             "other session": csrf_token(app.test_client().get("/concern/new").data.decode())
             }[problem]
    data = {"form_token": form_token(page), "text": text, "kind": "patient-safety",
            "identity_mode": "confidential", "name": "Ann O'Nymous",
            **({"csrf_token": token} if token is not None else {})}
    response = client.post("/concern/new", data=data)
    body = response.data.decode()
    assert response.status_code == 400
    assert CSRF_EXPIRED in body
    assert f"\n{escape(text)}</textarea>" in body
    assert str(escape("Ann O'Nymous")) in body
    assert 'value="patient-safety" checked' in body
    assert count(database, Concern) == 0

    # Sending it again from the page that came back works, once.
    again = client.post("/concern/new", data={**data, "csrf_token": csrf_token(body),
                                               "form_token": form_token(body)})
    assert again.status_code == 200
    assert receipt_on(again.data.decode())
    assert count(database, Concern) == 1


def test_bad_csrf_token_where_the_visitor_is_turned_away(
    app: Flask, database: Database, settings: Settings, guardian: Staff,
    second_guardian: Staff, case_ref: str,
) -> None:
    """After a CSRF failure the view runs again; an abort() in it (sign in first, not found)
    must still give its own answer, not a 500."""
    anonymous = app.test_client()
    response = anonymous.post("/concern/feedback", data={"csrf_token": "stale", "text": "x"})
    assert (response.status_code, response.location) == (302, "/return")
    # A message typed without a session is kept, and the receipt asked for.
    response = anonymous.post("/concern/message", data={"csrf_token": "stale", "text": "xyz"})
    assert response.status_code == 401 and "xyz" in response.data.decode()
    response = anonymous.post(f"/staff/cases/{case_ref}/reply", data={"text": "x"})
    assert response.location == f"/staff/login?next=/staff/cases/{case_ref}/reply"
    staff = staff_client(app, database, settings, guardian)
    for path in ("/staff/cases/NOSUCHRF/reply", "/staff/cases/%00/note"):
        assert staff.post(path, data={"csrf_token": "stale", "text": "x"}).status_code == 404
    assert anonymous.post("/survey/answer", data={"csrf_token": "x"}).location == "/survey/"


def test_guardian_reply_with_an_expired_csrf_token_keeps_the_text(
    app: Flask, database: Database, settings: Settings, guardian: Staff, case_ref: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = staff_client(app, database, settings, guardian)
    page = _expired_token_page(client, monkeypatch, f"/staff/cases/{case_ref}")
    text = "Thank you. Could you tell me which <ward>?"
    response = client.post(f"/staff/cases/{case_ref}/reply",
                           data={"csrf_token": csrf_token(page), "text": text})
    body = response.data.decode()
    assert response.status_code == 400, response.location
    assert CSRF_EXPIRED in body
    assert str(escape(text)) in body
    assert "Gina Guardian" in body  # still logged in


# --- double submission ------------------------------------------------------------------------


def test_double_submission_creates_one_concern(
    client: FlaskClient, db: Session, guardian: Staff,
) -> None:
    page = client.get("/concern/new").data.decode()
    data = {"csrf_token": csrf_token(page), "form_token": form_token(page),
            "text": "Sent twice by a double click.", "kind": "patient-safety",
            "identity_mode": "anonymous"}
    first = client.post("/concern/new", data=data)
    second = client.post("/concern/new", data=data)
    assert first.status_code == second.status_code == 200
    receipts = [receipt_on(r.data.decode()) for r in (first, second)]
    assert receipts[0] is not None
    assert receipts[0] == receipts[1]
    assert "we did not save it twice" in second.data.decode()
    assert db.scalar(select(func.count()).select_from(Concern)) == 1
    assert db.scalar(select(func.count()).select_from(SubmissionToken)) == 1


# --- a failure while saving -------------------------------------------------------------------


def _fail_second_seal(monkeypatch: pytest.MonkeyPatch) -> None:
    real = services.seal_to_public_key
    calls = []

    def seal_to_public_key(*args: Any, **kwargs: Any) -> bytes:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("hardware security module went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "seal_to_public_key", seal_to_public_key)


def _fail_flush(monkeypatch: pytest.MonkeyPatch) -> None:
    def flush(*_args: Any, **_kwargs: Any) -> None:
        raise OperationalError("INSERT INTO concerns", {}, Exception("disk I/O error"))

    monkeypatch.setattr(Session, "flush", flush)


def _fail_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    def commit(_self: Session) -> None:
        raise OperationalError("COMMIT", {}, Exception("could not serialize access"))

    monkeypatch.setattr(Session, "commit", commit)


@pytest.mark.parametrize("fail", [_fail_second_seal, _fail_flush, _fail_commit],
                         ids=["seal", "flush", "commit"])
def test_failure_while_saving_saves_nothing_and_says_so(
    client: FlaskClient, database: Database, guardian: Staff, second_guardian: Staff,
    monkeypatch: pytest.MonkeyPatch, fail: Callable[[pytest.MonkeyPatch], None],
) -> None:
    page = client.get("/concern/new").data.decode()
    data = {"csrf_token": csrf_token(page), "form_token": form_token(page),
            "text": "Something important.", "kind": "patient-safety",
            "identity_mode": "anonymous"}
    with monkeypatch.context() as m:
        fail(m)
        response = client.post("/concern/new", data=data)
    body = response.data.decode()
    assert response.status_code == 500
    assert "Nothing you sent was saved" in body
    assert "has been sent" not in body
    assert receipt_on(body) is None
    assert count(database, Concern) == 0
    assert count(database, SubmissionToken) == 0

    # Going back and sending the same form again works, once.
    again = client.post("/concern/new", data=data)
    assert again.status_code == 200
    assert receipt_on(again.data.decode())
    assert count(database, Concern) == 1
    assert count(database, SubmissionToken) == 1
