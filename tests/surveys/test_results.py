"""Survey results end to end: the CLI contract, suppression, waves, WRES indicators."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from surveys import definition as definitions
from surveys import results, services
from tests.surveys.conftest import population_csv


@pytest.fixture
def imported(app, tmp_path: Path) -> Path:
    definition = tmp_path / "d.toml"
    definition.write_text(definitions.template_text("equality-pulse"))
    responses = tmp_path / "r.csv"
    responses.write_text(population_csv())
    result = app.test_cli_runner().invoke(args=["survey", "import", str(definition),
                                                str(responses)])
    assert result.exit_code == 0, result.output
    return tmp_path


def _results(app, *args: str) -> dict:
    result = app.test_cli_runner().invoke(args=["survey", "results", "equality-pulse", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_json_contract_and_no_small_cell(app, imported) -> None:
    payload = _results(app, "--by", "band", "--wave", "W1")
    assert payload["k"] == 11
    assert {"group", "question", "n", "suppressed"} <= set(payload["cells"][0])
    by_question = {c["question"] for c in payload["cells"]}
    assert "roles_fair" in by_question and "fairer_progression" not in by_question
    for cell in payload["cells"]:
        assert isinstance(cell["group"], dict)
        if cell["suppressed"]:
            assert cell["n"] is None and cell["counts"] is None
            assert cell["why"]
        else:  # zeros are not released either, but for a question nobody answered at all
            total = next(c for c in payload["cells"]
                         if c["question"] == cell["question"] and c["group"] == {})
            assert cell["n"] >= 11 or cell["n"] == total["n"] == 0
    band9 = [c for c in payload["cells"] if c["group"] == {"band": "9"}]
    # Band 9 is "fewer than 11", except in questions nobody answered in W1 ("no answers").
    assert band9 and all(c["shown_as"] in ("fewer than 11", "0") for c in band9)
    assert any(c["shown_as"] == "fewer than 11" and c["suppressed"] for c in band9)
    # Every category is listed, empty or not, so absence says nothing.
    bands = {c["group"]["band"] for c in payload["cells"] if "band" in c["group"]}
    assert {"1", "2", "8a", "8d", "9", "vsm", "unknown"} <= bands


def test_two_dimensions_filter_and_csv(app, imported) -> None:
    payload = _results(app, "--by", "ethnic_group,band", "--question", "roles_fair",
                       "--wave", "W2")
    assert payload["where"] == {"wave": "W2"}
    assert all(c["question"] == "roles_fair" for c in payload["cells"])
    detailed = _results(app, "--by", "ethnicity,directorate", "--question", "roles_fair",
                        "--wave", "W2")
    assert {c["group"].get("ethnicity") for c in detailed["cells"]} >= {
        "asian", "black", "mixed", "white", "other", "unknown"}
    # Two things that are not ethnicity (here a filter and a breakdown) are not offered.
    refused = app.test_cli_runner().invoke(args=[
        "survey", "results", "equality-pulse", "--by", "band", "--where", "directorate=medicine",
        "--wave", "W2"])
    assert refused.exit_code != 0 and "only when one of them is" in refused.output
    result = app.test_cli_runner().invoke(args=[
        "survey", "results", "equality-pulse", "--by", "band", "--format", "csv",
        "--question", "roles_fair", "--wave", "W1"])
    assert result.output.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(result.output.removeprefix("\ufeff"))))
    assert rows[0]["Question"] == "Roles here are advertised and filled fairly."
    assert "Agree" in rows[0] and "agree" not in rows[0]
    # A hidden count says only "fewer than 11", a range, or "hidden": never a number alone.
    assert all(not r["Respondents"].isdigit() for r in rows if r["Figures hidden"] == "Yes")


def test_trend_by_wave_and_bad_queries(app, imported) -> None:
    payload = _results(app, "--by", "wave", "--question", "roles_fair")
    assert {c["group"].get("wave") for c in payload["cells"] if c["group"]} == {"W1", "W2"}
    runner = app.test_cli_runner()
    for args, message in [
        (["--by", "shoe_size"], "unknown dimension"),
        (["--by", "band,sex,age_band"], "at most two"),
        (["--question", "nope"], "no question"),
        (["--where", "directorate"], "DIM=VALUE"),
    ]:
        result = runner.invoke(args=["survey", "results", "equality-pulse", *args])
        assert result.exit_code != 0 and message in result.output, result.output
    missing = runner.invoke(args=["survey", "results", "no-such-survey"])
    assert missing.exit_code != 0 and "No survey" in missing.output


def test_open_wave_has_no_results(db, settings) -> None:
    survey = services.save_survey(db, definition_text=definitions.template_text(
        "equality-pulse"), settings=settings, actor="t")
    services.open_wave(db, wave_=services.wave(db, survey, "Live"), open_link=True, actor="t")
    with pytest.raises(results.ResultsError, match="closed"):
        results.question_results(db, survey=survey, settings=settings, by=["band"], where={})


def test_wres_indicators_compare_white_and_global_majority(app, imported, database,
                                                           settings) -> None:
    with database.session() as db:
        survey = services.find_survey(db, "equality-pulse")
        indicators = results.wres_indicators(db, survey=survey, settings=settings,
                                             wave_label="W1")
    numbers = [i.number for i in indicators]
    assert numbers == [5, 6, 7, 8]  # indicator 6: one figure per person from two questions
    six = next(i for i in indicators if i.number == 6)
    assert len(six.questions) == 2
    seven = next(i for i in indicators if i.number == 7)
    for side in (seven.white, seven.global_majority):
        assert side.n is not None and side.n >= 11
        assert side.percent is not None and side.interval is not None
        low, high = side.interval
        assert 0 <= low <= side.percent <= high <= 100
    assert seven.ratio is not None
    assert seven.ratio.low <= seven.ratio.ratio <= seven.ratio.high
    expected = seven.global_majority.percent / seven.white.percent
    assert seven.ratio.ratio == pytest.approx(expected)


def test_wave_sizes_go_through_disclosure_control(db, settings) -> None:
    survey = services.save_survey(db, definition_text=definitions.template_text(
        "equality-pulse"), settings=settings, actor="t")
    rows = "wave,roles_fair\n" + "Big,agree\n" * 40 + "Tiny,agree\n" * 4 + "Mid,agree\n" * 30
    services.import_responses(db, survey=survey, csv_text=rows, wave_label="X",
                              settings=settings, actor="t")
    sizes = {w.label: n for w, n in zip(survey.waves, results.wave_sizes(
        db, survey=survey, settings=settings).values(), strict=True)}
    # Each closed wave is released on its own: a small wave is hidden, and it never hides
    # another (no total over waves is shown, so there is nothing to subtract it from).
    assert sizes == {"Big": 40, "Tiny": None, "Mid": 30}
