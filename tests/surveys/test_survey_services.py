"""Pulse surveys: definitions, codes used exactly once, unlinkable storage, import."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.unlinkable import PendingRecord, Record
from surveys import definition as definitions
from surveys import services
from surveys.models import InvitationCode
from tests.surveys.conftest import settled_responses, stored_responses

ORG_DIRECTORATES = (("medicine", "Medicine"),)


@pytest.fixture
def survey(db, settings):
    created = services.save_survey(db, definition_text=definitions.template_text("equality-pulse"),
                                   settings=settings, actor="test")
    db.commit()
    return created


@pytest.fixture
def open_wave(db, survey):
    wave = services.open_wave(db, wave_=services.wave(db, survey, "Spring 2027"),
                              open_link=False, actor="test")
    db.commit()
    return wave


def test_template_parses_with_wres_questions_and_all_demographics(settings) -> None:
    d = definitions.load_template("equality-pulse", directorates=ORG_DIRECTORATES)
    assert sorted(q.wres for q in d.questions if q.wres) == [5, 6, 6, 7, 8]
    assert [x.id for x in d.demographics] == list(definitions.DEMOGRAPHIC_IDS)
    assert len(d.demographic("ethnicity").options) == 19
    assert {q.kind for q in d.questions} >= {"agreement", "frequency", "single", "yesno", "text"}


@pytest.mark.parametrize(("text", "message"), [
    ("id = 'x'\ntitle = 'T'", "at least one"),
    ("id = 'Bad Id'\ntitle='T'\n[[questions]]\nid='a'\nkind='yesno'\ntext='q'", "id must"),
    ("id = 'x'\ntitle='T'\n[[questions]]\nid='a'\nkind='scale'\ntext='q'", "kind must"),
    ("id = 'x'\ntitle='T'\n[[questions]]\nid='a'\nkind='single'\ntext='q'", "two options"),
    ("id = 'x'\ntitle='T'\n[[questions]]\nid='a'\nkind='yesno'\ntext='q'\n"
     "[[questions]]\nid='a'\nkind='yesno'\ntext='q'", "used twice"),
    ("id = 'x'\ntitle='T'\n[[questions]]\nid='a'\nkind='yesno'\ntext='q'\nfavourable=['maybe']",
     "favourable"),
    ("id = 'x'\ntitle='T'\ndemographics=['shoe_size']\n[[questions]]\nid='a'\nkind='yesno'\n"
     "text='q'", "demographics"),
    ("not toml [", "not valid TOML"),
])
def test_bad_definitions_are_explained(text: str, message: str) -> None:
    with pytest.raises(definitions.DefinitionError, match=message):
        definitions.parse_definition(text)


def test_code_is_accepted_once_and_response_holds_no_link_to_it(db, settings, open_wave) -> None:
    [code] = services.generate_codes(db, wave_=open_wave, count=1, actor="test", settings=settings)
    db.commit()
    answers = {"roles_fair": "agree", "ethnicity": "black-african", "band": "5",
               "fairer_progression": "Advertise every post."}
    services.submit_response(db, wave_=open_wave, code=code.lower(), answers=answers,
                             settings=settings)
    db.commit()
    with pytest.raises(services.CodeError):
        services.submit_response(db, wave_=open_wave, code=code, answers=answers,
                                 settings=settings)
    db.rollback()
    assert stored_responses(db, open_wave.id) == 1
    # The spent code's row is gone; the response is a sealed record with a random id.
    assert db.scalar(select(func.count()).select_from(InvitationCode)) == 0
    pending = db.scalar(select(PendingRecord))
    assert len(pending.id) == 32 and not pending.id.isdigit()
    assert b"Advertise" not in pending.sealed and b"black-african" not in pending.sealed
    [response] = settled_responses(db, settings, open_wave)
    assert response.demographics["ethnicity"] == "black-african"
    [comment] = response.comments
    assert b"Advertise" not in comment.text_sealed


def test_concurrent_submissions_with_one_code_store_exactly_one(database, settings) -> None:
    with database.session() as db:
        survey = services.save_survey(db, definition_text=definitions.template_text(
            "equality-pulse"), settings=settings, actor="t")
        wave = services.open_wave(db, wave_=services.wave(db, survey, "W"), open_link=False,
                                  actor="t")
        [code] = services.generate_codes(db, wave_=wave, count=1, actor="t", settings=settings)
        wave_id = wave.id
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def attempt() -> None:
        session = database.sessionmaker()
        try:
            from surveys.models import SurveyWave

            w = session.get(SurveyWave, wave_id)
            w.survey  # noqa: B018 - loaded before the transaction ends
            session.commit()  # SQLite: no thread may wait at the barrier holding the lock
            barrier.wait()
            services.submit_response(session, wave_=w, code=code,
                                     answers={"roles_fair": "agree"}, settings=settings)
            session.commit()
            outcomes.append("ok")
        except services.CodeError:
            session.rollback()
            outcomes.append("refused")
        except Exception as e:
            session.rollback()
            outcomes.append(f"error: {type(e).__name__}: {e}")
        finally:
            session.close()

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok"] + ["refused"] * 7, outcomes
    with database.session() as db:
        assert stored_responses(db, wave_id) == 1
        assert db.scalar(select(func.count()).select_from(InvitationCode)) == 0


@pytest.mark.parametrize(("answers", "field"), [
    ({"roles_fair": "very much"}, "roles_fair"),
    ({"band": "12"}, "band"),
    ({"nonexistent": "x"}, "nonexistent"),
    ({"fairer_progression": "x" * 2001}, "fairer_progression"),
])
def test_out_of_range_answers_are_refused_and_nothing_stored(db, settings, open_wave, answers,
                                                             field) -> None:
    [code] = services.generate_codes(db, wave_=open_wave, count=1, actor="t", settings=settings)
    with pytest.raises(services.AnswerError) as info:
        services.submit_response(db, wave_=open_wave, code=code, answers=answers,
                                 settings=settings)
    assert info.value.field == field
    db.rollback()
    assert stored_responses(db, open_wave.id) == 0


def test_closed_wave_and_unknown_code_are_refused(db, settings, open_wave) -> None:
    [code] = services.generate_codes(db, wave_=open_wave, count=1, actor="t", settings=settings)
    with pytest.raises(services.CodeError):
        services.wave_for_code(db, "AAAA-BBBB-CCCC", settings)
    services.close_wave(db, wave_=open_wave, actor="t", settings=settings)
    # Closing deletes the unspent codes: a copy of the database no longer says who did not
    # answer.
    with pytest.raises(services.CodeError):
        services.wave_for_code(db, code, settings)
    with pytest.raises(services.SurveyClosedError):
        services.submit_response(db, wave_=open_wave, code=code, answers={}, settings=settings)


def test_import_reports_every_bad_line_and_imports_nothing(db, settings, survey) -> None:
    bad = "roles_fair,band,wave\nagree,5,W1\nnope,5,W1\nagree,99,W2\n"
    with pytest.raises(services.ImportRowsError) as info:
        services.import_responses(db, survey=survey, csv_text=bad, wave_label="X",
                                  settings=settings, actor="t")
    assert [(e.line, e.message.split(":")[0]) for e in info.value.errors] == [
        (3, "roles_fair"), (4, "band")]
    db.rollback()
    assert db.scalar(select(func.count()).select_from(Record)) == 0
    good = "roles_fair,band,wave\nagree,5,W1\ndisagree,6,W2\n"
    assert services.import_responses(db, survey=survey, csv_text=good, wave_label="X",
                                     settings=settings, actor="t") == 2
    assert [w.label for w in survey.waves] == ["W1", "W2"]


def test_definition_update_cannot_drop_an_answered_question(db, settings, survey) -> None:
    services.import_responses(db, survey=survey, csv_text="roles_fair\nagree\n",
                              wave_label="X", settings=settings, actor="t")
    text = definitions.template_text("equality-pulse").replace('id = "roles_fair"',
                                                               'id = "roles_renamed"')
    with pytest.raises(definitions.DefinitionError, match="already has answers"):
        services.save_survey(db, definition_text=text, settings=settings, actor="t")


def test_cli_template_and_import(app, tmp_path: Path) -> None:
    runner = app.test_cli_runner()
    template = runner.invoke(args=["survey", "template", "equality-pulse"])
    assert template.exit_code == 0 and 'id = "equality-pulse"' in template.output
    assert runner.invoke(args=["survey", "template", "nope"]).exit_code != 0
    definition = tmp_path / "d.toml"
    definition.write_text(template.output)
    responses = tmp_path / "r.csv"
    responses.write_text("roles_fair,ethnicity\nagree,white-irish\nmaybe,white-irish\n")
    failed = runner.invoke(args=["survey", "import", str(definition), str(responses)])
    assert failed.exit_code != 0 and "r.csv:3: roles_fair" in failed.output
    responses.write_text("roles_fair,ethnicity\nagree,white-irish\n")
    ok = runner.invoke(args=["survey", "import", str(definition), str(responses)])
    assert ok.exit_code == 0 and "Imported 1 response" in ok.output
    codes = runner.invoke(args=["survey", "codes", "equality-pulse", "--wave", "W", "--count",
                                "5"])
    assert codes.exit_code == 0 and len(codes.output.strip().splitlines()) == 6


def test_a_response_with_no_answered_question_is_refused(db, settings, open_wave) -> None:
    [code] = services.generate_codes(db, wave_=open_wave, count=1, actor="t", settings=settings)
    db.commit()
    with pytest.raises(services.AnswerError, match="at least one question"):
        services.submit_response(db, wave_=open_wave, code=code, answers={"band": "5"},
                                 settings=settings)
    db.rollback()
    assert stored_responses(db, open_wave.id) == 0
    services.check_code(db, wave_=open_wave, code=code, settings=settings)  # not spent
