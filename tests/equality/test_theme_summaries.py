"""Themed summaries: survey comments themed at ingest, and the EDI lead's summary page.

The concerns are built through the real submission service, then given the theme rows a
guardian's review would leave (so the figures do not depend on the engine's suggestions). A
deliberately small group (three concerns about racial discrimination from mental health
services in 2024/25 Q2, all in July; three survey respondents in band 9) must never show as a
figure, directly or as a total minus the shown cells, at either grain, on the page or in the CSV.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from analysis.themes.engine import ThemeEngine
from config.settings import Settings
from core.db import Database
from core.themes import engine as theme_engine
from equality import themes
from speakup import analytics
from surveys import services
from surveys.models import SurveyWave
from tests.conftest import Staff, analysis_key, login, make_staff
from tests.equality.test_results_pages import SVG, _svgs, _tables
from tests.surveys.conftest import import_equality_pulse, settled_responses
from tests.test_at_rest import _raw_copy

Q1, Q2 = "2024/25 Q1", "2024/25 Q2"
RACISM = "racial_discrimination"
BULLYING = "bullying_harassment"
SMALL_MARK = "MHSMALLGROUP"
NO_CONSENT_MARK = "NOCONSENTMARK"
PHRASE = "car park barrier"
RARE_PHRASE = "purple stapler shortage"
THEME_IDS = {t.id for t in ThemeEngine.default().taxonomy.themes}
RACISM_TEXT = ("Racist remarks about my accent are laughed off. "
               f"The broken {PHRASE} makes everyone late.")
PII_TEXT = ("Dr Okafor made racist remarks about my accent on Ward 7B, bed 4, on 3rd March 2024. "
            "Ring me on 07700 900123 or write to jo.bloggs@nhs.net, staff number 12345678.")


# --- building the world ------------------------------------------------------------------------


def _concern(db: Session, settings: Settings, *, on: date, site: str, text: str,
             themes_: dict[str, tuple[str, float]], consent: bool = True,
             tone: float = -0.5) -> None:
    """Write a concern's equality facts as a reviewed concern leaves them: its themes (removed
    ones do not count), its tone, and (with consent) its extract, left unredacted here to check
    that the summary redacts again. Summaries read only these facts, never the cases."""
    analytics.record_new(db, settings=settings, facts=analytics.facts_for(
        received_on=on, site=site, professional_group=None, ethnicity=None,
        kind="discrimination", raised="anonymous",
        themes={t: score for t, (status, score) in themes_.items() if status != "removed"},
        tone=tone, quote=text if consent else None))


@pytest.fixture
def concerns(database: Database, settings: Settings, guardian: Staff) -> None:
    """2024/25 Q2: racial discrimination from main (15), community (14) and mental health (3,
    all July); one more at main without consent. Q1: bullying at main, 12 kept and 3 removed.
    All consented to quotes but the one marked."""
    months = (date(2024, 7, 9), date(2024, 8, 13), date(2024, 9, 17))
    with database.session() as db:
        for i in range(15):
            text = PII_TEXT if i == 0 else f"{RACISM_TEXT} Case {i}."
            _concern(db, settings, on=months[i % 3], site="main", text=text,
                     themes_={RACISM: ("confirmed", 0.99 if i == 0 else 0.8)},
                     tone=-0.5 if i % 2 else 0.3)
        for i in range(14):
            _concern(db, settings, on=months[i % 3], site="community",
                     text=f"{RACISM_TEXT} Community {i}.", themes_={RACISM: ("suggested", 0.7)})
        for i in range(3):
            _concern(db, settings, on=months[0], site="mental-health",
                     text=f"{SMALL_MARK} racist comments in our small team, {RARE_PHRASE} {i}.",
                     themes_={RACISM: ("confirmed", 1.0)})
        _concern(db, settings, on=months[1], site="main", consent=False,
                 text=f"{NO_CONSENT_MARK} racist abuse.", themes_={RACISM: ("confirmed", 1.0)})
        for i in range(15):
            _concern(db, settings, on=date(2024, 5, 2 + i), site="main",
                     text=f"I was bullied and belittled by my line manager {i}.",
                     themes_={BULLYING: ("removed" if i >= 12 else "confirmed", 0.9)})


def _survey_csv() -> str:
    """W1: 30 band 5 people on nepotism (one naming names), 3 band 9 on racism (the small
    group), 3 on a rare phrase; W2: 20 band 6 people bullied. Every respondent in medicine."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["wave", "roles_fair", "band", "directorate", "fairer_progression"])
    nepotism = ("Promotions go to the manager's golfing buddies, it is all who you know here. "
                f"The broken {PHRASE} makes everyone late.")
    for i in range(30):
        text = nepotism if i else (f"{nepotism} Ask Dr Jones on ward 12, "
                                   "jane.smith@nhs.net, 07700 900456.")
        writer.writerow(["W1", "agree", "5", "medicine", text])
    for _ in range(3):
        writer.writerow(["W1", "disagree", "9", "medicine",
                         f"{SMALL_MARK} racist remarks about my accent from my manager."])
    for _ in range(3):
        writer.writerow(["W1", "agree", "5", "medicine", f"The {RARE_PHRASE} is getting worse."])
    for _ in range(20):
        writer.writerow(["W2", "agree", "6", "medicine",
                         "I was bullied and belittled by my line manager in front of colleagues."])
    return out.getvalue()


@pytest.fixture
def survey_id(app: Flask, database: Database, tmp_path: Path) -> int:
    return import_equality_pulse(app, database, tmp_path, _survey_csv())


def _get(client: FlaskClient, query: str = "", status: int = 200) -> str:
    response = client.get(f"/staff/themes/{query}")
    html = response.data.decode()
    assert response.status_code == status, html[:3000]
    return html


def _csv(client: FlaskClient, query: str) -> list[dict[str, str]]:
    response = client.get(f"/staff/themes/summary.csv{query}")
    assert response.status_code == 200, response.data.decode()[:2000]
    assert response.mimetype == "text/csv"
    text = response.data.decode("utf-8")
    assert text.startswith("\ufeff")  # Excel reads it as UTF-8
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


def _number(text: str) -> int | None:
    return int(text.replace(",", "")) if re.fullmatch(r"[\d,]+", text) else None


@dataclass
class Line:
    """A total and its parts as shown (None: hidden)."""

    where: str
    total: int | None
    parts: list[int | None]


def _assert_safe(line: Line, k: int = 11) -> None:
    """Nothing hidden can be worked out from the line alone: a hidden total has a hidden part;
    a lone hidden part is 0 or at least k (zeros are hidden too, so 0 tells nobody anything).
    Several hidden parts are checked by the linear-programming attacker
    (``tests/analysis/test_disclosure_lp.py``): their ranges are not in this line's text."""
    hidden = [p for p in line.parts if p is None]
    if line.total is None:
        assert hidden, line
        return
    rest = line.total - sum(p for p in line.parts if p is not None)
    if not hidden:
        assert rest == 0, line
    elif len(hidden) == 1:
        assert rest == 0 or rest >= k, line


def _page_lines(html: str, caption: str) -> list[Line]:
    [rows] = _tables(html, caption)
    return [Line(f"{caption}: {row[0]}", _number(row[1]), [_number(c) for c in row[2:]])
            for row in rows[1:]]


# --- ingest -----------------------------------------------------------------------------------


def _stored_comments(database: Database, settings: Settings) -> dict[str, tuple[str, float | None]]:
    """Each comment's text (decrypted here, for the test) -> its stored themes and tone."""
    key = analysis_key(database, settings)
    with database.session() as db:
        found = {}
        for wave in db.scalars(select(SurveyWave)):
            for response in settled_responses(db, settings, wave):
                for c in response.comments:
                    found[services.comment_text(c, key)] = (" ".join(c.themes), c.tone)
        return found


def test_ingest_stores_theme_ids_and_tone_never_the_words(database, settings, survey_id) -> None:
    # Given comments imported from a CSV, and one submitted through the survey
    advertised = "Posts are filled without being advertised, the job was earmarked for someone."
    with database.session() as db:
        survey = services.find_survey(db, survey_id)
        wave = services.open_wave(db, wave_=services.wave(db, survey, "W3"), open_link=True,
                                  actor="test")
        services.submit_response(db, wave_=wave, code=None, settings=settings,
                                 answers={"fairer_progression": advertised})
    # Then each is stored with its theme ids and its tone to one decimal
    stored = _stored_comments(database, settings)
    assert len(stored) == 6  # distinct texts: 2 nepotism, racism, rare phrase, bullying, roles
    assert stored[advertised][0] == "roles_not_advertised"
    for text, (ids, tone) in stored.items():
        assert tone is not None and round(tone, 1) == tone, text
        assert all(i in THEME_IDS for i in ids.split()), ids
    # "racist remarks about my accent from my manager": racist harassment by a manager is both
    # themes (as "People mock my accent" is in tests/data/themes_labelled.csv).
    ids_stored = {ids for ids, _ in stored.values()}
    assert {"roles_not_advertised", "nepotism_favouritism", f"{RACISM} {BULLYING}", ""} \
        <= ids_stored
    # Each comment is stored with exactly the themes the engine gives it (the bullying comment
    # also gets fear of speaking up from the model retrained on real text: a false alarm of the
    # kind the real-text evaluation counts, not a storage matter).
    with database.session() as db:
        engine = theme_engine(db, settings)
        for text, (ids, _tone) in stored.items():
            assert ids == " ".join(hit.theme for hit in engine.tag(text).themes), text
    assert any(BULLYING in ids.split() for ids in ids_stored)
    # ... and a copy of the database holds neither the ids nor the words that matched
    raw = _raw_copy(database, settings)
    # (theme ids are sealed with the rest of the response now)
    assert b"nepotism_favouritism" not in raw and b"roles_not_advertised" not in raw
    for evidence in (b"golfing buddies", b"who you know", b"earmarked", b"without being advertised",
                     b"accent", b"belittled", PHRASE.encode()):
        assert evidence not in raw, evidence


def test_tagging_never_makes_a_submission_fail(database, settings, survey_id,
                                               monkeypatch) -> None:
    def broken(*_args: object) -> None:
        raise RuntimeError("engine down")

    monkeypatch.setattr(services, "theme_engine", broken)
    with database.session() as db:
        survey = services.find_survey(db, survey_id)
        wave = services.open_wave(db, wave_=services.wave(db, survey, "W3"), open_link=True,
                                  actor="test")
        services.submit_response(db, wave_=wave, code=None, settings=settings,
                                 answers={"fairer_progression": "I was bullied by my manager."})
    assert _stored_comments(database, settings)["I was bullied by my manager."] == ("", None)


# --- concerns: counts and trends ----------------------------------------------------------------

SNAPSHOT = f"Number of concerns mentioning each theme, quarter {Q2}"
RACISM_LABEL = "Racial discrimination"


def _trend_caption(grain: str, label: str = RACISM_LABEL) -> str:
    return f"{label}: number of concerns by {grain}"


def _csv_lines(rows: list[dict[str, str]], unit: str = "concerns") -> list[Line]:
    tables: dict[tuple[str, str, str], list[dict[str, str]]] = {}
    for row in rows:
        tables.setdefault((row["table"], row["period"], row["theme"]), []).append(row)
    lines = []
    for key, cells in tables.items():
        total = next(c for c in cells if c["group"] == "Everyone")
        lines.append(Line(str(key), _number(total[unit]),
                          [_number(c[unit]) for c in cells if c["group"] != "Everyone"]))
    return lines


@pytest.mark.parametrize("grain", ["quarter", "month"])
def test_a_small_group_of_concerns_never_shows_as_a_figure(edi, concerns, grain) -> None:
    html = _get(edi, f"?by=site&quarter={Q2}&grain={grain}")
    # The quarter's table by site: mental health's 3 are hidden, and so is another site, so
    # that the total minus the shown sites does not give them.
    [rows] = _tables(html, SNAPSHOT)
    assert rows[0] == ["Theme", "Everyone", "Main hospital", "Community services",
                       "Mental health services"]
    racism = next(row for row in rows if row[0] == RACISM_LABEL)
    assert racism[1] == "33"
    assert racism[4] == "Fewer than 11"
    assert sum(_number(c) is None for c in racism[2:]) >= 2
    lines = _page_lines(html, SNAPSHOT)
    for line in lines:
        _assert_safe(line)
    # Every row of every trend table (each period by site) is safe too
    trend = _page_lines(html, _trend_caption(grain))
    assert len(trend) == (2 if grain == "quarter" else 5)  # nothing before the first concern
    for line in trend:
        _assert_safe(line)
    # ... and so is the CSV, which holds the same figures
    rows_csv = _csv(edi, f"?by=site&quarter={Q2}&grain={grain}")
    for line in _csv_lines(rows_csv):
        _assert_safe(line)
    # In words: the theme's and the site's labels, the month's name
    small = [r for r in rows_csv if r["theme"] == RACISM_LABEL
             and r["group"] == "Mental health services" and r["period"] in (Q2, "July 2024")]
    assert small and all(r["concerns"] == "" and r["suppressed"] == "true" for r in small)
    # No chart draws a number for mental health services
    for svg in _svgs(html):
        texts = [t.text for t in svg.iter(f"{SVG}text")]
        for i, text in enumerate(texts):
            if text == "Mental health services" and i + 1 < len(texts):
                assert texts[i + 1] in ("hidden", "0 concerns", RACISM_LABEL) or \
                    not re.search(r"\d", texts[i + 1]), texts


def test_months_and_quarters_cannot_be_subtracted_from_each_other(edi, concerns) -> None:
    by_quarter = _page_lines(_get(edi, f"?by=site&quarter={Q2}&grain=quarter"),
                             _trend_caption("quarter"))
    by_month = _page_lines(_get(edi, f"?by=site&quarter={Q2}&grain=month"),
                           _trend_caption("month"))[2:]
    [quarter] = [line for line in by_quarter if line.where.endswith(Q2)]
    assert [line.where.rsplit(": ", 1)[1] for line in by_month] == [
        "July 2024", "August 2024", "September 2024"]
    for column in range(3):  # each site: its quarter against its three months
        _assert_safe(Line(f"site {column}", quarter.parts[column],
                          [month.parts[column] for month in by_month]))
    _assert_safe(Line("everyone", quarter.total, [month.total for month in by_month]))


def test_removed_themes_do_not_count_and_current_quarter_waits(edi, edi_staff, concerns,
                                                               database, settings) -> None:
    html = _get(edi, f"?quarter={Q1}")
    [rows] = _tables(html, f"Number of concerns mentioning each theme, quarter {Q1}")
    assert ["Bullying and harassment", "12"] in rows  # 15 minus the 3 a guardian removed
    assert [RACISM_LABEL, "0"] in rows
    # A concern in the quarter still under way is not counted until the quarter ends.
    key = analysis_key(database, settings, edi_staff)
    with database.session() as db:
        facts = analytics.current_facts(db, analysis_private=key, settings=settings)
        assert themes.concern_quarters(facts, on=date(2024, 9, 30)) == [Q1]
        summary = themes.concern_summary(db, settings=settings, facts=facts,
                                         on=date(2024, 9, 30))
    assert summary.period == Q1
    assert all(row.period != Q2 for s in summary.sections for row in s.trend)


def test_no_figures_before_a_quarter_has_ended(edi, database, settings) -> None:
    html = _get(edi)
    assert "a quarter&#39;s concerns are summarised once the quarter has ended" in html
    assert "Print this summary" not in html


# --- tone, phrases, quotes ------------------------------------------------------------------------


def test_tone_by_theme_is_shown_through_disclosure(edi, concerns) -> None:
    html = _get(edi, f"?quarter={Q2}")
    [rows] = _tables(html, f"Tone of the concerns mentioning each theme, quarter {Q2}")
    assert rows[0] == ["Theme", "Concerns", "Negative", "Neutral", "Positive"]
    racism = next(row for row in rows if row[0] == RACISM_LABEL)
    # 33 concerns: 8 of main's 15 positive (0.3), the other 25 negative (-0.5)
    assert racism == [RACISM_LABEL, "33", "25 (76%)", "0 (0%)", "8 (24%)"]
    assert next(row for row in rows if row[0] == "Bullying and harassment")[2] == "Not mentioned"
    tone = next(svg for svg in _svgs(html) if svg.get("id") == "tone-chart")
    assert "Tone" in tone.find(f"{SVG}title").text


def test_quotes_need_consent_a_large_enough_group_and_are_redacted(edi, concerns) -> None:
    for query in (f"?quarter={Q2}", f"?quarter={Q2}&by=site", f"?quarter={Q2}&grain=month"):
        html = _get(edi, query)
        quotes = re.findall(r'<blockquote class="speakup-quote">\s*<p>(.*?)</p>', html, re.S)
        assert 1 <= len(quotes) <= 3
        # Highest score first: the one naming names, with every detail redacted
        assert quotes[0].startswith("Dr [NAME] made racist remarks about my accent on [WARD]")
        body = html[html.index('id="themes-counts"'):]  # not the header's sign-out token
        for detail in ("Okafor", "7B", "bed 4", "March", "07700", "jo.bloggs", "12345678"):
            assert detail not in body, detail
        for marker in ("[BED]", "[DATE]", "[PHONE]", "[EMAIL]", "[STAFF NUMBER]"):
            assert marker in quotes[0]
        # Never from the small group (even though its scores are highest), nor without consent
        assert SMALL_MARK not in html
        assert NO_CONSENT_MARK not in html
        # The same quotes whatever the breakdown: comparing views ties no quote to a group
        if query == f"?quarter={Q2}":
            first = quotes
        assert quotes == first
    # Q1: 12 concerns about bullying (all consented): quotes, but never from the three whose
    # theme a guardian removed
    quotes = re.findall(r'<blockquote class="speakup-quote">\s*<p>(.*?)</p>',
                        _get(edi, f"?quarter={Q1}"), re.S)
    assert len(quotes) == 3
    numbers = {int(q.rsplit(" ", 1)[1].rstrip(".")) for q in quotes}
    assert numbers <= set(range(12)), quotes


def test_emerging_phrases_need_k_concerns(edi, concerns) -> None:
    html = _get(edi, f"?quarter={Q2}")
    section = html[html.index('id="themes-phrases"'):html.index('id="themes-quotes"')]
    assert PHRASE in section  # in 28 consented extracts
    assert RARE_PHRASE not in section  # in 3
    assert not re.search(r"<li>[^<]*\d", section)  # phrases come without counts


# --- surveys --------------------------------------------------------------------------------------


def test_survey_summary_counts_tone_quotes_and_phrases(edi, survey_id) -> None:
    html = _get(edi, f"?source=survey-{survey_id}&wave=W1&by=band")
    [rows] = _tables(html, "Number of people mentioning each theme, wave W1")
    # Columns: every band with a themed comment in any closed wave (band 6 only in W2)
    assert rows[0] == ["Theme", "Everyone", "Band 5", "Band 6", "Band 9"]
    # An empty group is shown like a small one (zeros are not released), except a theme nobody
    # mentioned at all in the wave, which says 0 throughout.
    assert ["Nepotism and favouritism", "30", "30", "Fewer than 11", "Fewer than 11"] in rows
    racism = next(row for row in rows if row[0] == RACISM_LABEL)
    assert racism[1:] == ["Fewer than 11"] * 4
    for line in _page_lines(html, "Number of people mentioning each theme, wave W1"):
        _assert_safe(line)
    trend = _page_lines(html, "Nepotism and favouritism: number of people by wave")
    assert [line.where.rsplit(": ", 1)[1] for line in trend] == ["W1", "W2"]
    # Tone: 30 people on nepotism, all negative: the distribution is hidden (without saying
    # why in a way that would tell: "all in one tone group" is the secret itself)
    [tone] = _tables(html, "Tone of the people mentioning each theme, wave W1")
    assert next(row for row in tone if row[0] == "Nepotism and favouritism")[2] == (
        "Hidden so that another hidden group cannot be worked out")
    # Quotes: redacted, only from the 30, never from the three in band 9
    quotes = re.findall(r'<blockquote class="speakup-quote">\s*<p>(.*?)</p>', html, re.S)
    assert len(quotes) == 2  # two distinct comments among the 30
    assert any("Dr [NAME]" in q and "[EMAIL]" in q and "[WARD]" in q for q in quotes)
    body = html[html.index('id="themes-counts"'):]
    for detail in ("Jones", "jane.smith", "900456", SMALL_MARK):
        assert detail not in body
    section = html[html.index('id="themes-phrases"'):html.index('id="themes-quotes"')]
    assert PHRASE in section and RARE_PHRASE not in section
    assert "front of colleagues" not in section  # W2's phrase: another wave
    csv_rows = _csv(edi, f"?source=survey-{survey_id}&wave=W1&by=band")
    assert {r["source"] for r in csv_rows} == {"Equality pulse"}
    assert {r["breakdown"] for r in csv_rows} == {"", "Pay band"}
    for line in _csv_lines(csv_rows, "people"):
        _assert_safe(line)
    band9 = [r for r in csv_rows if r["group"] == "Band 9" and r["theme"] == RACISM_LABEL
             and r["period"] == "W1"]
    assert band9 and all(r["people"] == "" for r in band9)


def test_print_and_csv_are_offered(edi, concerns) -> None:
    html = _get(edi, f"?quarter={Q2}&by=ethnic_group")
    assert "data-print hidden" in html and "Print this summary" in html
    assert re.search(r'href="/staff/themes/summary.csv\?[^"]*by=ethnic_group', html)
    response = edi.get(f"/staff/themes/summary.csv?quarter={Q2}&by=ethnic_group")
    assert "attachment" in response.headers["Content-Disposition"]
    assert b"Racist" not in response.data and b"car park" not in response.data


@pytest.mark.parametrize("query", [
    "?source=nothing", "?grain=week", "?by=band", "?quarter=1999/00 Q1",
    "?source=survey-999", "?source=survey-abc", "?by=site&source=survey-{survey}",
    "?source=survey-{survey}&wave=W9",
])
def test_bad_parameters_are_a_400_with_a_message(edi, survey_id, query) -> None:
    html = _get(edi, query.format(survey=survey_id), status=400)
    assert "There is a problem" in html
    assert edi.get(f"/staff/themes/summary.csv{query.format(survey=survey_id)}"
                   ).status_code == 400


def test_switching_source_reports_only_what_the_new_source_lacks(edi, survey_id) -> None:
    # The concerns' quarter and grain go with the form; a survey has neither, so they are
    # ignored, while a breakdown only concerns have is an error.
    html = _get(edi, f"?source=survey-{survey_id}&by=site&quarter={Q2}&grain=month", status=400)
    summary = html[html.index("nhsuk-error-summary"):html.index("</h1>")]
    assert summary.count("<li>") == 1
    assert "Choose a breakdown from the list: each source has its own." in summary
    assert '<select class="nhsuk-select" id="wave" name="wave"' in html
    assert 'name="quarter"' not in html and 'name="grain"' not in html


def test_only_edi_leads_see_summaries(app, database, settings, guardian, concerns,
                                      survey_id) -> None:
    anonymous = app.test_client()
    response = anonymous.get("/staff/themes/")
    assert (response.status_code, response.location) == (
        302, "/staff/login?next=/staff/themes/")
    staff = app.test_client()
    login(staff, guardian)
    for path in ("/staff/themes/", f"/staff/themes/?source=survey-{survey_id}",
                 "/staff/themes/summary.csv"):
        assert staff.get(path).status_code == 403
    edi = app.test_client()
    login(edi, make_staff(database, settings, "Eve Edi", role="edi"))
    page = edi.get("/staff/themes/").data.decode()
    # The header links to the page, marked as the current one.
    assert ('<a class="nhsuk-header__navigation-link" href="/staff/themes/" aria-current="page">'
            '<strong class="nhsuk-header__navigation-item-current-fallback">Themes</strong>') in page
