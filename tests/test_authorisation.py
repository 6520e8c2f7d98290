"""Who may use which page: every route of both apps, as every kind of visitor.

The expected table below must name every route (apart from ``static``) of the anonymous app
and of the staff app, with every method: a new route without an entry fails
``test_every_route_is_in_the_table`` and the matrix itself. POSTs carry a valid CSRF token, so
what is tested is authorisation, not CSRF.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accounts.models import StaffSession
from accounts.services import disable_staff
from analysis.workforce import formats, synthetic
from config.settings import Settings
from core.db import Database
from equality import services as workforce_services
from equality import workforce_views
from speakup import services
from speakup.models import Attachment, Concern, ConcernGrant
from speakup.record import CaseRecord
from surveys import definition as survey_definitions
from surveys import services as surveys
from tests.conftest import (
    Staff,
    csrf_token,
    form_token,
    login,
    make_staff,
    reporter_sign_in,
    submit_concern,
)

ACTORS = ("anonymous", "reporter", "guardian", "excluded", "disabled", "edi", "board")
SKIPPED_METHODS = {"HEAD", "OPTIONS"}


@dataclass(frozen=True)
class To:
    """A 302 redirect to exactly this target (``{ref}``, ``{path}``, ``{survey}`` filled in)."""

    target: str


Expected = int | To

START, RETURN, CASE, SURVEY = To("/"), To("/return"), To("/concern"), To("/survey/")
LOGIN = To("/staff/login")
LOGIN_NEXT = To("/staff/login?next={path}")  # any guarded staff page, not logged in
INBOX, GUARDIAN_CASE = To("/staff/cases/"), To("/staff/cases/{ref}")
SURVEYS, SURVEY_PAGE = To("/staff/surveys/"), To("/staff/surveys/{survey}")
WORKFORCE = To("/staff/workforce/")
PERIOD = "2026-03-31"  # the world's published workforce period
PDF = 200 if workforce_views.chromium_path() else 503  # no Chromium: a clear 503 page


def everyone(result: Expected) -> dict[str, Expected]:
    return dict.fromkeys(ACTORS, result)


def reporter_only(result: Expected) -> dict[str, Expected]:
    """Anonymous-side pages that need a receipt: everyone else is sent to /return."""
    return {**everyone(RETURN), "reporter": result}


def guardians_only(granted: Expected, excluded: Expected | None = None) -> dict[str, Expected]:
    """Staff pages for guardians. Reporters are anonymous here; a disabled guardian is logged
    out by their next request; an EDI lead is logged in but not a guardian."""
    return {"anonymous": LOGIN_NEXT, "reporter": LOGIN_NEXT, "disabled": LOGIN_NEXT,
            "edi": 403, "board": 403, "guardian": granted,
            "excluded": granted if excluded is None else excluded}


def staff_only(allowed: Expected) -> dict[str, Expected]:
    """Pages for any signed-in staff member, whatever their role."""
    return {"anonymous": LOGIN_NEXT, "reporter": LOGIN_NEXT, "disabled": LOGIN_NEXT,
            "guardian": allowed, "excluded": allowed, "edi": allowed, "board": allowed}


def edi_only(allowed: Expected) -> dict[str, Expected]:
    """Staff pages for EDI leads (surveys): guardians are logged in but not allowed."""
    return {"anonymous": LOGIN_NEXT, "reporter": LOGIN_NEXT, "disabled": LOGIN_NEXT,
            "guardian": 403, "excluded": 403, "edi": allowed, "board": 403}


def workforce(edi: Expected, board: Expected = 403) -> dict[str, Expected]:
    """Workforce equality pages: EDI leads, and board members where they may read (published
    aggregates only); guardians are logged in but not allowed."""
    return {"anonymous": LOGIN_NEXT, "reporter": LOGIN_NEXT, "disabled": LOGIN_NEXT,
            "guardian": 403, "excluded": 403, "edi": edi, "board": board}


CASE_ACTION = {"POST": guardians_only(GUARDIAN_CASE, 404)}

# (app, rule) -> method -> actor -> expected status or redirect.
EXPECTED: dict[tuple[str, str], dict[str, dict[str, Expected]]] = {
    # --- anonymous side (/) ---------------------------------------------------------------
    ("source", "/"): {"GET": everyone(200)},
    ("source", "/privacy"): {"GET": everyone(200)},
    ("source", "/concern/new"): {"GET": everyone(200), "POST": everyone(200)},
    # POST: a receipt that opens nothing; nothing but the receipt opens a concern.
    ("source", "/return"): {"GET": everyone(200), "POST": everyone(400)},
    ("source", "/concern"): {"GET": reporter_only(200)},
    # Without a receipt session, a message typed is kept and the receipt asked for (401).
    ("source", "/concern/message"): {"POST": {**everyone(401), "reporter": CASE}},
    ("source", "/concern/feedback"): {"POST": reporter_only(CASE)},
    ("source", "/concern/files/<attachment_id>"): {"GET": reporter_only(200)},
    ("source", "/concern/leave"): {"POST": everyone(START)},
    # Pulse surveys: a code or an open link is the only key; nobody's session opens one.
    ("source", "/survey/"): {"GET": everyone(200), "POST": everyone(400)},  # POST: wrong code
    ("source", "/survey/link/<token>"): {"GET": everyone(404)},  # no such link
    ("source", "/survey/answer"): {"GET": everyone(SURVEY), "POST": everyone(SURVEY)},
    # --- staff side (/staff) ----------------------------------------------------------------
    ("staff", "/"): {"GET": {"anonymous": LOGIN, "reporter": LOGIN, "disabled": LOGIN,
                             "guardian": INBOX, "excluded": INBOX, "edi": SURVEYS,
                             "board": WORKFORCE}},
    # POST: wrong credentials.
    ("staff", "/login"): {"GET": everyone(200), "POST": everyone(400)},
    ("staff", "/logout"): {"POST": everyone(LOGIN)},
    ("staff", "/cases/"): {"GET": guardians_only(200)},
    ("staff", "/cases/<ref>"): {"GET": guardians_only(200, 404)},
    ("staff", "/cases/<ref>/reply"): CASE_ACTION,
    ("staff", "/cases/<ref>/note"): CASE_ACTION,
    ("staff", "/cases/<ref>/update"): CASE_ACTION,
    ("staff", "/cases/<ref>/themes"): CASE_ACTION,
    ("staff", "/cases/<ref>/themes/none"): CASE_ACTION,
    ("staff", "/themes"): {"GET": guardians_only(200)},
    # POST: nobody has reviewed enough cases yet, so retraining is refused.
    ("staff", "/retrain"): {"GET": guardians_only(200), "POST": guardians_only(400)},
    ("staff", "/cases/<ref>/files/<attachment_id>"): {"GET": guardians_only(200, 404)},
    # An excluded guardian cannot make the return: it would count the case they cannot open.
    ("staff", "/export"): {"GET": guardians_only(200), "POST": guardians_only(200, 400)},
    ("staff", "/audit"): {"GET": guardians_only(200)},
    # Every signed-in staff member's own account; POST without a password is refused (400).
    ("staff", "/account"): {"GET": staff_only(200), "POST": staff_only(400)},
    ("staff", "/surveys/"): {"GET": edi_only(200)},
    # POST: the world's survey template again, which updates that survey.
    ("staff", "/surveys/new"): {"POST": edi_only(SURVEY_PAGE)},
    ("staff", "/surveys/<int:survey_id>"): {"GET": edi_only(200)},
    ("staff", "/surveys/<int:survey_id>/waves"): {"POST": edi_only(SURVEY_PAGE)},
    # GET: the confirmation page (the world's wave is open); POST closes it.
    ("staff", "/surveys/<int:survey_id>/waves/<int:wave_id>/close"): {
        "GET": edi_only(200), "POST": edi_only(SURVEY_PAGE)},
    # POST without a file: the form again with its error.
    ("staff", "/surveys/<int:survey_id>/import"): {"GET": edi_only(200), "POST": edi_only(400)},
    ("staff", "/surveys/definition"): {"POST": edi_only(400)},
    ("staff", "/surveys/templates/<name>.toml"): {"GET": edi_only(200)},
    ("staff", "/surveys/<int:survey_id>/waves/<int:wave_id>/codes"): {"POST": edi_only(200)},
    # No wave released yet (the world's wave is still open): the page says so.
    ("staff", "/surveys/<int:survey_id>/results"): {"GET": edi_only(200)},
    ("staff", "/surveys/<int:survey_id>/results.csv"): {"GET": edi_only(200)},
    # Themed summaries: no quarter of concerns has ended yet, so the page (also for the CSV)
    # says there are no figures.
    ("staff", "/themes/"): {"GET": edi_only(200)},
    ("staff", "/themes/summary.csv"): {"GET": edi_only(200)},
    # Workforce equality: the world has one published period (2026-03-31). Board members read
    # its dashboard and board pack; everything else is the EDI lead's. POST upload without a
    # file and POST publish of the already published period are refused (400).
    ("staff", "/workforce/"): {"GET": workforce(200, 200)},
    ("staff", "/workforce/upload"): {"POST": workforce(400)},
    ("staff", "/workforce/template/<kind>.csv"): {"GET": workforce(200)},
    ("staff", "/workforce/publish"): {"POST": workforce(400)},
    ("staff", "/workforce/<snapshot>/"): {"GET": workforce(200, 200)},
    ("staff", "/workforce/<snapshot>/staff-survey"): {
        "GET": workforce(200), "POST": workforce(To(f"/staff/workforce/{PERIOD}/#staff-survey"))},
    ("staff", "/workforce/<snapshot>/voice"): {"GET": workforce(200)},
    ("staff", "/workforce/<snapshot>/board-pack"): {"GET": workforce(200, 200)},
    ("staff", "/workforce/<snapshot>/board-pack.pdf"): {"GET": workforce(PDF, PDF)},
}

# These end the session they are sent with, so they run after everything else.
RUN_LAST = (("staff", "/surveys/<int:survey_id>/waves/<int:wave_id>/close"),
            ("source", "/concern/leave"), ("staff", "/logout"))


def routes(app: Flask) -> dict[tuple[str, str], set[str]]:
    """Every (app, rule) of both apps with its methods, except static files."""
    found: dict[tuple[str, str], set[str]] = {}
    for name, flask_app in (("staff", app), ("source", app.extensions["speakup.source_app"])):
        for rule in flask_app.url_map.iter_rules():
            if rule.endpoint == "static":
                continue
            found[(name, rule.rule)] = set(rule.methods or ()) - SKIPPED_METHODS
    return found


def test_every_route_is_in_the_table(app: Flask) -> None:
    found = routes(app)
    assert set(found) == set(EXPECTED)
    for key, methods in found.items():
        assert methods == set(EXPECTED[key]), key
        for method in methods:
            assert set(EXPECTED[key][method]) == set(ACTORS), (key, method)


def test_each_side_ignores_the_other_sides_session() -> None:
    """In the table itself: on /staff a reporter is anonymous; on / staff are anonymous."""
    for (side, rule), methods in EXPECTED.items():
        for method, by_actor in methods.items():
            if side == "staff":
                assert by_actor["reporter"] == by_actor["anonymous"], (rule, method)
            else:
                for actor in ("guardian", "excluded", "disabled", "edi", "board"):
                    assert by_actor[actor] == by_actor["anonymous"], (rule, method, actor)


# --- the world every actor is tested against --------------------------------------------------


def png(colour: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), colour).save(out, format="PNG")
    return out.getvalue()


@dataclass
class World:
    app: Flask
    guardian: Staff
    excluded: Staff
    disabled: Staff
    edi: Staff
    board: Staff
    receipt: str  # of the case: the reporter excluded ``excluded``
    ref: str
    attachment_id: str
    other_receipt: str  # a second concern, from someone else
    other_ref: str
    other_attachment_id: str
    survey_template: str
    survey_id: int
    wave_id: int  # open, with codes and an open link


def _concern(db: Session, settings: Settings, receipt: str) -> tuple[str, str, CaseRecord]:
    """Ref, first attachment id and record of the concern a receipt opens."""
    access = services.open_with_receipt(db, receipt=receipt, settings=settings)
    concern = db.get(Concern, access.concern_id)
    assert concern is not None
    attachment = db.scalar(select(Attachment.id).where(Attachment.concern_id == concern.id))
    assert attachment is not None
    return concern.ref, attachment, services.reporter_case(db, access=access).record


@pytest.fixture
def world(app: Flask, database: Database, settings: Settings, guardian: Staff,
          second_guardian: Staff) -> World:
    disabled = make_staff(database, settings, "Dee Disabled")
    edi = make_staff(database, settings, "Eve Equality", role="edi")
    board = make_staff(database, settings, "Bob Board", role="board")
    receipt, _ = submit_concern(app.test_client(), "Theatre lists are double booked.",
                                excluded_guardians=str(second_guardian.id),
                                files=[(io.BytesIO(png()), "rota.png")])
    other_receipt, _ = submit_concern(app.test_client(), "Someone else's concern.",
                                      files=[(io.BytesIO(png("blue")), "other.png")])
    with database.session() as db:
        ref, attachment_id, case = _concern(db, settings, receipt)
        other_ref, other_attachment_id, _case = _concern(db, settings, other_receipt)
        assert case.excluded == (second_guardian.id,)
        template = survey_definitions.template_names()[0]
        survey = surveys.save_survey(db, definition_text=survey_definitions.template_text(
            template), settings=settings, actor="test")
        wave = surveys.open_wave(db, wave_=surveys.wave(db, survey, "Spring"), open_link=True,
                                 actor="test")
        survey_id, wave_id = survey.id, wave.id
        trust = synthetic.generate(seed=3, staff=60, applications=60)
        workforce_services.import_file(
            db, kind="staff", csv_text=formats.staff_csv(trust.staff, trust.person_ids),
            snapshot=date(2026, 3, 31), settings=settings, actor="test")
        workforce_services.publish(db, snapshot=date(2026, 3, 31), actor="test")
    return World(app, guardian, second_guardian, disabled, edi, board, receipt, ref,
                 attachment_id,
                 other_receipt, other_ref, other_attachment_id, template, survey_id, wave_id)


def _actor_client(world: World, database: Database, actor: str) -> FlaskClient:
    client = world.app.test_client()
    if actor == "reporter":
        reporter_sign_in(client, world.receipt)
    elif actor in ("guardian", "excluded", "edi", "board"):
        login(client, getattr(world, actor))
    elif actor == "disabled":
        login(client, world.disabled)
        assert client.get("/staff/cases/").status_code == 200
        with database.session() as db:
            disable_staff(db, email=world.disabled.email, actor="test")
        # Their very next request is logged out.
        response = client.get("/staff/cases/")
        assert (response.status_code, response.location) == (
            302, "/staff/login?next=/staff/cases/")
        with database.session() as db:
            assert db.scalar(select(func.count()).select_from(StaffSession).where(
                StaffSession.user_id == world.disabled.id)) == 0
    return client


# --- how each route is called -----------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    path: str
    data: Callable[[World], dict[str, Any]] | None = None
    token_page: str = ""  # page to read the CSRF token from (and form_token, for a concern)


def _no_data(_w: World) -> dict[str, Any]:
    return {}


def _this_year() -> str:
    """This financial year as the NGO return's period picker names it (every case is in it)."""
    from datetime import date

    from speakup.services import reporting_periods

    return next(p.value for p in reporting_periods(date.today()) if "Q" not in p.value)


CALLS: dict[tuple[str, str, str], Call] = {
    ("source", "/", "GET"): Call("/"),
    ("source", "/privacy", "GET"): Call("/privacy"),
    ("source", "/concern/new", "GET"): Call("/concern/new"),
    ("source", "/concern/new", "POST"): Call("/concern/new", lambda w: {
        "text": "Another concern.", "kind": "patient-safety", "identity_mode": "anonymous"},
        "/concern/new"),
    ("source", "/return", "GET"): Call("/return"),
    ("source", "/return", "POST"): Call("/return", lambda w: {"receipt": "abandon " * 8},
                                        "/return"),
    ("source", "/concern", "GET"): Call("/concern"),
    ("source", "/concern/message", "POST"): Call("/concern/message", lambda w: {
        "text": "The band 7 post in March."}, "/return"),
    ("source", "/concern/feedback", "POST"): Call("/concern/feedback",
                                                  lambda w: {"answer": "yes"}, "/return"),
    ("source", "/concern/files/<attachment_id>", "GET"): Call("/concern/files/{att}"),
    ("source", "/concern/leave", "POST"): Call("/concern/leave", _no_data, "/return"),
    ("source", "/survey/", "GET"): Call("/survey/"),
    ("source", "/survey/", "POST"): Call("/survey/", lambda w: {"code": "ABCD-EFGH-IJKL-MNOP"},
                                         "/return"),
    ("source", "/survey/link/<token>", "GET"): Call("/survey/link/no-such-link"),
    ("source", "/survey/answer", "GET"): Call("/survey/answer"),
    ("source", "/survey/answer", "POST"): Call("/survey/answer", _no_data, "/return"),
    ("staff", "/", "GET"): Call("/staff/"),
    ("staff", "/login", "GET"): Call("/staff/login"),
    ("staff", "/login", "POST"): Call("/staff/login", lambda w: {
        "email": "nobody@example.nhs.uk", "password": "not the password", "code": "123456"},
        "/staff/login"),
    ("staff", "/logout", "POST"): Call("/staff/logout", _no_data, "/staff/login"),
    ("staff", "/cases/", "GET"): Call("/staff/cases/"),
    ("staff", "/cases/<ref>", "GET"): Call("/staff/cases/{ref}"),
    ("staff", "/cases/<ref>/reply", "POST"): Call("/staff/cases/{ref}/reply", lambda w: {
        "text": "Thank you for telling us."}, "/staff/login"),
    ("staff", "/cases/<ref>/note", "POST"): Call("/staff/cases/{ref}/note", lambda w: {
        "note-text": "Spoke to the ward manager."}, "/staff/login"),  # NoteForm(prefix="note")
    ("staff", "/cases/<ref>/update", "POST"): Call("/staff/cases/{ref}/update", lambda w: {
        "status": "in-progress", "assignee": str(w.guardian.id), "raised": "anonymous",
        "elements": ["patient_safety"]}, "/staff/login"),
    ("staff", "/cases/<ref>/themes", "POST"): Call("/staff/cases/{ref}/themes", lambda w: {
        "theme": "patient_safety", "decision": "confirmed"}, "/staff/login"),
    ("staff", "/cases/<ref>/themes/none", "POST"): Call("/staff/cases/{ref}/themes/none",
                                                       _no_data, "/staff/login"),
    ("staff", "/themes", "GET"): Call("/staff/themes"),
    ("staff", "/retrain", "GET"): Call("/staff/retrain"),
    ("staff", "/retrain", "POST"): Call("/staff/retrain", _no_data, "/staff/login"),
    ("staff", "/cases/<ref>/files/<attachment_id>", "GET"):
        Call("/staff/cases/{ref}/files/{att}"),
    ("staff", "/export", "GET"): Call("/staff/export"),
    ("staff", "/export", "POST"): Call("/staff/export", lambda w: {
        "period": _this_year()}, "/staff/login"),
    ("staff", "/audit", "GET"): Call("/staff/audit"),
    ("staff", "/account", "GET"): Call("/staff/account"),
    ("staff", "/account", "POST"): Call("/staff/account", _no_data, "/staff/login"),
    ("staff", "/surveys/", "GET"): Call("/staff/surveys/"),
    ("staff", "/surveys/new", "POST"): Call("/staff/surveys/new", lambda w: {
        "template": w.survey_template}, "/staff/login"),
    ("staff", "/surveys/<int:survey_id>", "GET"): Call("/staff/surveys/{survey}"),
    ("staff", "/surveys/<int:survey_id>/waves", "POST"): Call("/staff/surveys/{survey}/waves",
        lambda w: {"label": "Autumn", "open_link": "codes"}, "/staff/login"),
    ("staff", "/surveys/<int:survey_id>/waves/<int:wave_id>/close", "GET"):
        Call("/staff/surveys/{survey}/waves/{wave}/close"),
    ("staff", "/surveys/<int:survey_id>/import", "GET"): Call("/staff/surveys/{survey}/import"),
    ("staff", "/surveys/<int:survey_id>/import", "POST"): Call(
        "/staff/surveys/{survey}/import", _no_data, "/staff/login"),
    ("staff", "/surveys/definition", "POST"): Call("/staff/surveys/definition", _no_data,
                                                    "/staff/login"),
    ("staff", "/surveys/templates/<name>.toml", "GET"):
        Call("/staff/surveys/templates/equality-pulse.toml"),
    ("staff", "/surveys/<int:survey_id>/waves/<int:wave_id>/close", "POST"): Call(
        "/staff/surveys/{survey}/waves/{wave}/close", _no_data, "/staff/login"),
    ("staff", "/surveys/<int:survey_id>/waves/<int:wave_id>/codes", "POST"): Call(
        "/staff/surveys/{survey}/waves/{wave}/codes", lambda w: {"count": "3"}, "/staff/login"),
    ("staff", "/surveys/<int:survey_id>/results", "GET"): Call("/staff/surveys/{survey}/results"),
    ("staff", "/surveys/<int:survey_id>/results.csv", "GET"):
        Call("/staff/surveys/{survey}/results.csv"),
    ("staff", "/themes/", "GET"): Call("/staff/themes/"),
    ("staff", "/themes/summary.csv", "GET"): Call("/staff/themes/summary.csv"),
    ("staff", "/workforce/", "GET"): Call("/staff/workforce/"),
    ("staff", "/workforce/upload", "POST"): Call("/staff/workforce/upload", lambda w: {
        "kind": "staff", "period": PERIOD}, "/staff/login"),
    ("staff", "/workforce/template/<kind>.csv", "GET"): Call("/staff/workforce/template/staff.csv"),
    ("staff", "/workforce/publish", "POST"): Call("/staff/workforce/publish", lambda w: {
        "snapshot": PERIOD}, "/staff/login"),
    ("staff", "/workforce/<snapshot>/", "GET"): Call(f"/staff/workforce/{PERIOD}/"),
    ("staff", "/workforce/<snapshot>/staff-survey", "GET"):
        Call(f"/staff/workforce/{PERIOD}/staff-survey"),
    ("staff", "/workforce/<snapshot>/staff-survey", "POST"):
        Call(f"/staff/workforce/{PERIOD}/staff-survey", _no_data, "/staff/login"),
    ("staff", "/workforce/<snapshot>/voice", "GET"): Call(f"/staff/workforce/{PERIOD}/voice"),
    ("staff", "/workforce/<snapshot>/board-pack", "GET"):
        Call(f"/staff/workforce/{PERIOD}/board-pack"),
    ("staff", "/workforce/<snapshot>/board-pack.pdf", "GET"):
        Call(f"/staff/workforce/{PERIOD}/board-pack.pdf"),
}


def _send(client: FlaskClient, world: World, method: str, call: Call) -> tuple[str, Any]:
    path = call.path.format(ref=world.ref, att=world.attachment_id, survey=world.survey_id,
                            wave=world.wave_id)
    if method == "GET":
        return path, client.get(path)
    page = client.get(call.token_page).data.decode()
    data = {"csrf_token": csrf_token(page), **(call.data or _no_data)(world)}
    if call.token_page == "/concern/new":
        data["form_token"] = form_token(page)
    return path, client.post(path, data=data, content_type="multipart/form-data")


def _check(response: Any, expected: Expected, path: str, world: World) -> str | None:
    """None if the response is as expected, else what went wrong."""
    if isinstance(expected, To):
        target = expected.target.format(ref=world.ref, path=path, survey=world.survey_id)
        if (response.status_code, response.location) != (302, target):
            return f"expected 302 -> {target}, got {response.status_code} -> {response.location}"
    elif response.status_code != expected:
        return f"expected {expected}, got {response.status_code}"
    return None


@pytest.mark.parametrize("actor", ACTORS)
def test_authorisation_matrix(world: World, database: Database, actor: str) -> None:
    client = _actor_client(world, database, actor)
    found = routes(world.app)
    order = sorted(found, key=lambda key: RUN_LAST.index(key) + 1 if key in RUN_LAST else 0)
    failures = []
    for key in order:
        for method in sorted(found[key]):
            expected = EXPECTED[key][method][actor]
            path, response = _send(client, world, method, CALLS[(*key, method)])
            problem = _check(response, expected, path, world)
            if problem:
                failures.append(f"{actor} {method} {path}: {problem}")
            if method == "GET" and response.status_code == 200 \
                    and actor not in ("guardian", "reporter"):
                # Nobody but the reporter and a guardian with a grant sees the case text.
                assert b"Theatre lists are double booked" not in response.data, path
    assert not failures, "\n".join(failures)


# --- the reporter's receipt -------------------------------------------------------------------


def test_receipt_opens_only_its_own_concern(world: World) -> None:
    mine = reporter_sign_in(world.app.test_client(), world.receipt)
    theirs = reporter_sign_in(world.app.test_client(), world.other_receipt)

    page = mine.get("/concern").data.decode()
    assert "Theatre lists are double booked." in page
    assert "Someone else" not in page
    assert mine.get(f"/concern/files/{world.attachment_id}").status_code == 200
    assert mine.get(f"/concern/files/{world.other_attachment_id}").status_code == 404
    assert mine.get("/concern/files/" + "0" * 32).status_code == 404

    page = theirs.get("/concern").data.decode()
    assert "Someone else&#39;s concern." in page
    assert "Theatre lists" not in page
    other = theirs.get(f"/concern/files/{world.other_attachment_id}")
    assert other.status_code == 200
    assert other.data.startswith(b"\x89PNG")
    assert theirs.get(f"/concern/files/{world.attachment_id}").status_code == 404

    # A guardian can only fetch a case's own files through that case's address.
    staff = world.app.test_client()
    login(staff, world.guardian)
    assert staff.get(f"/staff/cases/{world.ref}/files/{world.attachment_id}").status_code == 200
    assert staff.get(
        f"/staff/cases/{world.ref}/files/{world.other_attachment_id}").status_code == 404
    assert staff.get(f"/staff/cases/NOSUCHRF/files/{world.attachment_id}").status_code == 404


def test_excluded_guardian_never_sees_the_case(world: World, database: Database) -> None:
    excluded = world.app.test_client()
    login(excluded, world.excluded)
    for query in ("", "?status=all", "?status=new", "?overdue=1"):
        inbox = excluded.get(f"/staff/cases/{query}").data.decode()
        assert world.ref not in inbox
        assert world.other_ref in inbox or query == "?overdue=1"

    staff = world.app.test_client()
    login(staff, world.guardian)
    case = staff.get(f"/staff/cases/{world.ref}").data.decode()
    assert world.excluded.name not in case  # not offered in "Assign to"
    # Even a guardian holding the case cannot give it to the excluded guardian.
    response = staff.post(f"/staff/cases/{world.ref}/update", data={
        "csrf_token": csrf_token(case), "assignee": str(world.excluded.id), "status": "new",
        "raised": "anonymous"})
    assert response.status_code == 400
    assert "That guardian cannot be given this case." in response.data.decode()
    with database.session() as db:
        holders = db.scalars(select(ConcernGrant.staff_id).join(Concern)
                             .where(Concern.ref == world.ref)).all()
    assert world.excluded.id not in holders
    assert world.guardian.id in holders
    # And the excluded guardian cannot open it afterwards either.
    assert excluded.get(f"/staff/cases/{world.ref}").status_code == 404


def test_cookies_of_one_side_grant_nothing_on_the_other(world: World) -> None:
    reporter = reporter_sign_in(world.app.test_client(), world.receipt)
    staff = world.app.test_client()
    login(staff, world.guardian)

    su_r = reporter.get_cookie("su_r", path="/")
    su_s = staff.get_cookie("su_s", path="/staff")
    assert su_r is not None and su_s is not None
    assert (su_r.path, su_s.path) == ("/", "/staff")

    # The reporter's cookie reaches /staff (path /) but the staff app ignores it.
    response = reporter.get("/staff/cases/")
    assert "su_r=" in response.request.headers.get("Cookie", "")
    assert response.location == "/staff/login?next=/staff/cases/"
    # The guardian's cookie is not sent to the anonymous side, and is not accepted there.
    response = staff.get("/concern")
    assert "su_s=" not in response.request.headers.get("Cookie", "")
    assert response.location == "/return"
    forged = world.app.test_client()
    forged.set_cookie("su_r", su_s.value, path="/")
    assert forged.get("/concern").location == "/return"
    forged = world.app.test_client()
    forged.set_cookie("su_s", su_r.value, path="/staff")
    assert forged.get("/staff/cases/").location == "/staff/login?next=/staff/cases/"
