"""Themes of concerns: tagged at submission (ids only), reviewed on the case page, learnt from.

Every test runs on SQLite and PostgreSQL. The raw-database checks read the SQLite file or a
pg_dump, as `tests/test_at_rest.py` does.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

import core.themes
from accounts.models import StaffUser
from accounts.services import StaffIdentity
from analysis.themes.classifier import ThemeModel as ClassifierModel
from analysis.themes.classifier import train
from analysis.themes.labelled import LabelledExample, read_labelled
from analysis.themes.taxonomy import load_taxonomy
from config.settings import Settings
from core.audit import AuditEvent
from core.db import Database
from core.db import today as utc_today
from core.encryption import DecryptionError, new_key
from speakup import analytics, services, themes
from speakup.models import Concern, ThemeModel
from speakup.record import CaseRecord
from tests.conftest import Staff, analysis_key, csrf_token, login
from tests.conftest import submit_concern as send_concern
from tests.test_at_rest import _raw_copy

NEPOTISM = ("The ward manager gave the band 6 post to her niece. Everyone knows jobs go to her "
            "friends and family. Call Priya Sharma on 07700 900123 if you need to check.")
LABELLED = Path(__file__).parent / "data" / "themes_labelled.csv"
THEME_IDS = load_taxonomy().theme_ids


_SENT: list[str] = []  # receipts of the concerns this test sent, newest last
_SETTINGS: list[Settings] = []


@pytest.fixture(autouse=True)
def fresh_engine_cache(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    """`core.themes` caches the engine per thread by the newest model's id, and every test has
    a new database whose ids start again at 1: start each test with an empty cache."""
    monkeypatch.setattr(core.themes, "_local", threading.local())
    _SENT.clear()
    _SETTINGS[:] = [settings]


def submit_concern(client: FlaskClient, text_: str, **fields: object) -> tuple[str, str]:
    receipt, html = send_concern(client, text_, **fields)
    _SENT.append(receipt)
    return receipt, html


def _record(database: Database, receipt: str | None = None) -> tuple[str, CaseRecord]:
    """The reference and case record of a concern sent (default: the newest), opened with its
    receipt as the reporter would."""
    with database.session() as db:
        access = services.open_with_receipt(db, receipt=receipt or _SENT[-1],
                                            settings=_SETTINGS[0])
        concern = db.get(Concern, access.concern_id)
        assert concern is not None
        return concern.ref, services.reporter_case(db, access=access).record


def _newest(database: Database) -> tuple[str, list[tuple[str, str, str]]]:
    ref, case = _record(database)
    return ref, [(t.theme_id, t.source, t.status) for t in case.themes]


def _staff(app: Flask, staff: Staff) -> FlaskClient:
    client = app.test_client()
    login(client, staff)
    return client


def _identity(db: Session, staff: Staff) -> StaffIdentity:
    """A signed-in guardian, for `themes._reviewed` (which opens their cases)."""
    user = db.get(StaffUser, staff.id)
    assert user is not None
    return StaffIdentity(user=user, private_key=staff.private_key, session_token="t")


def _review(client: FlaskClient, ref: str, theme: str, decision: str = "confirmed") -> object:
    page = client.get(f"/staff/cases/{ref}").data.decode()
    return client.post(f"/staff/cases/{ref}/themes", data={
        "csrf_token": csrf_token(page), "theme": theme, "decision": decision})


# --- at submission ----------------------------------------------------------------------------


def test_submission_stores_theme_ids_and_tone_but_none_of_the_words(
    app: Flask, client: FlaskClient, guardian: Staff, database: Database, settings
) -> None:
    # Words already in the file before the concern (schema names such as the `band` column) are
    # not the concern's words.
    before = _raw_copy(database, settings)
    submit_concern(client, NEPOTISM)
    _ref, rows = _newest(database)
    assert ("nepotism_favouritism", "engine", "suggested") in rows
    _ref, case = _record(database)
    with database.session() as db:
        tagged = core.themes.engine(db, settings).tag(NEPOTISM)
    assert case.tone == round(tagged.tone, 1)
    assert not case.quote_consent and case.equality is not None
    assert case.equality["quote"] is None  # no consent
    [score] = [t.score for t in case.themes if t.theme_id == "nepotism_favouritism"]
    assert score is not None and score >= 0.5
    evidence = [e for hit in tagged.themes for e in hit.evidence]
    assert "jobs go to her friends" in evidence

    raw = _raw_copy(database, settings)
    # The theme ids are sealed in the case record and the equality record, like the words.
    assert b"nepotism_favouritism" not in raw
    words = {w for e in evidence for w in e.split() if len(w) > 3}
    words |= {"niece", "Priya", "Sharma", "07700", "Everyone knows"}
    for phrase in [*evidence, *words]:
        for variant in (phrase, phrase.lower(), phrase.capitalize()):
            assert variant.encode() not in raw or variant.encode() in before, variant


def test_quote_extract_only_with_consent_redacted_and_sealed(
    client: FlaskClient, guardian: Staff, database: Database, settings
) -> None:
    consented, _html = submit_concern(client, NEPOTISM, quote_consent="y")
    declined, _html = submit_concern(client, NEPOTISM)
    _ref, declined_case = _record(database, declined)
    assert not declined_case.quote_consent and declined_case.equality["quote"] is None
    _ref, consented_case = _record(database, consented)
    quote = consented_case.equality["quote"]
    assert quote is not None
    assert "[NAME]" in quote and "[PHONE]" in quote
    for secret in ("Priya", "Sharma", "07700", "900123"):
        assert secret not in quote
    assert "jobs go to her friends" in quote
    # EDI leads read it only in the equality record, sealed to the analysis key.
    with database.session() as db:
        facts = analytics.current_facts(db, analysis_private=analysis_key(database, settings),
                                        settings=settings)
        assert [f.quote for f in facts if f.quote] == [quote]
        with pytest.raises(DecryptionError):
            analytics.current_facts(db, analysis_private=new_key(), settings=settings)
    assert b"jobs go to her friends" not in _raw_copy(database, settings)


def test_quote_extract_is_cut_at_a_word() -> None:
    text = "Staffing is unsafe on nights and nobody listens. " * 40
    extract = themes.quote_extract(text)
    assert len(extract) <= themes.QUOTE_LIMIT + 1
    assert extract.endswith("…")
    assert extract[:-1].split()[-1] in text.split()
    assert themes.quote_extract("Short.\n\nTwo lines.") == "Short. Two lines."


def test_engine_failure_never_fails_a_submission(
    client: FlaskClient, guardian: Staff, database: Database, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_args: object, **_kwargs: object) -> object:
        raise RuntimeError("failed on: jobs go to her friends")

    monkeypatch.setattr(core.themes, "engine", broken)
    with caplog.at_level(logging.DEBUG):
        receipt, _html = submit_concern(client, NEPOTISM, quote_consent="y")
    assert receipt
    _ref, case = _record(database)
    assert case.themes == () and case.tone is None and case.themes_failed
    assert case.equality["quote"]  # redaction does not need the engine
    # The anonymous side logs nothing, not even the failure's kind: a timestamped line would
    # say when someone sent a concern. The guardian sees the failure on the case page.
    assert "friends" not in caplog.text and "niece" not in caplog.text
    assert "RuntimeError" not in caplog.text


# --- the case page ----------------------------------------------------------------------------


def test_case_page_shows_themes_with_evidence_and_guardians_review_them(
    app: Flask, client: FlaskClient, guardian: Staff, second_guardian: Staff, database: Database
) -> None:
    submit_concern(client, NEPOTISM, excluded_guardians=str(second_guardian.id))
    ref, _rows = _newest(database)
    staff = _staff(app, guardian)
    page = staff.get(f"/staff/cases/{ref}").data.decode()
    themes_section = page[page.index('id="themes"'):page.index('id="update"')]
    assert "Nepotism and favouritism" in themes_section
    assert "<q>jobs go to her friends</q>" in themes_section
    assert "rather than on merit" in themes_section  # the plain-English description
    assert "Suggested" in themes_section
    assert 'href="/staff/retrain"' in themes_section

    def status_of(theme: str) -> tuple[str, str] | None:
        _ref, case = _record(database)
        row = next((t for t in case.themes if t.theme_id == theme), None)
        return (row.source, row.status) if row else None

    response = _review(staff, ref, "nepotism_favouritism", "confirmed")
    assert (response.status_code, response.location) == (302, f"/staff/cases/{ref}")
    assert "Theme confirmed: Nepotism and favouritism." in staff.get(response.location).data.decode()
    assert status_of("nepotism_favouritism") == ("engine", "confirmed")

    response = _review(staff, ref, "nepotism_favouritism", "removed")
    assert response.status_code == 302
    page = staff.get(response.location).data.decode()
    assert "Theme removed: Nepotism and favouritism." in page
    assert "Removed" in page and "Undo removal" in page
    assert status_of("nepotism_favouritism") == ("engine", "removed")

    assert _review(staff, ref, "nepotism_favouritism", "confirmed").status_code == 302  # undo
    assert status_of("nepotism_favouritism") == ("engine", "confirmed")

    assert _review(staff, ref, "patient_safety", "confirmed").status_code == 302  # added
    assert status_of("patient_safety") == ("guardian", "confirmed")
    assert "Added by a guardian" in staff.get(f"/staff/cases/{ref}").data.decode()

    for theme, decision, message in (
        ("", "confirmed", "Choose a theme to add."),
        ("staffing_workload", "removed", "That theme is not on this case."),
        ("no_such_theme", "confirmed", "Choose a theme from the list."),
        ("patient_safety", "maybe", "Choose to confirm or remove the theme."),
    ):
        response = _review(staff, ref, theme, decision)
        assert response.status_code == 400, theme
        assert message in response.data.decode()
    assert status_of("staffing_workload") is None

    with database.session() as db:
        details = db.scalars(select(AuditEvent.detail).where(
            AuditEvent.action == "case.theme", AuditEvent.target == f"case:{ref}")
            .order_by(AuditEvent.id)).all()
    assert details == ["nepotism_favouritism:confirmed", "nepotism_favouritism:removed",
                       "nepotism_favouritism:confirmed", "patient_safety:confirmed"]

    # The guardian the reporter excluded can neither see nor change the themes.
    excluded = _staff(app, second_guardian)
    token = csrf_token(excluded.get("/staff/retrain").data.decode())
    for theme, decision in (("nepotism_favouritism", "removed"), ("staffing_workload", "confirmed")):
        response = excluded.post(f"/staff/cases/{ref}/themes", data={
            "csrf_token": token, "theme": theme, "decision": decision})
        assert response.status_code == 404
    assert status_of("nepotism_favouritism") == ("engine", "confirmed")
    assert status_of("staffing_workload") is None


def test_no_theme_applies_removes_every_theme_and_counts_as_reviewed(
    app: Flask, client: FlaskClient, guardian: Staff, second_guardian: Staff, database: Database
) -> None:
    submit_concern(client, NEPOTISM, excluded_guardians=str(second_guardian.id))
    ref, rows = _newest(database)
    assert ("nepotism_favouritism", "engine", "suggested") in rows
    staff = _staff(app, guardian)
    assert _review(staff, ref, "patient_safety", "confirmed").status_code == 302  # added

    def state() -> tuple[object, set[tuple[str, str]], int]:
        _ref, case = _record(database)
        with database.session() as db:
            reviewed = [c.ref for c, _case in themes._reviewed(db, _identity(db, guardian))]
        return (case.no_theme_on, {(t.theme_id, t.status) for t in case.themes},
                reviewed.count(ref))

    def themes_section(page: str) -> str:
        return page[page.index('id="themes"'):page.index('id="update"')]

    section = themes_section(staff.get(f"/staff/cases/{ref}").data.decode())
    assert f'action="/staff/cases/{ref}/themes/none"' in section
    assert re.search(r'<button class="nhsuk-button nhsuk-button--secondary"[^>]*>\s*'
                     r'No theme applies\s*</button>', section)
    assert "You recorded that no theme applies" not in section

    # Another guardian without a grant for the case can neither see nor use it.
    excluded = _staff(app, second_guardian)
    response = excluded.post(f"/staff/cases/{ref}/themes/none", data={
        "csrf_token": csrf_token(excluded.get("/staff/retrain").data.decode())})
    assert response.status_code == 404
    assert state()[0] is None
    # And nobody can without the form token.
    assert staff.post(f"/staff/cases/{ref}/themes/none").status_code == 400
    assert state()[0] is None

    page = staff.get(f"/staff/cases/{ref}").data.decode()
    response = staff.post(f"/staff/cases/{ref}/themes/none",
                          data={"csrf_token": csrf_token(page)})
    assert (response.status_code, response.location) == (302, f"/staff/cases/{ref}")
    page = staff.get(response.location).data.decode()
    assert "You recorded that no theme applies to this case." in page  # the message
    section = themes_section(page)
    assert f"You recorded that no theme applies on {utc_today():%-d %B %Y}." in section
    assert "No theme applies" not in section  # the button is gone
    on, statuses, reviewed = state()
    assert on == utc_today()
    assert statuses and {status for _theme, status in statuses} == {"removed"}
    assert ("nepotism_favouritism", "removed") in statuses
    assert ("patient_safety", "removed") in statuses
    assert reviewed == 1
    # A second press (a double click, a stale tab) changes nothing and is not audited again.
    assert staff.post(f"/staff/cases/{ref}/themes/none",
                      data={"csrf_token": csrf_token(page)}).status_code == 302
    assert state() == (on, statuses, reviewed)
    with database.session() as db:
        details = db.scalars(select(AuditEvent.detail).where(
            AuditEvent.action == "case.theme", AuditEvent.target == f"case:{ref}")
            .order_by(AuditEvent.id)).all()
        actors = set(db.scalars(select(AuditEvent.actor).where(
            AuditEvent.action == "case.theme", AuditEvent.target == f"case:{ref}")))
    assert details == ["patient_safety:confirmed",
                       "none:reviewed removed=nepotism_favouritism,patient_safety"]
    assert actors == {f"staff:{guardian.id}"}

    # Removing a theme again keeps the record; confirming one clears it, and the case stays
    # reviewed through that theme.
    assert _review(staff, ref, "patient_safety", "removed").status_code == 302
    assert state()[0] == utc_today()
    assert _review(staff, ref, "nepotism_favouritism", "confirmed").status_code == 302
    on, statuses, reviewed = state()
    assert on is None
    assert ("nepotism_favouritism", "confirmed") in statuses
    assert reviewed == 1
    section = themes_section(staff.get(f"/staff/cases/{ref}").data.decode())
    assert "You recorded that no theme applies" not in section
    assert "No theme applies" in section


def test_no_theme_applies_where_the_engine_suggested_nothing(
    app: Flask, client: FlaskClient, guardian: Staff, database: Database
) -> None:
    submit_concern(client, "Hello.")
    ref, rows = _newest(database)
    assert rows == []
    staff = _staff(app, guardian)
    page = staff.get(f"/staff/cases/{ref}").data.decode()
    assert "The engine found no theme in this concern." in page
    with database.session() as db:
        assert themes._reviewed(db, _identity(db, guardian)) == []  # nothing reviewed yet

    response = staff.post(f"/staff/cases/{ref}/themes/none",
                          data={"csrf_token": csrf_token(page)})
    assert response.status_code == 302
    page = staff.get(f"/staff/cases/{ref}").data.decode()
    assert "You recorded that no theme applies" in page
    assert "The engine found no theme in this concern." not in page
    _ref, rows = _newest(database)
    assert rows == []
    with database.session() as db:
        assert [c.ref for c, _case in themes._reviewed(db, _identity(db, guardian))] == [ref]
    assert re.search(r"You can open <strong>1</strong> case with reviewed themes",
                     staff.get("/staff/retrain").data.decode())

    # Adding a theme afterwards clears the record.
    assert _review(staff, ref, "staffing_workload", "confirmed").status_code == 302
    _ref, case = _record(database)
    assert case.no_theme_on is None
    assert [(t.theme_id, t.status) for t in case.themes] == [("staffing_workload", "confirmed")]


# --- retraining -------------------------------------------------------------------------------


def _labelled_cases() -> list[tuple[str, frozenset[str]]]:
    """Fifteen development comments, five of each of three themes, interleaved."""
    dev = [e for e in read_labelled(LABELLED) if e.split == "dev"]
    chosen = {theme: [e for e in dev if e.themes == {theme}][:5]
              for theme in ("nepotism_favouritism", "patient_safety", "staffing_workload")}
    return [(e.text, e.themes) for group in zip(*chosen.values(), strict=True) for e in group]


RARE = "Zebedee"  # in one concern only: must not reach the model
NEGATIVE = "The vending machine by the lifts keeps taking coins and giving nothing back."


def _review_to_labels(app: Flask, client: FlaskClient, staff: FlaskClient, database: Database,
                      cases: list[tuple[str, frozenset[str]]]) -> list[str]:
    refs = []
    for i, (text, labels) in enumerate(cases):
        submit_concern(client, f"{text} {RARE} said so." if i == 0 else text)
        ref, rows = _newest(database)
        suggested = {theme for theme, _source, _status in rows}
        for theme in sorted(labels):
            assert _review(staff, ref, theme, "confirmed").status_code == 302
        for theme in sorted(suggested - labels):
            assert _review(staff, ref, theme, "removed").status_code == 302
        refs.append(ref)
    return refs


def test_retraining_stores_a_sealed_model_that_the_next_submission_uses(
    app: Flask, client: FlaskClient, guardian: Staff, database: Database, settings,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = _labelled_cases()
    staff = _staff(app, guardian)
    _review_to_labels(app, client, staff, database, cases)
    # A sixteenth case on which the guardian records that no theme applies, having first
    # confirmed one (which is then removed): a negative example.
    submit_concern(client, NEGATIVE)
    negative, _rows = _newest(database)
    assert _review(staff, negative, "staffing_workload", "confirmed").status_code == 302
    page = staff.get(f"/staff/cases/{negative}").data.decode()
    assert staff.post(f"/staff/cases/{negative}/themes/none",
                      data={"csrf_token": csrf_token(page)}).status_code == 302

    trained_on: list[LabelledExample] = []

    def recording_train(examples: list[LabelledExample], **kwargs: Any) -> ClassifierModel:
        trained_on.extend(examples)
        return train(examples, **kwargs)

    monkeypatch.setattr(themes, "train", recording_train)

    page = staff.get("/staff/retrain").data.decode()
    assert "Shipped with Speak Up" in page
    assert re.search(r"You can open <strong>16</strong> cases", page)
    response = staff.post("/staff/retrain", data={"csrf_token": csrf_token(page)})
    assert (response.status_code, response.location) == (302, "/staff/retrain")
    page = staff.get(response.location).data.decode()
    assert "The theme engine has been retrained on 16 reviewed cases" in page
    # Trained on the real corpus's development rows and every reviewed case (none held back:
    # the check is on the corpus's frozen held-out rows); the negative case has no theme.
    corpus, heldout = core.themes.real_corpus(THEME_IDS)
    labels = {e.id: e.themes for e in trained_on}
    assert len(trained_on) == len(corpus) + 16
    assert labels[negative] == frozenset()
    assert not {e.id for e in heldout} & set(labels)
    assert "Gina Guardian" in page
    assert f"Before and after retraining, on the {len(heldout)} real staff extracts" in page
    assert "Overall score (macro F1)" in page

    with database.session() as db:
        [stored] = db.scalars(select(ThemeModel)).all()
        assert stored.examples == 16
        assert stored.trained_by == f"staff:{guardian.id}"
        assert stored.macro_f1_before is not None and stored.macro_f1_after is not None
        assert f"{stored.macro_f1_after:.2f}" in page
        audit = db.scalar(select(AuditEvent).where(AuditEvent.action == "themes.retrain"))
        assert audit is not None and audit.target == f"theme-model:{stored.id}"
        assert f"heldout={len(heldout)}" in audit.detail
        model = core.themes.open_model(stored.model_sealed, settings)
        # The next submission is tagged with exactly this model.
        in_use = core.themes.engine(db, settings).model
        assert in_use is not None and in_use.to_json() == model.to_json()
    assert model.metadata["heldout"] == len(heldout)
    assert model.metadata["cases"] == 16 and model.metadata["corpus_rows"] == len(corpus)
    assert model.metadata["cases_per_theme"]["nepotism_favouritism"] >= 3  # type: ignore[index]
    # The figures before and after are per theme on the held-out rows: every theme is counted.
    evaluation = model.metadata["evaluation"]
    assert set(evaluation["before"]) == set(evaluation["after"]) == set(THEME_IDS)  # type: ignore[index]
    assert sum(sum(v[::2]) for v in evaluation["after"].values()) == sum(  # type: ignore[index]
        len(e.themes) for e in heldout)
    # Sealed: no word of any concern in the stored bytes, and a name from one concern is not
    # even inside the opened model.
    for text, _labels in cases:
        for word in {w.strip(".,'") for w in text.split() if len(w) > 5}:
            assert word.encode() not in stored.model_sealed
    assert RARE.lower()[:5] not in json.dumps(model.to_json())
    # Adapted from the shipped model, not trained from these cases alone.
    shipped = core.themes.shipped_model()
    assert shipped is not None and set(shipped.vocabulary) <= set(model.vocabulary)
    assert model.metadata["prior"]["examples"] == shipped.metadata["examples"]  # type: ignore[index]
    # Retraining again starts from the shipped model again, not from the retrained one.
    page = staff.get("/staff/retrain").data.decode()
    staff.post("/staff/retrain", data={"csrf_token": csrf_token(page)})
    with database.session() as db:
        newest = core.themes.engine(db, settings).model
    assert newest is not None and newest.metadata["prior"]["examples"] == shipped.metadata["examples"]  # type: ignore[index]

    submit_concern(client, NEPOTISM)
    _ref, rows = _newest(database)
    assert ("nepotism_favouritism", "engine", "suggested") in rows


def test_retraining_with_too_few_reviewed_cases_is_refused(
    app: Flask, client: FlaskClient, guardian: Staff, database: Database
) -> None:
    submit_concern(client, NEPOTISM)
    ref, _rows = _newest(database)
    submit_concern(client, "Nights are unsafe: two nurses for thirty patients.")
    staff = _staff(app, guardian)
    _review(staff, ref, "nepotism_favouritism", "confirmed")

    page = staff.get("/staff/retrain").data.decode()
    assert "You can open <strong>1</strong> case with reviewed themes" in page
    assert "Retraining needs at least 10 reviewed cases" in page
    response = staff.post("/staff/retrain", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 400
    assert ("Retraining needs at least 10 cases with reviewed themes that you can open; you "
            "have 1.") in response.data.decode()
    with database.session() as db:
        assert db.scalars(select(ThemeModel)).all() == []


def test_cli_retrain_refuses_wrong_login_and_too_few_cases(app, guardian) -> None:
    runner = app.test_cli_runner()
    wrong = runner.invoke(args=["retrain-themes", "--email", guardian.email, "--stdin"],
                          input="not the password\n000000\n")
    assert wrong.exit_code != 0 and "not right" in wrong.output
    few = runner.invoke(args=["retrain-themes", "--email", guardian.email, "--stdin"],
                        input=f"{guardian.password}\n{guardian.code()}\n")
    assert few.exit_code != 0 and "at least" in few.output
