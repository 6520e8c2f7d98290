"""The workforce pages on each database backend: upload (all or nothing, errors by line),
publication and corrections, the dashboard, the Staff Survey figures, the voice-and-data page,
the board pack and its PDF, and who may do what (a board member reads published aggregates
only)."""

from __future__ import annotations

import io
import re
import shutil
from datetime import date
from html import unescape
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from analysis.workforce import formats, synthetic
from config.settings import Settings
from core.db import Database
from equality import payload, services
from equality.models import WorkforcePeriod, WorkforceStaff
from tests.conftest import Staff, csrf_token, login, make_staff
from tests.equality.test_theme_summaries import concerns as concerns  # the fixture, by name

PERIOD = "2026-03-31"
PREVIOUS = "2025-03-31"


@pytest.fixture(scope="module")
def trust() -> synthetic.SyntheticTrust:
    return synthetic.generate(seed=11, staff=600, applications=2_000)


@pytest.fixture
def edi(database: Database, settings: Settings) -> Staff:
    return make_staff(database, settings, "Eddie Edi", role="edi")


@pytest.fixture
def board_member(database: Database, settings: Settings) -> Staff:
    return make_staff(database, settings, "Bea Board", role="board")


def signed_in(app: Flask, staff: Staff) -> FlaskClient:
    client = app.test_client()
    login(client, staff)
    return client


def upload(client: FlaskClient, kind: str, text: str, period: str = PERIOD, note: str = "",
           status: int = 302) -> str:
    page = client.get("/staff/workforce/").data.decode()
    response = client.post("/staff/workforce/upload", data={
        "csrf_token": csrf_token(page), "kind": kind, "period": period, "note": note,
        "file": (io.BytesIO(text.encode()), f"{kind}.csv")}, content_type="multipart/form-data")
    html = response.data.decode()
    assert response.status_code == status, problems(html)
    return html


def problems(html: str) -> str:
    """The error summary and the rows listed by line, as text."""
    page = text_of(html)
    return page[page.find("There is a problem"):][:2000]


def publish(client: FlaskClient, period: str = PERIOD, status: int = 302) -> str:
    page = client.get("/staff/workforce/").data.decode()
    response = client.post("/staff/workforce/publish",
                           data={"csrf_token": csrf_token(page), "snapshot": period})
    assert response.status_code == status, response.data.decode()[:3000]
    return response.data.decode()


_previous: list[synthetic.SyntheticTrust] = []


def previous_year() -> synthetic.SyntheticTrust:
    if not _previous:
        _previous.append(synthetic.generate(seed=12, snapshot=date(2025, 3, 31), staff=600,
                                            applications=2_000))
    return _previous[0]


def load_trust(client: FlaskClient, trust: synthetic.SyntheticTrust) -> None:
    """The previous year published, this year's staff, recruitment, board and targets."""
    upload(client, "staff", formats.staff_csv(trust.previous_staff, trust.previous_person_ids),
           PREVIOUS)
    before = previous_year()
    upload(client, "recruitment", formats.recruitment_csv(before.applications,
                                                          before.application_ids), PREVIOUS)
    upload(client, "board", formats.board_csv(before.board), PREVIOUS)
    publish(client, PREVIOUS)
    upload(client, "staff", formats.staff_csv(trust.staff, trust.person_ids))
    upload(client, "recruitment", formats.recruitment_csv(trust.applications,
                                                          trust.application_ids))
    upload(client, "board", formats.board_csv(trust.board))
    upload(client, "targets", formats.targets_csv(trust.targets), period="")


def text_of(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def test_upload_errors_by_line_and_nothing_imported(app: Flask, edi: Staff,
                                                    database: Database,
                                                    trust: synthetic.SyntheticTrust) -> None:
    client = signed_in(app, edi)
    good = formats.staff_csv(trust.staff[:30], trust.person_ids[:30]).splitlines()
    header = good[0].split(",")
    bad = good[:]
    row = bad[3].split(",")
    row[header.index("band")] = "band 12"
    bad[3] = ",".join(row)
    row = bad[7].split(",")
    row[header.index("clinical")] = "maybe"
    bad[7] = ",".join(row)
    html = upload(client, "staff", "\n".join(bad) + "\n", status=400)
    page = text_of(html)
    assert "2 problem(s) in staff.csv: nothing was imported" in page
    assert "Line 4 Column band Problem 'band 12' is not a band" in page
    assert "Line 8 Column clinical Problem write yes or no, not 'maybe'" in page
    # What the person chose stays on the form.
    assert 'value="2026-03-31"' in html and 'value="staff" selected' in html
    with database.session() as db:
        assert db.scalar(select(func.count()).select_from(WorkforceStaff)) == 0
    # A file that is not UTF-8 and a period that is not a 31 March are refused clearly.
    page = client.get("/staff/workforce/").data.decode()
    response = client.post("/staff/workforce/upload", data={
        "csrf_token": csrf_token(page), "kind": "staff", "period": "2026-04-01",
        "file": (io.BytesIO(b"\xff\xfe"), "x.csv")}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "A reporting period is a 31 March snapshot" in response.data.decode()


def test_reimport_replaces_then_correction_makes_a_visible_version(
        app: Flask, edi: Staff, database: Database, trust: synthetic.SyntheticTrust) -> None:
    client = signed_in(app, edi)
    upload(client, "staff", formats.staff_csv(trust.staff[:100], trust.person_ids[:100]))
    upload(client, "staff", formats.staff_csv(trust.staff, trust.person_ids))
    with database.session() as db:
        periods = db.scalars(select(WorkforcePeriod)).all()
        assert [(p.version, p.status) for p in periods] == [(1, "draft")]
        assert db.scalar(select(func.count()).select_from(WorkforceStaff)) == len(trust.staff)
    publish(client)
    # After publication an upload without a note is refused, and nothing changes.
    html = upload(client, "staff", formats.staff_csv(trust.staff[:200], trust.person_ids[:200]),
                  status=400)
    assert "To correct them, import again with a note" in text_of(html)
    upload(client, "staff", formats.staff_csv(trust.staff[:300], trust.person_ids[:300]),
           note="Bank staff were left out of the first extract")
    with database.session() as db:
        versions = [(p.version, p.status) for p in db.scalars(
            select(WorkforcePeriod).order_by(WorkforcePeriod.version))]
    assert versions == [(1, "published"), (2, "draft")]
    publish(client)
    page = text_of(client.get(f"/staff/workforce/{PERIOD}/").data.decode())
    assert "Correction note (version 2): Bank staff were left out of the first extract" in page
    index = text_of(client.get("/staff/workforce/").data.decode())
    assert "Superseded" in index and "Published" in index


def test_dashboard_shows_every_figure_with_its_table(app: Flask, edi: Staff,
                                                     trust: synthetic.SyntheticTrust,
                                                     settings: Settings,
                                                     database: Database) -> None:
    client = signed_in(app, edi)
    load_trust(client, trust)
    response = client.get(f"/staff/workforce/{PERIOD}/")
    html = response.data.decode()
    assert response.status_code == 200, html[:2000]
    for section in ("headline", "wres1", "model-employer", "wres2-bands", "wdes1",
                    "wdes2-bands", "board", "funnel", "funnel-bands", "routes", "unadvertised",
                    "pay", "staff-survey", "trends", "declaration", "what-changed"):
        assert f'id="{section}"' in html, section
    # Each chart is an accessible SVG with the reference band drawn for the ratios.
    assert html.count('role="img"') >= 10
    assert "speakup-chart__reference" in html
    assert re.search(r"0\.80 to 1\.25: NHS England's non-\s?adverse range \(a reference, "
                     r"not\s+a\s+verdict\)", text_of(html))
    assert 'style="' not in html  # the CSP allows no inline style
    page = text_of(html)
    # The figures are those of the CLI's JSON (same payload).
    with database.session() as db:
        found, report = services.period_report(db, snapshot=date(2026, 3, 31))
        data = payload.workforce_payload(found, report, k=settings.min_cell_size,
                                         organisation=settings.organisation.name)
    wres2 = next(e for e in data["indicators"] if e["id"] == "wres2" and e["by"] is None)
    assert f"{wres2['value']:.2f}" in page
    assert f"{wres2['numerator']['count']:,} of {wres2['numerator']['total']:,}" in page
    # The unadvertised list names posts, never people.
    first = data["unadvertised"][0]
    assert first["vacancy_id"] in page
    # The board is shown exactly; hidden breakdowns say why, never what.
    assert "Board composition" in page
    hidden = [r for r in data["representation"] if r["suppressed"]]
    if hidden:
        assert "Hidden" in page
    assert "What changed since last year" in page and ("rose" in page or "fell" in page
                                                       or "unchanged" in page)


def test_staff_survey_figures_and_bad_input(app: Flask, edi: Staff,
                                            trust: synthetic.SyntheticTrust) -> None:
    client = signed_in(app, edi)
    upload(client, "staff", formats.staff_csv(trust.staff, trust.person_ids))
    url = f"/staff/workforce/{PERIOD}/staff-survey"
    page = client.get(url).data.decode()
    response = client.post(url, data={"csrf_token": csrf_token(page), "wres5_white": "27.5",
                                      "wres5_global_majority": "abc"})
    html = response.data.decode()
    assert response.status_code == 400
    assert 'value="27.5"' in html  # what was typed stays
    response = client.post(url, data={"csrf_token": csrf_token(page), "wres5_white": "27.5",
                                      "wres5_global_majority": "31.2", "wres7_white": "60"})
    assert response.status_code == 302
    page = text_of(client.get(f"/staff/workforce/{PERIOD}/").data.decode())
    assert re.search(r"WRES 5: experienced harassment.*?27\.5%.*?31\.2%", page)


def test_board_member_sees_published_aggregates_only(
        app: Flask, edi: Staff, board_member: Staff, trust: synthetic.SyntheticTrust) -> None:
    lead = signed_in(app, edi)
    upload(lead, "staff", formats.staff_csv(trust.staff, trust.person_ids))
    board = signed_in(app, board_member)
    # The home page of a board member is the workforce page; drafts are not listed.
    assert board.get("/staff/").headers["Location"].endswith("/staff/workforce/")
    index = text_of(board.get("/staff/workforce/").data.decode())
    assert "No figures have been published yet" in index and "Upload a file" not in index
    assert board.get(f"/staff/workforce/{PERIOD}/").status_code == 404  # a draft
    publish(lead)
    assert board.get(f"/staff/workforce/{PERIOD}/").status_code == 200
    assert board.get(f"/staff/workforce/{PERIOD}/board-pack").status_code == 200
    # No uploads, publication, survey figures, templates, voice page, cases or surveys.
    token = csrf_token(board.get("/staff/workforce/").data.decode())
    for method, url in (("post", "/staff/workforce/upload"), ("post", "/staff/workforce/publish"),
                        ("get", f"/staff/workforce/{PERIOD}/staff-survey"),
                        ("get", "/staff/workforce/template/staff.csv"),
                        ("get", f"/staff/workforce/{PERIOD}/voice"), ("get", "/staff/cases/"),
                        ("get", "/staff/surveys/"), ("get", "/staff/themes/")):
        response = getattr(board, method)(url, data={"csrf_token": token} if method == "post"
                                          else None)
        assert response.status_code in (403, 404), (url, response.status_code)


def test_guardian_and_anonymous_cannot_read_workforce(app: Flask, guardian: Staff) -> None:
    assert app.test_client().get("/staff/workforce/").status_code == 302  # to sign in
    assert signed_in(app, guardian).get("/staff/workforce/").status_code == 403


def test_template_downloads(app: Flask, edi: Staff) -> None:
    client = signed_in(app, edi)
    response = client.get("/staff/workforce/template/recruitment.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.data.decode().startswith("application_id,")
    assert client.get("/staff/workforce/template/payroll.csv").status_code == 404


def test_voice_and_data_page(app: Flask, concerns: None, edi: Staff,
                             trust: synthetic.SyntheticTrust) -> None:
    """Concerns of 2024/25 Q2 (33 about racial discrimination: see test_theme_summaries) beside
    the period's figures."""
    client = signed_in(app, edi)
    upload(client, "staff", formats.staff_csv(trust.staff, trust.person_ids))
    upload(client, "recruitment", formats.recruitment_csv(trust.applications,
                                                          trust.application_ids))
    response = client.get(f"/staff/workforce/{PERIOD}/voice")
    page = text_of(response.data.decode())
    assert response.status_code == 200
    assert "Voice and data" in page
    assert "Appointments not advertised:" in page
    assert re.search(r"Racial discrimination 2024/25 Q1 0 2024/25 Q2 33 .*?WRES 3: [\d.]+", page)
    assert "Unadvertised appointments by quarter" in page
    assert re.search(r"2025/26 Q\d Appointments [\d,]+", page)
    # The same counts join the themes by quarter in the concerns table.
    assert re.search(r"Unadvertised appointments \(recruitment extract\) 2024/25 Q\d not in "
                     r"this period .*?2025/26 Q1 [\d,]+", page)


def test_board_pack_and_pdf(app: Flask, edi: Staff, trust: synthetic.SyntheticTrust,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    client = signed_in(app, edi)
    load_trust(client, trust)
    publish(client)
    html = client.get(f"/staff/workforce/{PERIOD}/board-pack").data.decode()
    page = text_of(html)
    assert "Workforce equality: board pack" in page
    assert app.config.get("TESTING") is not None
    assert "What changed since last year" in page
    assert html.count('role="img"') >= 10
    # Without Chromium: a clear message, not a 500.
    monkeypatch.setenv("CHROMIUM_PATH", "/nonexistent/chromium")
    response = client.get(f"/staff/workforce/{PERIOD}/board-pack.pdf")
    assert response.status_code == 503
    assert "needs headless Chromium" in response.data.decode()
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists() and not shutil.which("chromium"):
        pytest.skip("no Chromium to make the PDF")
    monkeypatch.setenv("CHROMIUM_PATH", str(chromium if chromium.exists()
                                            else shutil.which("chromium")))
    response = client.get(f"/staff/workforce/{PERIOD}/board-pack.pdf")
    assert response.status_code == 200, response.data[:2000]
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    import pikepdf

    with pikepdf.open(io.BytesIO(response.data)) as pdf:
        assert len(pdf.pages) >= 3


def test_pulse_survey_figures_are_the_in_year_view(app: Flask, database: Database, edi: Staff,
                                                   tmp_path: Path, settings: Settings,
                                                   trust: synthetic.SyntheticTrust) -> None:
    from surveys import results as survey_results
    from surveys.models import Survey
    from tests.surveys.conftest import import_equality_pulse, population_csv

    survey_id = import_equality_pulse(app, database, tmp_path, population_csv())
    client = signed_in(app, edi)
    upload(client, "staff", formats.staff_csv(trust.staff, trust.person_ids))
    page = text_of(client.get(f"/staff/workforce/{PERIOD}/").data.decode())
    # Labelled as the in-year view, from the latest closed wave, through disclosure control.
    assert "In-year view: Equality pulse" in page
    with database.session() as db:
        survey = db.get(Survey, survey_id)
        assert survey is not None
        wave = survey_results.released_waves(survey)[-1].label
        [first, *_] = survey_results.wres_indicators(db, survey=survey, settings=settings,
                                                     wave_label=wave)
    assert f"wave {wave} (pulse survey, through disclosure control)" in page
    if first.white.percent is not None:
        assert f"{first.white.percent:.1f}%" in page

