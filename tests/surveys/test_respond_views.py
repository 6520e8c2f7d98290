"""Answering a survey in the browser-facing app (Flask client)."""

from __future__ import annotations

import re

import pytest

from surveys import definition as definitions
from surveys import services
from surveys.models import SurveyWave
from tests.conftest import csrf_token
from tests.surveys.conftest import settled_responses, stored_responses


@pytest.fixture
def codes(database, settings) -> tuple[list[str], str, int]:
    with database.session() as db:
        survey = services.save_survey(db, definition_text=definitions.template_text(
            "equality-pulse"), settings=settings, actor="t")
        wave = services.open_wave(db, wave_=services.wave(db, survey, "W"), open_link=True,
                                  actor="t")
        return (services.generate_codes(db, wave_=wave, count=2, actor="t", settings=settings),
                wave.open_link, wave.id)


def _enter(client, code: str):
    page = client.get("/survey/").data.decode()
    return client.post("/survey/", data={"csrf_token": csrf_token(page), "code": code})


def test_answering_with_a_code(app, client, database, settings, codes) -> None:
    assert _enter(client, codes[0][0]).status_code == 302
    page = client.get("/survey/answer").data.decode()
    assert "Roles here are advertised and filled fairly." in page
    done = client.post("/survey/answer", data={
        "csrf_token": csrf_token(page), "roles_fair": "agree", "ethnicity": "prefer-not",
        "fairer_progression": "Publish shortlisting criteria."})
    assert done.status_code == 200 and "Your answers have been saved" in done.data.decode()
    again = client.get("/survey/answer")
    assert again.status_code == 302  # the code is gone from the session
    # Entering a spent code does not say it was spent (whoever holds the code list could probe
    # who has answered); sending answers with it does, and stores nothing.
    other = app.test_client()  # another browser (this one remembers that it answered)
    assert _enter(other, codes[0][0]).status_code == 302
    page = other.get("/survey/answer").data.decode()
    again = other.post("/survey/answer", data={"csrf_token": csrf_token(page),
                                                "roles_fair": "disagree"})
    assert again.status_code == 400 and "already been used" in again.data.decode()
    assert _enter(other, "ABCD-EFGH-JKLM").status_code == 400  # never issued
    with database.session() as db:
        [response] = settled_responses(db, settings, db.get(SurveyWave, codes[2]))
        assert response.answers["roles_fair"] == ("agree",)


def test_out_of_range_answer_keeps_what_was_typed(client, database, codes) -> None:
    _enter(client, codes[0][1])
    page = client.get("/survey/answer").data.decode()
    response = client.post("/survey/answer", data={
        "csrf_token": csrf_token(page), "roles_fair": "hacked",
        "fairer_progression": "Kept text 123"})
    body = response.data.decode()
    assert response.status_code == 400
    assert "Choose one of the options given." in body and "Kept text 123" in body
    with database.session() as db:
        assert stored_responses(db, codes[2]) == 0


def test_open_link_answers_once_per_browser(client, database, codes) -> None:
    link = codes[1]
    assert client.get(f"/survey/link/{link}").status_code == 302
    page = client.get("/survey/answer").data.decode()
    client.post("/survey/answer", data={"csrf_token": csrf_token(page), "roles_fair": "agree"})
    assert client.get(f"/survey/link/{link}").status_code == 302
    again = client.get("/survey/answer").data.decode()
    assert "We already have your answers" in again
    assert client.get("/survey/link/not-a-link").status_code == 404
    with database.session() as db:
        assert stored_responses(db, codes[2]) == 1


def test_code_never_appears_in_a_url_or_page(client, codes) -> None:
    response = _enter(client, codes[0][0])
    assert codes[0][0] not in response.headers["Location"]
    page = client.get("/survey/answer").data.decode()
    assert codes[0][0] not in page
    assert not re.search(r"[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}", page)


def test_gender_identity_beside_sex_and_yes_no_questions_as_radios(
        client, database, settings, codes) -> None:
    assert _enter(client, codes[0][1]).status_code == 302
    page = client.get("/survey/answer").data.decode()
    sex = page.index('name="sex"')
    identity = page.index("Is the gender you identify with the same as your sex registered at "
                          "birth?")
    assert sex < identity < page.index('name="age_band"')
    for name in ("gender_identity", "disability", "internationally_educated", "sex"):
        assert re.search(rf'type="radio" value="yes"|name="{name}" type="radio"', page)
        assert f'<select class="nhsuk-select" id="{name}"' not in page
        assert re.search(rf'name="{name}" type="radio" value="prefer-not"', page), name
    done = client.post("/survey/answer", data={
        "csrf_token": csrf_token(page), "roles_fair": "agree", "sex": "female",
        "gender_identity": "no"})
    assert done.status_code == 200
    with database.session() as db:
        [response] = settled_responses(db, settings, db.get(SurveyWave, codes[2]))
        assert response.demographics["gender_identity"] == "no"
