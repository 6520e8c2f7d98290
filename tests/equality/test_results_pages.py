"""The survey results pages as an EDI lead sees them: only figures disclosure control released.

The figures on the page are checked against the CLI's JSON for the same query (both come from
`surveys.results.question_results`), and a deliberately small group (three band 9 staff, wave
W1) must never show a number, in a table, a chart or the CSV.
"""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from analysis.disclosure import DisclosureError
from core.db import Database
from surveys import definition as definitions
from surveys import results, services
from tests.conftest import login, make_staff
from tests.surveys.conftest import import_equality_pulse, population_csv

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def survey_id(app: Flask, database: Database, tmp_path: Path) -> int:
    """The equality pulse with 303 imported responses in waves W1 and W2 (both closed)."""
    return import_equality_pulse(app, database, tmp_path, population_csv())


def _cli(app: Flask, *args: str) -> dict:
    result = app.test_cli_runner().invoke(args=["survey", "results", "equality-pulse", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _get(client: FlaskClient, survey_id: int, query: str = "", status: int = 200) -> str:
    response = client.get(f"/staff/surveys/{survey_id}/results{query}")
    html = response.data.decode()
    assert response.status_code == status, html[:3000]
    return html


class _Tables(HTMLParser):
    """Every <table>: its caption and rows of cell texts (the stacked-layout headings left out)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[tuple[str, list[list[str]]]] = []
        self._text: list[str] | None = None
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if self._skip or "nhsuk-table__heading" in classes:
            self._skip += tag == "span"
        elif tag == "table":
            self.tables.append(("", []))
        elif tag == "tr":
            self.tables[-1][1].append([])
        elif tag in ("th", "td", "caption"):
            self._text = []

    def handle_endtag(self, tag: str) -> None:
        if self._skip:
            self._skip -= tag == "span"
        elif tag in ("th", "td") and self._text is not None:
            self.tables[-1][1][-1].append(" ".join("".join(self._text).split()))
            self._text = None
        elif tag == "caption" and self._text is not None:
            caption = " ".join("".join(self._text).split())
            self.tables[-1] = (caption, self.tables[-1][1])
            self._text = None

    def handle_data(self, data: str) -> None:
        if self._text is not None and not self._skip:
            self._text.append(data)


def _tables(html: str, caption: str) -> list[list[list[str]]]:
    parser = _Tables()
    parser.feed(html)
    return [rows for cap, rows in parser.tables if cap == caption]


def _svgs(html: str) -> list[ET.Element]:
    """Every chart on the page, parsed as XML (which fails if any is not well formed)."""
    found = re.findall(r"<svg xmlns=.*?</svg>", html, re.S)
    return [ET.fromstring(svg) for svg in found]  # noqa: S314 (our own output)


def _band(label: str) -> str:
    """The band code of a row label ("Band 5" is "5", "Very senior manager" is "vsm")."""
    codes = {text: code for code, text in definitions.BANDS}
    codes["Not known or prefer not to say"] = "unknown"
    return codes.get(label, label.removeprefix("Band "))


def _shown(cell: dict, k: int = 11) -> tuple[str, str]:
    """The respondents and favourable texts the page must show for a released cell."""
    if cell["suppressed"]:
        return cell["shown_as"][:1].upper() + cell["shown_as"][1:], cell["why"]
    if cell["counts"] is None and cell["n"]:
        return f"{cell['n']:,}", cell["why"]
    if cell["favourable_pct"] is None:
        return f"{cell['n']:,}", "No answers"
    return f"{cell['n']:,}", f"{cell['favourable_pct']:.1f}%"


# --- what the page shows ---------------------------------------------------------------------


def test_no_breakdown_shows_every_question_with_released_figures(app, edi, survey_id) -> None:
    html = _get(edi, survey_id, "?wave=W1")
    payload = _cli(app, "--wave", "W1")
    questions = [q for q in definitions.parse_definition(
        definitions.template_text("equality-pulse")).questions if not q.is_text]
    totals = {c["question"]: c for c in payload["cells"] if c["group"] == {}}
    for question in questions:
        assert f">{question.text}</h2>" in html
    # Only three questions are in the imported CSV: the others say nobody answered them.
    answered = [q for q in questions if totals[q.id]["n"]]
    assert len(answered) == 3
    assert html.count("<p>Nobody answered this question in wave W1.</p>") == len(questions) - 3
    tables = _tables(html, "Favourable answers")
    for question, rows in zip(answered, tables, strict=True):
        n, favourable = _shown(totals[question.id])
        assert rows[1][:2] == ["Everyone", n]
        assert rows[1][2].startswith(favourable)
    assert "fairer_progression" not in html  # free text is never a chart
    svgs = _svgs(html)
    assert len(svgs) >= 2 * len(answered)
    for svg in svgs:
        assert svg.get("role") == "img"
        labelled = (svg.get("aria-labelledby") or "").split()
        assert [f"{svg.get('id')}-title", f"{svg.get('id')}-desc"] == labelled
        assert svg.find(f"{SVG}title") is not None and svg.find(f"{SVG}desc") is not None
        assert not [e for e in svg.iter() if "style" in e.attrib]


def test_breakdown_by_band_matches_the_release_and_hides_band_9(app, edi, survey_id) -> None:
    html = _get(edi, survey_id, "?by=band&wave=W1")
    payload = _cli(app, "--by", "band", "--wave", "W1")
    tables = _tables(html, "Favourable answers")
    questions = [c["question"] for c in payload["cells"] if c["group"] == {} and c["n"]]
    for question, rows in zip(questions, tables, strict=True):
        cells = {c["group"].get("band", ""): c for c in payload["cells"]
                 if c["question"] == question}
        for label, n, favourable in rows[1:]:
            band = "" if label == "Everyone" else _band(label)
            expected_n, expected_favourable = _shown(cells[band])
            assert (n, favourable[:len(expected_favourable)]) == (expected_n,
                                                                  expected_favourable)
        band9 = next(row for row in rows if row[0] == "Band 9")
        assert band9[1] == "Fewer than 11"
        assert band9[2].startswith("Fewer than 11 people: too few to show safely")
    # Nowhere on the page does band 9 come with a number: not in any table, nor any chart.
    for caption in ("Favourable answers", "Number giving each answer (and share of the group)"):
        for rows in _tables(html, caption):
            band9 = " ".join(next((row for row in rows if row[0] == "Band 9"), []))
            assert not re.search(r"\d", band9.replace("Band 9", "").replace("11", "")), band9
    for svg in _svgs(html):
        texts = [t.text for t in svg.iter(f"{SVG}text")]
        if "Band 9" in texts:
            assert texts[texts.index("Band 9") + 1] == "hidden", texts


def test_two_breakdowns_make_a_table_of_both(app, edi, survey_id) -> None:
    query = "?question=roles_fair&by=band&by2=ethnic_group&wave=W1"
    html = _get(edi, survey_id, query)
    payload = _cli(app, "--by", "band,ethnic_group", "--question", "roles_fair", "--wave", "W1")
    [rows] = _tables(html, "Favourable answers (percentage and number of respondents)")
    assert rows[0] == ["Pay band", "All", "White", "Global majority",
                       "Not known or prefer not to say"]
    # Every band is listed, whether or not anyone in it answered: an empty band looks like a
    # small one.
    assert [row[0] for row in rows[1:]][:2] == ["Everyone", "Band 1"]
    assert {"Band 5", "Band 8a", "Band 9"} <= {row[0] for row in rows} and len(rows) > 10
    groups = ["white", "global-majority", "unknown"]
    for row in rows[2:]:
        band = _band(row[0])
        for group, text in zip(groups, row[2:], strict=True):
            cell = next(c for c in payload["cells"]
                        if c["group"] == {"band": band, "ethnic_group": group})
            n, favourable = _shown(cell)
            if favourable == "No answers":
                assert text == favourable
            elif favourable.endswith("%"):
                assert text == f"{favourable} (n = {n})"
            else:
                assert text.startswith(n if cell["suppressed"] else f"{n} people"), text
    band9 = " ".join(next(row for row in rows if row[0] == "Band 9"))
    assert not re.search(r"\d", band9.replace("Band 9", "").replace("11", "")), band9


def test_directorate_filter(app, edi, survey_id) -> None:
    html = _get(edi, survey_id,
                "?question=roles_fair&by=ethnic_group&directorate=medicine&wave=W2")
    payload = _cli(app, "--by", "ethnic_group", "--question", "roles_fair", "--where",
                   "directorate=medicine", "--wave", "W2")
    assert "Medicine" in html
    [rows] = _tables(html, "Favourable answers")
    total = next(c for c in payload["cells"] if c["group"] == {})
    assert rows[1][:2] == ["Everyone", _shown(total)[0]]
    assert 'in Medicine, wave W2' in html  # the chart's title says what it covers


def test_trend_across_waves(app, edi, survey_id) -> None:
    html = _get(edi, survey_id, "?question=roles_fair&wave=trend")
    payload = _cli(app, "--by", "wave", "--question", "roles_fair")
    assert 'id="q1-trend"' in html
    [rows] = _tables(html, "Favourable answers in each wave")
    assert [row[0] for row in rows[1:]] == ["All waves together", "W1", "W2"]
    for row in rows[2:]:
        cell = next(c for c in payload["cells"] if c["group"] == {"wave": row[0]})
        assert row[1:] == list(_shown(cell))
    [trend] = [s for s in _svgs(html) if s.get("id") == "q1-trend"]
    texts = [t.text for t in trend.iter(f"{SVG}text")]
    assert {"W1", "W2"} <= set(texts)
    by_band = _get(edi, survey_id, "?question=roles_fair&wave=trend&by=band")
    [rows] = _tables(by_band, "Favourable answers (percentage and number of respondents)")
    assert rows[0] == ["Pay band", "All waves", "W1", "W2"]


def test_wres_panel(app, edi, survey_id, database, settings) -> None:
    html = _get(edi, survey_id, "?question=roles_fair&wave=W1")
    with database.session() as db:
        survey = services.find_survey(db, "equality-pulse")
        indicators = results.wres_indicators(db, survey=survey, settings=settings,
                                             wave_label="W1")
    assert "Workforce Race Equality Standard indicators" in html
    seven = next(i for i in indicators if i.number == 7)
    assert seven.ratio is not None
    assert f"Ratio, Global majority to White: {seven.ratio.ratio:.2f}" in html
    [rows] = _tables(html, "Indicator 7: percentage and 95% interval")
    low, high = seven.white.interval or (0, 0)
    assert rows[1] == ["White", f"{seven.white.percent:.1f}%", f"{low:.1f}% to {high:.1f}%",
                       str(seven.white.n)]
    assert 'id="wres4"' in html  # a dot-and-whisker chart per indicator
    # An indicator with a hidden side says so, and shows no ratio.
    assert "The ratio is not shown" in html


def _csv_rows(data: bytes) -> list[dict[str, str]]:
    text = data.decode("utf-8")
    assert text.startswith("\ufeff")  # Excel reads it as UTF-8
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


def test_csv_download_is_the_released_table(app, edi, survey_id) -> None:
    response = edi.get(f"/staff/surveys/{survey_id}/results.csv?by=band&wave=W1")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="equality-pulse-results.csv"')
    cli = app.test_cli_runner().invoke(args=[
        "survey", "results", "equality-pulse", "--by", "band", "--wave", "W1", "--format", "csv"])
    assert response.data.decode().replace("\r\n", "\n") == cli.output
    rows = _csv_rows(response.data)
    band9 = [r for r in rows if r["Pay band"] == "Band 9"]
    # Band 9 is "fewer than 11", except in questions nobody answered in W1 (0 there).
    assert band9 and all((r["Respondents"], r["Figures hidden"]) in {
        ("fewer than 11", "Yes"), ("0", "No")} for r in band9)
    assert any(r["Respondents"] == "fewer than 11" for r in band9)
    assert "fairer_progression" not in response.data.decode()


def test_csv_reads_in_words_with_each_scale_in_order(edi, survey_id) -> None:
    """Plain headers and labels (never codes); answers in each scale's order; a row whose
    figures are not hidden has every value and no reason, a hidden one has a reason."""
    rows = _csv_rows(edi.get(f"/staff/surveys/{survey_id}/results.csv?by=ethnic_group&wave=W1")
                     .data)
    header = list(rows[0])
    assert header[:7] == ["Question", "Wave", "White / Global majority", "Respondents",
                          "Figures hidden", "Why hidden", "Favourable answers (%)"]
    answers = header[7:]
    frequency = [label for _, label in definitions.FREQUENCY]
    agreement = [label for _, label in definitions.AGREEMENT]
    for scale in (frequency, agreement, ["Yes", "No", "Don't know"]):
        positions = [answers.index(label) for label in scale]
        assert positions == sorted(positions), scale
    assert sorted(answers) != answers  # not alphabetical across scales
    assert {r["White / Global majority"] for r in rows} == {
        "All", "White", "Global majority", "Not known or prefer not to say"}
    assert {r["Wave"] for r in rows} == {"W1"}
    assert "Roles here are advertised and filled fairly." in {r["Question"] for r in rows}
    shown = [r for r in rows if r["Figures hidden"] == "No"]
    assert shown
    for row in shown:
        assert row["Why hidden"] == "" and row["Respondents"].replace(",", "").isdigit()
        question = next(q for q in definitions.load_template("equality-pulse").questions
                        if q.text == row["Question"])
        values = [row[label] for _, label in question.options]
        assert all(v.isdigit() for v in values), row
        assert sum(map(int, values)) >= int(row["Respondents"].replace(",", ""))
    for row in rows:
        if row["Figures hidden"] != "No":
            assert row["Why hidden"].startswith(("Fewer than", "Answers hidden", "Shown as a range",
                                                 "Hidden"))
            assert all(row[a] == "" for a in answers)


def test_survey_page_links_to_results(edi, survey_id) -> None:
    page = edi.get(f"/staff/surveys/{survey_id}").data.decode()
    assert f'href="/staff/surveys/{survey_id}/results"' in page


def test_no_closed_wave_yet(edi, database, settings) -> None:
    with database.session() as db:
        survey = services.save_survey(db, definition_text=definitions.template_text(
            "equality-pulse"), settings=settings, actor="t")
        services.open_wave(db, wave_=services.wave(db, survey, "Live"), open_link=True,
                           actor="t")
        survey_id = survey.id
    html = _get(edi, survey_id)
    assert "There are no results yet" in html
    assert "<svg xmlns" not in html


# --- who may see it, and bad queries ----------------------------------------------------------


def test_guardians_are_refused_and_strangers_sent_to_sign_in(client, database, settings,
                                                             survey_id) -> None:
    for path in (f"/staff/surveys/{survey_id}/results", f"/staff/surveys/{survey_id}/results.csv"):
        anonymous = client.get(path)
        assert anonymous.status_code == 302
        assert "/staff/login" in anonymous.headers["Location"]
    login(client, make_staff(database, settings, "Gina Guardian"))
    for path in (f"/staff/surveys/{survey_id}/results", f"/staff/surveys/{survey_id}/results.csv"):
        assert client.get(path).status_code == 403
    assert client.get("/staff/surveys/999/results").status_code == 403


def test_unknown_survey_is_404(edi) -> None:
    assert edi.get("/staff/surveys/999/results").status_code == 404


@pytest.mark.parametrize(("query", "message"), [
    ("?by=band&by2=band", "Choose two different things to break the results down by."),
    ("?by=shoe_size", "Choose what to break the results down by from the list."),
    ("?by2=shoe_size", "Choose what to break the results down by from the list."),
    ("?question=nope", "Choose a question from the list."),
    ("?wave=W9", "Choose a wave from the list."),
    ("?wave=trend&by=band&by2=sex", "A trend across waves can be broken down by one thing only"),
    ("?directorate=medicine&by=directorate", "You cannot filter by one directorate and break"),
    ("?directorate=atlantis", "Choose a directorate from the list."),
])
def test_bad_queries_are_400_with_a_message(edi, survey_id, query, message) -> None:
    html = _get(edi, survey_id, query, status=400)
    assert "<title>Error: " in html
    summary = html[html.index("nhsuk-error-summary"):html.index("<h1>")]
    assert message in summary
    assert "<svg xmlns" not in html
    csv_response = edi.get(f"/staff/surveys/{survey_id}/results.csv{query}")
    assert csv_response.status_code == 400 and message in csv_response.data.decode()


def test_service_errors_become_form_errors(edi, survey_id, monkeypatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise DisclosureError("this query goes beyond the policy's query space")

    monkeypatch.setattr(results, "question_results", refuse)
    html = _get(edi, survey_id, "?by=band", status=400)
    assert "This query goes beyond the policy&#39;s query space" in html
