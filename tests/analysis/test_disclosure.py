"""Disclosure control rule by rule; the attacker who solves everything is in
``test_disclosure_lp.py``."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from analysis import AnalysisError
from analysis.disclosure import (
    Cell,
    DisclosureError,
    Policy,
    Population,
    Release,
    count_text,
    release,
    why_text,
)

ROOT = Path(__file__).resolve().parents[2]
OPTIONS = ["strongly disagree", "disagree", "neither", "agree", "strongly agree"]
FAVOURABLE = {"agree", "strongly agree"}
DIMS = ["wave", "directorate", "band"]
ETHNIC = ("ethnic_group", "ethnicity", (("asian", "global-majority"), ("black", "global-majority"),
                           ("white", "white")))


def mixed(values: tuple[str | None, ...], n: int) -> list[tuple[Any, ...]]:
    """Atoms for ``n`` respondents with ``values``, split between two answers (never one answer)."""
    if n == 0:
        return []
    if n == 1:
        return [(*values, "agree", 1)]
    return [(*values, "agree", n - n // 2), (*values, "disagree", n // 2)]


def build(groups: Mapping[tuple[str | None, ...], int], dimensions: list[str],
          categories: Mapping[str, list[str]] | None = None) -> Population:
    rows = [row for values, n in groups.items() for row in mixed(values, n)]
    return Population.from_counts(rows, dimensions, categories)


def show(population: Population, by: list[str], where: dict[str, str], policy: Policy) -> Release:
    return release(population, by=by, where=where, policy=policy, options=OPTIONS, favourable=FAVOURABLE)


def test_exactly_k_is_shown() -> None:
    population = build({("w", "A", "5"): 11, ("w", "B", "5"): 30}, DIMS)
    table = show(population, ["directorate"], {"wave": "w"}, Policy(k=11))
    assert [(c.n, c.reason) for c in table.cells] == [(41, None), (11, None), (30, None)]
    assert table.cell({"directorate": "A"}).favourable_pct == pytest.approx(100 * 6 / 11)


def test_small_and_empty_groups_look_the_same() -> None:
    """Rule 1: 0 and 1..k-1 are both "fewer than k"; every category is listed."""
    population = build({("w", "A", "5"): 3, ("w", "B", "5"): 30, ("w", "C", "5"): 30}, DIMS,
                       {"directorate": ["A", "B", "C", "D"]})
    table = show(population, ["directorate"], {"wave": "w"}, Policy(k=11))
    a, d = table.cell({"directorate": "A"}), table.cell({"directorate": "D"})
    assert (a.n, a.low, a.high, a.reason, a.counts) == (None, 0, 10, "below k", None)
    assert (d.n, d.low, d.high, d.reason, d.counts) == (None, 0, 10, "below k", None)
    assert table.cell({"directorate": "unknown"}).low == 0  # "unknown" is always a category
    assert count_text(a, 11) == "fewer than 11"
    assert "does not say anyone is in it" in why_text(a, 11)


def test_a_lone_small_cell_gets_a_neighbour_shown_as_a_range() -> None:
    """Rule 2: total 72, B 30 and C 30 exact would give A + unknown = 12, so A >= 2; one of
    them becomes a range wide enough for A to be empty."""
    population = build({("w", "A", "5"): 3, ("w", None, "5"): 9, ("w", "B", "5"): 30,
                        ("w", "C", "5"): 30}, DIMS, {"directorate": ["A", "B", "C"]})
    table = show(population, ["directorate"], {"wave": "w"}, Policy(k=11))
    b, c = table.cell({"directorate": "B"}), table.cell({"directorate": "C"})
    ranged = [x for x in (b, c, table.cell({})) if x.n is None]
    assert ranged, "nothing protects A"
    for x in ranged:
        assert x.low is not None and x.high is not None and x.low < x.high
        assert count_text(x, 11).startswith("between")
        assert "range" in why_text(x, 11)


def test_two_small_cells_adding_up_to_k_are_protected() -> None:
    """Three "fewer than k" cells (A, B, unknown) that must add up to 27 are each at least 7."""
    population = build({("w", "A", "5"): 9, ("w", "B", "5"): 9, ("w", None, "5"): 9,
                        ("w", "C", "5"): 50}, DIMS,
                       {"directorate": ["A", "B", "C"]})
    table = show(population, ["directorate"], {"wave": "w"}, Policy(k=11))
    assert table.cell({"directorate": "C"}).n is None or table.cell({}).n is None


def test_everyone_giving_one_answer_hides_the_answers_not_n() -> None:
    rows = [("w", "A", "5", "agree", 20), *mixed(("w", "B", "5"), 30)]
    population = Population.from_counts(rows, DIMS)
    a = show(population, ["directorate"], {"wave": "w"}, Policy(k=11)).cell({"directorate": "A"})
    assert (a.n, a.counts, a.favourable_pct, a.reason) == (20, None, None, "complementary")
    assert "same answer" not in why_text(a, 11)  # saying why would tell


def test_everyone_in_the_population_giving_one_answer_hides_it_too() -> None:
    """The only answer anyone gave is still an answer all gave: its count is not shown."""
    population = Population.from_counts([("w", "A", "5", "agree", 30)], DIMS)
    total = show(population, [], {"wave": "w"}, Policy(k=11)).cell({})
    assert (total.n, total.counts) == (30, None)
    counted = show(population, [], {"wave": "w"}, Policy(k=11, counted=True)).cell({})
    assert counted.counts == {**dict.fromkeys(OPTIONS, 0), "agree": 30}  # a constant: no news


def test_answers_that_would_show_a_group_answered_alike_are_hidden() -> None:
    """A is all "agree"; B and the total shown with their answers would give A's away."""
    rows = [("w", "A", "5", "agree", 20), *mixed(("w", "B", "5"), 30)]
    population = Population.from_counts(rows, DIMS)
    table = show(population, ["directorate"], {"wave": "w"}, Policy(k=11))
    assert table.cell({}).counts is None or table.cell({"directorate": "B"}).counts is None


def test_k_is_configurable() -> None:
    population = build({("w", "A", "5"): 10, ("w", "B", "5"): 11, ("w", "C", "5"): 30}, DIMS)
    table = show(population, ["directorate"], {"wave": "w"}, Policy(k=5))
    assert [c.n for c in table.cells] == [51, 10, 11, 30]


def test_two_way_tables_need_the_hub() -> None:
    dims = ["wave", "ethnicity", "directorate", "band"]
    population = build({("w", "white", "X", "5"): 40, ("w", "asian", "Y", "6"): 40}, dims)
    policy = Policy(k=11, hub="ethnicity", groupings=(ETHNIC,))
    table = show(population, ["ethnicity", "band"], {"wave": "w"}, policy)
    assert table.cell({"ethnicity": "white", "band": "5"}).n == 40
    grouped = show(population, ["ethnic_group", "band"], {"wave": "w"}, policy)
    assert grouped.cell({"ethnic_group": "global-majority", "band": "6"}).n == 40
    assert grouped.cell({"ethnic_group": "white"}).n == 40
    with pytest.raises(DisclosureError, match="only when one of them is ethnicity"):
        show(population, ["directorate", "band"], {"wave": "w"}, policy)
    with pytest.raises(DisclosureError):
        show(population, ["ethnicity", "ethnic_group"], {"wave": "w"}, policy)


def test_each_wave_is_decided_on_its_own_and_pooled_figures_are_sums() -> None:
    population = build({("w1", "X", "5"): 12, ("w2", "X", "5"): 14, ("w1", "Y", "5"): 50,
                        ("w2", "Y", "5"): 50}, DIMS)
    policy = Policy(k=11)
    table = show(population, ["wave"], {"directorate": "X"}, policy)
    assert (table.cell({"wave": "w1"}).n, table.cell({"wave": "w2"}).n) == (12, 14)
    assert table.cell({}).n == 26
    before = show(build({("w1", "X", "5"): 12, ("w1", "Y", "5"): 50}, DIMS), ["directorate"],
                  {"wave": "w1"}, policy)
    after = show(population, ["directorate"], {"wave": "w1"}, policy)
    assert before == after  # a later wave never changes a closed one


def test_decision_does_not_depend_on_the_query() -> None:
    dims = ["wave", "ethnicity", "band"]
    population = build({("w", e, b): 30 for e in ("white", "asian") for b in "567"}
                       | {("w", "black", "5"): 3}, dims)
    policy = Policy(k=11, hub="ethnicity")
    wide = show(population, ["ethnicity", "band"], {"wave": "w"}, policy)
    for e in ("white", "asian", "black"):
        narrow = show(population, ["band"], {"wave": "w", "ethnicity": e}, policy)
        for band in "567":
            cell = wide.cell({"ethnicity": e, "band": band})
            assert narrow.cell({"band": band}) == Cell({"band": band}, *_fields(cell))


def _fields(cell: Cell) -> tuple[Any, ...]:
    return (cell.n, cell.suppressed, cell.reason, cell.counts, cell.favourable_pct, cell.low,
            cell.high)


def test_a_saved_decision_is_reused_and_checked() -> None:
    population = build({("w", "A", "5"): 3, ("w", "B", "5"): 30, ("w", "C", "5"): 30}, DIMS)
    policy = Policy(k=11)
    state = population.decision(policy, "w").state()
    assert "30" not in str(state)  # levels and flags only, no counts
    again = build({("w", "A", "5"): 3, ("w", "B", "5"): 30, ("w", "C", "5"): 30}, DIMS)
    again.adopt(policy, "w", state)
    assert show(again, ["directorate"], {"wave": "w"}, policy) == show(
        population, ["directorate"], {"wave": "w"}, policy)
    exposed = {**state, "level": dict.fromkeys(state["level"], 0)}  # type: ignore[arg-type]
    with pytest.raises(DisclosureError, match="no longer passes"):
        again.adopt(policy, "w", exposed)


def test_records_and_counts_build_the_same_population() -> None:
    records: list[tuple[dict[str, str | None], str | None]] = [
        ({"wave": "w", "directorate": "X", "band": None}, "agree"),
        ({"wave": "w", "directorate": "X", "band": "prefer-not"}, "agree"),
        ({"wave": "w", "directorate": "X"}, "disagree"),
        ({"wave": "w", "directorate": "Y", "band": "6"}, None),
    ]
    population = Population.from_records(records, DIMS)
    assert population.values("band") == ("unknown",)
    assert population.values("directorate") == ("X",)  # Y only skipped
    assert population.respondents == 3
    same = Population.from_counts(
        [("w", "X", None, "agree", 1), ("w", "X", "prefer-not", "agree", 1),
         ("w", "X", "unknown", "disagree", 1)], DIMS)
    policy = Policy(k=2)
    assert show(population, ["band"], {"wave": "w"}, policy) == show(same, ["band"], {"wave": "w"}, policy)


def test_unknown_values_give_fewer_than_k_and_an_empty_wave_no_answers() -> None:
    population = build({("w", "X", "5"): 20, ("w", "Y", "5"): 20}, DIMS)
    table = show(population, [], {"wave": "w", "directorate": "nope"}, Policy(k=11))
    assert [(c.n, c.low, c.high) for c in table.cells] == [(None, 0, 10)]
    nobody = show(population, ["band"], {"wave": "nope"}, Policy(k=11))
    assert [c.n for c in nobody.cells] == [0, 0]


@pytest.mark.parametrize(
    ("by", "where"),
    [
        (["directorate", "band", "wave"], {}),
        (["directorate"], {}),  # neither fixes nor breaks down by wave
        (["directorate", "band"], {"wave": "w"}),  # two non-hub dimensions
        (["directorate"], {"wave": "w", "band": "5"}),
        (["directorate", "nope"], {"wave": "w"}),
        (["band"], {"band": "5", "wave": "w"}),
        ("band", {"wave": "w"}),
    ],
)
def test_invalid_queries_are_refused(by: list[str], where: dict[str, str]) -> None:
    population = build({("w", "X", "5", "30s"): 20}, ["wave", "directorate", "band", "age"])
    with pytest.raises(DisclosureError):
        show(population, by, where, Policy())


def test_bad_options_and_policies_are_refused() -> None:
    population = build({("w", "X", "5"): 20}, DIMS)
    with pytest.raises(DisclosureError):
        release(population, by=[], where={"wave": "w"}, policy=Policy(), options=["agree"], favourable=[])
    with pytest.raises(DisclosureError):
        release(population, by=[], where={"wave": "w"}, policy=Policy(), options=OPTIONS, favourable=["yes"])
    for bad in ({"k": 1}, {"groupings": (("w2", "wave", ()),)}):
        with pytest.raises(AnalysisError):
            Policy(**bad)  # type: ignore[arg-type]
    with pytest.raises(DisclosureError):
        Population.from_counts([("w", "X", "agree", 1)], DIMS)
    with pytest.raises(DisclosureError):
        Population.from_counts([("w", "X", "5", "agree", -1)], DIMS)
    with pytest.raises(DisclosureError):
        Population.from_counts([], ["wave", "wave"])


def test_analysis_imports_no_web_framework() -> None:
    code = (
        "import sys, analysis.disclosure, analysis.statistics\n"
        "bad = {'flask', 'sqlalchemy', 'core', 'speakup', 'accounts', 'surveys', 'config', 'werkzeug'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_correction_cannot_be_tied_to_a_small_group() -> None:
    """Version 1 shows X 40 and Y 40 exactly; a correction moves one record out of X. Shown
    exactly again, X 39 against 40 says the corrected record was in X: the change audit
    coarsens X (and what would give it away) in version 2."""
    policy = Policy(k=11)
    before = build({("w", "X", "5"): 40, ("w", "Y", "5"): 40, ("w", "Z", "5"): 40}, DIMS)
    previous = before.record(policy, "w")
    after = build({("w", "X", "5"): 39, ("w", "Y", "5"): 40, ("w", "Z", "5"): 40}, DIMS)
    plain = show(after, ["directorate"], {"wave": "w"}, policy)
    assert plain.cell({"directorate": "X"}).n == 39  # on its own, version 2 is fine
    assert after.audit_change(policy, "w", previous) > 0
    table = show(after, ["directorate"], {"wave": "w"}, policy)
    x = table.cell({"directorate": "X"})
    # X's new figure must also allow 40 (its old, published value): a wide range, or hidden.
    assert x.n is None and (x.low is None or (x.high or 0) >= 40)
    assert show(after, ["band"], {"wave": "w"}, policy).cell({"band": "5"}).n == 119
    # A version with no change needs nothing more.
    same = build({("w", "X", "5"): 40, ("w", "Y", "5"): 40, ("w", "Z", "5"): 40}, DIMS)
    assert same.audit_change(policy, "w", previous) == 0


def test_a_not_known_group_answering_alike_does_not_hide_global_majority() -> None:
    """WRES 8 (issue 12): 21 people of unknown ethnicity all answered "yes"; White and Global
    majority are still shown with their answers, and the not-known group's answers cannot be
    worked out as total - White - Global majority."""
    dims = ["wave", "ethnicity"]
    rows = [("w", "white", "yes", 30), ("w", "white", "no", 70), ("w", "asian", "yes", 20),
            ("w", "asian", "no", 25), ("w", "black", "yes", 10), ("w", "black", "no", 15),
            ("w", None, "yes", 21)]
    population = Population.from_counts(rows, dims, {"ethnicity": ["asian", "black", "white"]})
    policy = Policy(k=11, hub="ethnicity", groupings=(ETHNIC,))
    table = release(population, by=["ethnic_group"], where={"wave": "w"}, policy=policy,
                    options=["yes", "no"], favourable=["yes"])
    white, majority = table.cell({"ethnic_group": "white"}), table.cell(
        {"ethnic_group": "global-majority"})
    assert white.counts == {"yes": 30, "no": 70}
    assert majority.counts == {"yes": 30, "no": 40}
    unknown, total = table.cell({"ethnic_group": "unknown"}), table.cell({})
    assert unknown.counts is None and total.counts is None
