"""The EDI lead's survey page: wave tags, fixed counts of closed waves, the open link with its
QR code, closing with a confirmation, invitation codes and importing answers as a page."""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from config.settings import Settings
from core.db import Database
from equality import qr
from surveys import definition as definitions
from surveys import services
from surveys.models import SurveyWave
from tests.conftest import csrf_token
from tests.surveys.conftest import import_equality_pulse, stored_responses


def _rows(wave: str, count: int) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["wave", "roles_fair", "band"])
    for i in range(count):
        writer.writerow([wave, ("agree", "disagree", "neither")[i % 3], "5"])
    return out.getvalue()


@pytest.fixture
def survey_id(app: Flask, database: Database, tmp_path: Path) -> int:
    """The equality pulse with 30 imported answers in wave "Spring"."""
    return import_equality_pulse(app, database, tmp_path, _rows("Spring", 30))


def _page(client: FlaskClient, survey_id: int) -> str:
    response = client.get(f"/staff/surveys/{survey_id}")
    assert response.status_code == 200
    return response.data.decode()


def _card(page: str, label: str) -> str:
    """The text of one wave's card."""
    start = page.index(f'<h3 class="nhsuk-card__heading">{label} ')
    return page[start:page.index("</div>\n</div>", start)]


def test_imported_wave_is_closed_with_results_not_a_draft(edi, survey_id, database) -> None:
    card = _card(_page(edi, survey_id), "Spring")
    assert "Closed: results published" in card and "Draft" not in card
    assert "Responses: 30" in card
    with database.session() as db:
        assert db.get(SurveyWave, 1).status == "closed"


def test_a_closed_wave_count_never_changes_with_another_wave(edi, survey_id, database,
                                                            settings) -> None:
    # Given a second wave, opened, answered by three people and closed
    with database.session() as db:
        survey = services.find_survey(db, survey_id)
        wave = services.open_wave(db, wave_=services.wave(db, survey, "Summer"),
                                  open_link=True, actor="t")
        for _ in range(3):
            services.submit_response(db, wave_=wave, code=None,
                                     answers={"roles_fair": "agree"}, settings=settings)
        wave_id = wave.id
    # While it is open its count is not shown, and the closed wave's is
    page = _page(edi, survey_id)
    assert "Responses: 30" in _card(page, "Spring")
    assert "counted when the wave closes" in _card(page, "Summer")
    with database.session() as db:
        services.close_wave(db, wave_=db.get(SurveyWave, wave_id), actor="t",
                            settings=settings)
    # Then the first wave still shows 30, and the small one is hidden
    page = _page(edi, survey_id)
    assert "Responses: 30" in _card(page, "Spring")
    assert "fewer than 11" in _card(page, "Summer")


def test_open_link_is_a_full_address_with_a_qr_code_and_copy_button(edi, survey_id,
                                                                    database) -> None:
    with database.session() as db:
        wave = services.open_wave(db, wave_=services.wave(
            db, services.find_survey(db, survey_id), "Pulse"), open_link=True, actor="t")
        token = wave.open_link
    card = _card(_page(edi, survey_id), "Pulse")
    address = f"http://localhost/survey/link/{token}"
    assert f'value="{address}" readonly' in card
    assert "<code>/survey/link/" not in card
    copy = re.search(r"<button[^>]*data-copy=\"#open-link-\d+\"[^>]*>", card)
    assert copy and " hidden" in copy.group(0)  # shown by speakup.js only
    svg = ET.fromstring(card[card.index("<svg"):card.index("</svg>") + 6])  # noqa: S314
    assert svg.get("role") == "img" and "open link" in (svg.get("aria-label") or "")
    assert svg.get("style") is None and not svg.findall(".//*[@style]")
    drawn = card[card.index("<svg"):card.index("</svg>") + 6]
    assert "href" not in drawn and "<image" not in drawn  # drawn here, nothing fetched
    # ... and it is the QR code of the full address
    expected = str(qr.qr_svg(address, label="x"))
    assert drawn[drawn.index("<g"):] == expected[expected.index("<g"):]


def test_closing_a_wave_asks_first_and_works_without_javascript(edi, survey_id,
                                                               database) -> None:
    with database.session() as db:
        wave = services.open_wave(db, wave_=services.wave(
            db, services.find_survey(db, survey_id), "Pulse"), open_link=False, actor="t")
        wave_id = wave.id
    card = _card(_page(edi, survey_id), "Pulse")
    confirm_url = f"/staff/surveys/{survey_id}/waves/{wave_id}/close"
    assert f'href="{confirm_url}"' in card and 'method="post" action="' + confirm_url not in card
    confirm = edi.get(confirm_url)
    html = confirm.data.decode()
    assert confirm.status_code == 200 and "Close wave Pulse?" in html
    assert "Yes, close this wave" in html and "No, keep it open" in html
    with database.session() as db:
        assert db.get(SurveyWave, wave_id).status == "open"  # asking closed nothing
    done = edi.post(confirm_url, data={"csrf_token": csrf_token(html)})
    assert done.status_code == 302
    with database.session() as db:
        assert db.get(SurveyWave, wave_id).status == "closed"
    assert edi.get(confirm_url).status_code == 302  # a closed wave is not asked about again


def test_five_thousand_codes_download_and_the_page_says_so(edi, survey_id, database) -> None:
    with database.session() as db:
        wave = services.open_wave(db, wave_=services.wave(
            db, services.find_survey(db, survey_id), "Pulse"), open_link=False, actor="t")
        wave_id = wave.id
    page = _page(edi, survey_id)
    assert 'data-busy="Making your codes.' in page and "data-busy-status" in page
    response = edi.post(f"/staff/surveys/{survey_id}/waves/{wave_id}/codes",
                        data={"csrf_token": csrf_token(page), "count": "5000"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    codes = response.data.decode().split()[1:]
    assert len(codes) == len(set(codes)) == 5000
    assert "Invitation codes issued: 5,000." in _card(_page(edi, survey_id), "Pulse")


def test_import_page_lists_each_bad_row_and_imports_nothing(edi, survey_id, database) -> None:
    form = edi.get(f"/staff/surveys/{survey_id}/import")
    html = form.data.decode()
    assert form.status_code == 200 and 'enctype="multipart/form-data"' in html
    bad = "roles_fair,band\nagree,5\nmaybe,5\nagree,12\n"
    response = edi.post(f"/staff/surveys/{survey_id}/import", data={
        "csrf_token": csrf_token(html), "wave": "Paper",
        "responses": (io.BytesIO(bad.encode()), "answers.csv")},
        content_type="multipart/form-data")
    page = response.data.decode()
    assert response.status_code == 400 and "<title>Error: " in page
    table = page[page.index('id="import-errors"'):page.index("</table>")]
    assert re.search(r"<td[^>]*>3</td><td[^>]*>roles_fair: ", table)
    assert re.search(r"<td[^>]*>4</td><td[^>]*>band: ", table)
    assert "nothing was imported" in page
    assert 'value="Paper"' in page  # what was typed stays on the form
    with database.session() as db:
        assert db.scalar(text("SELECT count(*) FROM survey_waves WHERE label = 'Paper'")) == 0
    good = "roles_fair,band\n" + "agree,5\n" * 12
    response = edi.post(f"/staff/surveys/{survey_id}/import", data={
        "csrf_token": csrf_token(html), "wave": "Paper",
        "responses": (io.BytesIO(("\ufeff" + good).encode()), "answers.csv")},
        content_type="multipart/form-data")
    assert response.status_code == 302
    with database.session() as db:
        wave = db.query(SurveyWave).filter_by(label="Paper").one()
        assert wave.status == "closed" and stored_responses(db, wave.id) == 12
    assert "Responses: 12" in _card(_page(edi, survey_id), "Paper")


def test_import_page_refuses_a_file_that_is_not_utf8(edi, survey_id) -> None:
    html = edi.get(f"/staff/surveys/{survey_id}/import").data.decode()
    response = edi.post(f"/staff/surveys/{survey_id}/import", data={
        "csrf_token": csrf_token(html), "wave": "Paper",
        "responses": (io.BytesIO("roles_fair\n\xe9t\xe9\n".encode("latin-1")), "a.csv")},
        content_type="multipart/form-data")
    assert response.status_code == 400 and "CSV UTF-8" in response.data.decode()


def test_migration_closes_imported_draft_waves(database: Database, settings: Settings) -> None:
    """0014: a draft wave holding answers (imported before this release) becomes closed; a
    draft without answers stays a draft."""
    from alembic import command

    from core.migrate import alembic_config, upgrade

    with database.session() as db:
        survey = services.save_survey(db, definition_text=definitions.template_text(
            "equality-pulse"), settings=settings, actor="t")
        services.import_responses(db, survey=survey, csv_text=_rows("Old", 12),
                                  wave_label="Old", settings=settings, actor="t")
        services.wave(db, survey, "Empty")
        db.execute(text("UPDATE survey_waves SET status = 'draft'"))
    command.downgrade(alembic_config(database.engine, settings), "0010")
    assert upgrade(database.engine, settings, "0014") == "0014"
    with database.session() as db:
        status = dict(db.execute(text("SELECT label, status FROM survey_waves")).all())
    assert status == {"Old": "closed", "Empty": "draft"}


def test_a_survey_of_ones_own_is_loaded_on_a_page(edi, database) -> None:
    index = edi.get("/staff/surveys/").data.decode()
    assert "speakup survey import" not in index
    template = edi.get("/staff/surveys/templates/equality-pulse.toml")
    assert template.status_code == 200 and b'id = "equality-pulse"' in template.data
    assert edi.get("/staff/surveys/templates/nope.toml").status_code == 404
    own = template.data.decode().replace('id = "equality-pulse"', 'id = "our-pulse"', 1)
    bad = own.replace('kind = "agreement"', 'kind = "shouting"', 1)
    response = edi.post("/staff/surveys/definition", data={
        "csrf_token": csrf_token(index), "definition": (io.BytesIO(bad.encode()), "ours.toml")},
        content_type="multipart/form-data")
    assert response.status_code == 400
    assert "The definition cannot be used" in response.data.decode()
    with database.session() as db:
        assert db.scalar(text("SELECT count(*) FROM surveys")) == 0
    response = edi.post("/staff/surveys/definition", data={
        "csrf_token": csrf_token(index), "definition": (io.BytesIO(own.encode()), "ours.toml")},
        content_type="multipart/form-data")
    assert response.status_code == 302
    with database.session() as db:
        assert services.find_survey(db, "our-pulse").title == "Equality pulse"
