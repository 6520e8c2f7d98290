"""Disclosure control: each rule by hand, then an attacker who runs every query there is.

The attacker sees only what `release` shows, but knows which records each group holds (so it
can spot two groups with the same record set, which the rules must treat as one), and checks
every shown fact against every other. The same attacker, run against a policy with one rule
switched off, must find a leak: otherwise these tests could not fail.
"""

from __future__ import annotations

import random
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis import AnalysisError, disclosure
from analysis.disclosure import Cell, DisclosureError, Policy, Population, Release, release

ROOT = Path(__file__).resolve().parents[2]
OPTIONS = ["strongly disagree", "disagree", "neither", "agree", "strongly agree"]
FAVOURABLE = {"agree", "strongly agree"}
DIMS = ["wave", "directorate", "band"]


# --- helpers -----------------------------------------------------------------------------------


def mixed(values: tuple[str | None, ...], n: int) -> list[tuple[Any, ...]]:
    """Atoms for ``n`` respondents with ``values``, split between two answers (never one answer)."""
    if n == 0:
        return []
    if n == 1:
        return [(*values, "agree", 1)]
    return [(*values, "agree", n - n // 2), (*values, "disagree", n // 2)]


def build(groups: Mapping[tuple[str | None, ...], int], dimensions: list[str]) -> Population:
    rows = [row for values, n in groups.items() for row in mixed(values, n)]
    return Population.from_counts(rows, dimensions)


def show(population: Population, by: list[str], where: dict[str, str], policy: Policy) -> Release:
    return release(population, by=by, where=where, policy=policy, options=OPTIONS, favourable=FAVOURABLE)


def lines_of(table: Release) -> Iterator[tuple[Cell, list[Cell]]]:
    """Each line of a released table: (margin, cells)."""
    if not table.by:
        return
    first = table.by[0]
    singles = [c for c in table.cells if len(c.group) == 1]
    total = table.cell({})
    yield total, [c for c in singles if first in c.group]
    if len(table.by) == 2:
        second = table.by[1]
        yield total, [c for c in singles if second in c.group]
        interior = [c for c in table.cells if len(c.group) == 2]
        for margin in singles:
            ((name, value),) = margin.group.items()
            yield margin, [c for c in interior if c.group[name] == value]


def line_problems(table: Release, size: Callable[[Cell], int], k: int) -> list[str]:
    """Rule 3 for counts on every line of ``table``; ``size`` gives each cell's true n."""
    problems = []
    for margin, cells in lines_of(table):
        suppressed = [c for c in cells if c.suppressed]
        assert all(size(c) > 0 for c in suppressed), "an empty cell was suppressed"
        if not margin.suppressed and suppressed:
            total = sum(size(c) for c in suppressed)
            if len(suppressed) == 1 or total < k:
                problems.append(f"(c) line {margin.group} of {table.by}/{table.where}: suppressed {total}")
        if margin.suppressed and size(margin) > 0 and not suppressed:
            problems.append(f"(c) line {margin.group} of {table.by}/{table.where}: margin derivable")
    return problems


# --- the attacker ------------------------------------------------------------------------------


@dataclass
class Survey:
    records: list[tuple[dict[str, str | None], str | None]]
    dimensions: list[str]
    policy: Policy


@dataclass
class Attack:
    survey: Survey
    population: Population = field(init=False)
    masks: dict[tuple[str, str], int] = field(default_factory=dict)
    everyone: int = 0
    answers: dict[int, str] = field(default_factory=dict)
    shown_n: dict[int, int] = field(default_factory=dict)
    shown_counts: dict[int, dict[str, int]] = field(default_factory=dict)
    decisions: dict[int, set[tuple[bool, bool]]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    queries: int = 0

    def __post_init__(self) -> None:
        self.population = Population.from_records(self.survey.records, self.survey.dimensions)
        for i, (values, answer) in enumerate(self.survey.records):
            if answer is None:
                continue
            self.everyone |= 1 << i
            self.answers[i] = answer
            for name in self.survey.dimensions:
                raw = values.get(name)
                label = "unknown" if raw is None or raw == "prefer-not" else raw
                self.masks[(name, label)] = self.masks.get((name, label), 0) | 1 << i

    def members(self, conditions: Mapping[str, str]) -> int:
        mask = self.everyone
        for condition in conditions.items():
            mask &= self.masks.get(condition, 0)
        return mask

    def distribution(self, mask: int) -> Counter[str]:
        return Counter(answer for i, answer in self.answers.items() if mask >> i & 1)

    def all_queries(self) -> Iterator[tuple[list[str], dict[str, str]]]:
        policy = self.survey.policy
        wave = policy.wave_dim
        assert wave is not None
        for size in range(3):
            for by in combinations(self.survey.dimensions, size):
                bases = [{}] if wave in by else [{wave: w} for w in self.population.values(wave)]
                for base in bases:
                    yield list(by), base
                    for name in sorted(policy.filter_dims - set(by)):
                        for value in self.population.values(name):
                            yield list(by), {**base, name: value}

    def run(self) -> list[str]:
        k = self.survey.policy.k
        for by, where in self.all_queries():
            try:
                table = release(
                    self.population, by=by, where=where, policy=self.survey.policy,
                    options=OPTIONS, favourable=FAVOURABLE,
                )  # fmt: skip
            except DisclosureError:
                continue  # beyond the query space: refused, so nothing shown
            self.queries += 1
            masks = {id(cell): self.members({**where, **cell.group}) for cell in table.cells}
            for cell in table.cells:
                self.record(masks[id(cell)], cell)
            sizes = {key: mask.bit_count() for key, mask in masks.items()}
            self.problems += line_problems(table, lambda c, sizes=sizes: sizes[id(c)], k)
            self.problems += self.distribution_line_problems(table, masks)
        self.check_facts(k)
        return self.problems

    def record(self, mask: int, cell: Cell) -> None:
        truth = self.distribution(mask)
        self.decisions.setdefault(mask, set()).add((cell.n is not None, cell.counts is not None))
        if cell.n is not None:
            assert cell.n == mask.bit_count(), "a shown count is wrong"
            self.shown_n[mask] = cell.n
        if cell.counts is not None:
            assert cell.counts == {o: truth[o] for o in OPTIONS}, "a shown distribution is wrong"
            self.shown_counts[mask] = cell.counts

    def distribution_line_problems(self, table: Release, masks: dict[int, int]) -> list[str]:
        problems = []
        for margin, cells in lines_of(table):
            hidden = [c for c in cells if c.counts is None and masks[id(c)]]
            if margin.counts is not None and hidden:
                combined = Counter[str]()
                for c in hidden:
                    combined += self.distribution(masks[id(c)])
                if len(hidden) == 1 or len(combined) == 1:
                    problems.append(
                        f"(d) line {margin.group} of {table.by}/{table.where}: hidden answers shown"
                    )
            if margin.counts is None and masks[id(margin)] and not hidden:
                problems.append(
                    f"(d) line {margin.group} of {table.by}/{table.where}: margin distribution derivable"
                )
        return problems

    def check_facts(self, k: int) -> None:
        for n in self.shown_n.values():
            if 0 < n < k:
                self.problems.append(f"(a) a group of {n} < k = {k} is shown")
        shown = [mask for mask, n in self.shown_n.items() if n > 0]
        for small, big in combinations(sorted(shown, key=int.bit_count), 2):
            if small & ~big == 0 and 0 < big.bit_count() - small.bit_count() < k:
                self.problems.append(
                    f"(b) shown groups of {big.bit_count()} and {small.bit_count()} differ by < k"
                )
        with_counts = [mask for mask in self.shown_counts if mask]
        for mask in with_counts:
            if sum(1 for c in self.shown_counts[mask].values() if c) == 1:
                self.problems.append(f"(d) a shown group of {mask.bit_count()} all gave one answer")
        for small, big in combinations(sorted(with_counts, key=int.bit_count), 2):
            if small & ~big == 0 and big != small:
                left = {o: self.shown_counts[big][o] - self.shown_counts[small][o] for o in OPTIONS}
                if sum(1 for c in left.values() if c) == 1:
                    self.problems.append("(d) the difference of two shown groups all gave one answer")
        for mask, seen in self.decisions.items():
            if len(seen) > 1:
                self.problems.append(f"(e) a group of {mask.bit_count()} got decisions {sorted(seen)}")


def make_survey(rng: random.Random) -> Survey:
    """A small random survey, skewed and correlated so that purity and one-answer groups occur."""
    names = [f"d{i}" for i in range(rng.randint(3, 4))]
    values = {name: [f"{name}v{j}" for j in range(rng.randint(2, 4))] for name in names}
    values["wave"] = [f"w{j}" for j in range(rng.randint(1, 3))]
    weights = {name: [rng.random() ** 2 + 0.02 for _ in vals] for name, vals in values.items()}
    follows = rng.random() < 0.5  # d1 copies d0's position most of the time: purity
    loyal = rng.choice([0.0, 0.6, 0.95])  # chance an answer is the d0 value's favourite
    favourite = {v: rng.choice(OPTIONS) for v in values["d0"]}
    records: list[tuple[dict[str, str | None], str | None]] = []
    for _ in range(rng.randint(20, 300)):
        record: dict[str, str | None] = {"wave": rng.choices(values["wave"], weights["wave"])[0]}
        for name in names:
            record[name] = rng.choices(values[name], weights[name])[0]
        if follows and rng.random() < 0.9:
            record["d1"] = values["d1"][values["d0"].index(record["d0"] or "") % len(values["d1"])]
        if rng.random() < 0.05:
            record[rng.choice(names)] = rng.choice([None, "prefer-not"])
        answer: str | None = rng.choice(OPTIONS)
        if rng.random() < loyal:
            answer = favourite.get(record["d0"] or "", answer)
        if rng.random() < 0.04:
            answer = None
        records.append((record, answer))
    filters = frozenset(rng.sample(names, rng.randint(0, 2)))
    policy = Policy(k=rng.choice([3, 5, 11]), filter_dims=filters, wave_dim="wave")
    return Survey(records, ["wave", *names], policy)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False))
def test_attacker_running_every_query_finds_nothing(rng: random.Random) -> None:
    attack = Attack(make_survey(rng))
    assert attack.run() == []
    assert attack.queries > 0


def _no_flags(tables: Any, space: Any, *args: object) -> dict[Any, Any]:
    return {dims: np.zeros(tables.sizes(dims).shape, dtype=np.bool_) for dims in space.sets}


def _nothing(*args: object) -> None:
    return None


def _no_lines(tables: Any, margin_dims: Any, axis: int, cells: Any) -> Any:
    return np.zeros(tables.sizes(margin_dims).shape, dtype=np.bool_)


@pytest.mark.parametrize(
    ("weakness", "replacement", "symptom"),
    [
        ("_below_k", _no_flags, "(a)"),
        ("_differencing", _no_flags, "(b)"),
        ("_complete_count_lines", _nothing, "(c)"),
        ("_same_answer", _no_flags, "(d)"),
        ("_complete_distribution_lines", _nothing, "(d) line"),
        ("_pure_groups", lambda *args: [], "(b)"),  # differencing by conditions only
        ("_propagate", lambda *args: set(), "(e)"),  # same records, different decisions
        ("_hidden_margin_unsafe", _no_lines, "margin derivable"),  # cells add up to a hidden margin
    ],
)
def test_attacker_finds_the_leak_when_a_rule_is_switched_off(
    monkeypatch: pytest.MonkeyPatch, weakness: str, replacement: object, symptom: str
) -> None:
    monkeypatch.setattr(disclosure, weakness, replacement)
    for seed in range(80):
        problems = Attack(make_survey(random.Random(seed))).run()
        if any(symptom in problem for problem in problems):
            return
    pytest.fail(f"with {weakness} switched off the attacker found no {symptom} leak")


@pytest.mark.parametrize("seed", range(12))
def test_without_the_cube_decisions_are_the_same(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    # Many dimensions: marginals and purity come from the atoms instead of one dense cube.
    survey = make_survey(random.Random(seed))
    attack = Attack(survey)

    def every_table() -> list[Release]:
        population = Population.from_records(survey.records, survey.dimensions)
        tables = []
        for by, where in attack.all_queries():
            try:
                tables.append(show(population, by, where, survey.policy))
            except DisclosureError:
                continue
        return tables

    with_cube = every_table()
    monkeypatch.setattr(disclosure, "_MAX_CUBE_CELLS", 0)
    assert every_table() == with_cube


# --- rule 1: minimum cell size ------------------------------------------------------------------


def test_exactly_k_is_shown() -> None:
    population = build({("w", "A", "5"): 11, ("w", "B", "5"): 30}, DIMS)
    table = show(population, ["directorate"], {"wave": "w"}, Policy(k=11))
    assert [(c.n, c.reason) for c in table.cells] == [(41, None), (11, None), (30, None)]


def test_below_k_is_suppressed() -> None:
    population = build({("w", "A", "5"): 10, ("w", "B", "5"): 11, ("w", "C", "5"): 30}, DIMS)
    table = show(population, ["directorate"], {"wave": "w"}, Policy(k=11))
    a, b, c = (table.cell({"directorate": d}) for d in "ABC")
    assert (a.n, a.suppressed, a.reason, a.counts, a.favourable_pct) == (None, True, "below k", None, None)
    # B (exactly k) would be shown, but it is the only other way to recover A: see rule 3.
    assert (b.n, b.reason) == (None, "complementary")
    assert c.n == 30
    assert c.counts is not None
    assert table.cell({}).n == 51


def test_k_is_configurable() -> None:
    population = build({("w", "A", "5"): 10, ("w", "B", "5"): 11, ("w", "C", "5"): 30}, DIMS)
    table = show(population, ["directorate"], {"wave": "w"}, Policy(k=5))
    assert [c.n for c in table.cells] == [51, 10, 11, 30]


def test_empty_groups_are_shown_as_zero() -> None:
    population = build({("w", "A", "5"): 20, ("w", "B", "6"): 20}, DIMS)
    table = show(population, ["directorate", "band"], {"wave": "w"}, Policy(k=11))
    empty = table.cell({"directorate": "A", "band": "6"})
    assert (empty.n, empty.suppressed, empty.favourable_pct) == (0, False, None)
    assert empty.counts == dict.fromkeys(OPTIONS, 0)


# --- rule 2: differencing -----------------------------------------------------------------------


def test_group_equal_to_a_subset_of_another_group_is_differenced() -> None:
    # Everyone in directorate X is band 6, so (directorate X) is inside (band 6) as a set of records
    # though not as a set of conditions; band 6 has just 2 more people, in Y.
    population = build(
        {("w", "X", "6"): 15, ("w", "Y", "6"): 2, ("w", "Y", "5"): 40, ("w", "Z", "5"): 40}, DIMS
    )
    policy = Policy(k=11)
    by_band = show(population, ["band"], {"wave": "w"}, policy)
    assert by_band.cell({"band": "6"}).n == 17
    by_directorate = show(population, ["directorate"], {"wave": "w"}, policy)
    x = by_directorate.cell({"directorate": "X"})
    assert (x.n, x.reason) == (None, "differencing")
    both = show(population, ["directorate", "band"], {"wave": "w"}, policy)
    assert both.cell({"directorate": "X", "band": "6"}).reason == "differencing"


def test_chain_through_a_group_that_differs_by_zero() -> None:
    # G = (X, age 30s) equals M = (X) (everyone in X is in their 30s), and M sits inside P =
    # (band 6) with 2 more people. G is inside P only through purity; it must not be shown.
    dims = ["wave", "directorate", "band", "age"]
    population = build(
        {
            ("w", "X", "6", "30s"): 15,
            ("w", "Y", "6", "40s"): 2,
            ("w", "Y", "5", "30s"): 40,
            ("w", "Z", "5", "40s"): 40,
        },
        dims,
    )
    policy = Policy(k=11, filter_dims=frozenset({"directorate"}))
    table = show(population, ["age"], {"wave": "w", "directorate": "X"}, policy)
    assert table.cell({"age": "30s"}).reason == "differencing"
    assert table.cell({}).reason == "differencing"
    assert table.cell({"age": "40s"}).n == 0


def test_difference_of_zero_or_at_least_k_is_fine() -> None:
    population = build({("w", "X", "6"): 20, ("w", "Y", "6"): 11, ("w", "Y", "5"): 40}, DIMS)
    table = show(population, ["directorate", "band"], {"wave": "w"}, Policy(k=11))
    assert table.cell({"directorate": "X"}).n == 20  # equal to (X, 6); 11 fewer than band 6
    assert table.cell({"directorate": "X", "band": "6"}).n == 20
    assert table.cell({"band": "6"}).n == 31


def test_waves_are_a_dimension_too() -> None:
    # Team X grows by 2 between waves: each wave alone is >= k but their difference is not,
    # and the pooled group (the margin of a table by wave) is in the query space.
    population = build(
        {("w1", "X", "5"): 12, ("w2", "X", "5"): 14, ("w1", "Y", "5"): 50, ("w2", "Y", "5"): 50}, DIMS
    )
    policy = Policy(k=11)
    table = show(population, ["wave"], {"directorate": "X"}, policy)
    assert table.cell({}).n == 26
    assert table.cell({"wave": "w1"}).n == 12
    assert table.cell({"wave": "w2"}).n == 14
    population = build({("w1", "X", "5"): 12, ("w2", "X", "5"): 2, ("w1", "Y", "5"): 50}, DIMS)
    table = show(population, ["directorate"], {"wave": "w1"}, policy)
    assert table.cell({"directorate": "X"}).reason == "differencing"  # pooled X is 14


def test_decision_does_not_depend_on_the_query() -> None:
    population = build({("w", d, b): 30 for d in "XYZ" for b in "567"} | {("w", "X", "5"): 3}, DIMS)
    policy = Policy(k=11, filter_dims=frozenset({"directorate"}))
    wide = show(population, ["directorate", "band"], {"wave": "w"}, policy)
    for directorate in "XYZ":
        narrow = show(population, ["band"], {"wave": "w", "directorate": directorate}, policy)
        for band in "567":
            assert narrow.cell({"band": band}) == Cell(
                {"band": band}, *_fields(wide.cell({"directorate": directorate, "band": band}))
            )


def _fields(cell: Cell) -> tuple[Any, ...]:
    return cell.n, cell.suppressed, cell.reason, cell.counts, cell.favourable_pct


# --- rule 3: complementary suppression ----------------------------------------------------------


def test_1d_suppressed_cells_must_add_up_to_k() -> None:
    population = build(
        {("w", "A", "5"): 3, ("w", "B", "5"): 4, ("w", "C", "5"): 40, ("w", "D", "5"): 40}, DIMS
    )
    table = show(population, ["directorate"], {"wave": "w"}, Policy(k=11))
    assert [(c.n, c.reason) for c in table.cells] == [
        (87, None), (None, "below k"), (None, "below k"), (None, "complementary"), (40, None),
    ]  # fmt: skip
    sizes = {"A": 3, "B": 4, "C": 40, "D": 40}
    assert line_problems(table, lambda c: sizes.get(c.group.get("directorate", ""), 87), 11) == []


def test_2d_table_rows_and_columns_with_margins() -> None:
    sizes = {("w", d, b): 30 for d in "XYZ" for b in "56"} | {("w", d, "7"): 40 for d in "XYZ"}
    sizes[("w", "X", "5")] = 3
    population = build(sizes, DIMS)
    table = show(population, ["directorate", "band"], {"wave": "w"}, Policy(k=11))
    hidden = {
        (c.group["directorate"], c.group["band"]) for c in table.cells if len(c.group) == 2 and c.suppressed
    }
    assert hidden == {("X", "5"), ("X", "6"), ("Y", "5"), ("Y", "6")}
    assert all(not c.suppressed for c in table.cells if len(c.group) < 2)  # margins and total shown

    def truth(cell: Cell) -> int:
        d, b = cell.group.get("directorate"), cell.group.get("band")
        return sum(n for (_, dd, bb), n in sizes.items() if d in (None, dd) and b in (None, bb))

    assert line_problems(table, truth, 11) == []


def test_margin_of_a_suppressed_group_cannot_be_rebuilt_from_its_cells() -> None:
    # (band 6) is suppressed for differencing against the total (2 people outside it, in Z). Its
    # cells X and Y are each fine on their own, but must not all be shown: they add up to it.
    # (Here Z's own line already takes X down; the attacker tests find cases where only this does.)
    sizes = {("w", "X", "6"): 30, ("w", "Y", "6"): 30, ("w", "Z", "5"): 2}
    population = build(sizes, DIMS)
    policy = Policy(k=11)
    table = show(population, ["band", "directorate"], {"wave": "w"}, policy)
    assert table.cell({"band": "6"}).reason == "differencing"
    assert any(table.cell({"band": "6", "directorate": d}).suppressed for d in "XY")
    assert table.cell({}).n == 62

    def truth(cell: Cell) -> int:
        b, d = cell.group.get("band"), cell.group.get("directorate")
        return sum(n for (_, dd, bb), n in sizes.items() if d in (None, dd) and b in (None, bb))

    assert line_problems(table, truth, 11) == []


# --- rule 4: same answer ------------------------------------------------------------------------


def test_everyone_giving_one_answer_hides_the_distribution_not_n() -> None:
    rows = [("w", "X", "5", "agree", 12), *mixed(("w", "Y", "5"), 20), *mixed(("w", "Z", "5"), 20)]
    population = Population.from_counts(rows, DIMS)
    table = show(population, ["directorate"], {"wave": "w"}, Policy(k=11))
    x = table.cell({"directorate": "X"})
    assert (x.n, x.suppressed, x.reason, x.counts, x.favourable_pct) == (12, False, "same answer", None, None)


def test_one_answer_difference_hides_the_larger_group() -> None:
    # Total = X (mixed, 20) + Y (all "agree", 12): showing X's and the total's distributions would
    # give Y's away, so X's distribution is hidden too.
    rows = [*mixed(("w", "X", "5"), 20), ("w", "Y", "5", "agree", 12)]
    population = Population.from_counts(rows, DIMS)
    table = show(population, ["directorate"], {"wave": "w"}, Policy(k=11))
    x, y = table.cell({"directorate": "X"}), table.cell({"directorate": "Y"})
    assert (x.n, x.counts, x.reason) == (20, None, "same answer")
    assert (y.n, y.counts, y.reason) == (12, None, "same answer")
    assert table.cell({}).counts == {**dict.fromkeys(OPTIONS, 0), "agree": 22, "disagree": 10}


def test_hidden_distribution_needs_a_partner_in_its_line() -> None:
    # Y all "agree"; X and Z mixed. The total minus X and Z would give Y's answers: hide another.
    rows = [
        *mixed(("w", "X", "5"), 40),
        ("w", "Y", "5", "agree", 12),
        ("w", "Y", "5", "disagree", 0),
        *mixed(("w", "Z", "5"), 50),
    ]
    table = show(Population.from_counts(rows, DIMS), ["directorate"], {"wave": "w"}, Policy(k=11))
    hidden = [c.group for c in table.cells if c.counts is None]
    assert {"directorate": "Y"} in hidden
    assert len(hidden) >= 2


# --- rule 5: rounding ---------------------------------------------------------------------------


def test_rounding_after_decisions_percentages_from_true_counts() -> None:
    rows = [("w", "X", "5", "agree", 12), ("w", "X", "5", "disagree", 11), *mixed(("w", "Y", "5"), 40)]
    population = Population.from_counts(rows, DIMS)
    table = show(population, ["directorate"], {"wave": "w"}, Policy(k=11, round_to=5))
    x = table.cell({"directorate": "X"})
    assert x.n == 25
    assert x.counts == {**dict.fromkeys(OPTIONS, 0), "agree": 10, "disagree": 10}
    assert x.favourable_pct == pytest.approx(100 * 12 / 23)
    assert table.round_to == 5
    halves = show(population, ["directorate"], {"wave": "w"}, Policy(k=11, round_to=2))
    assert halves.cell({"directorate": "X"}).counts == {
        **dict.fromkeys(OPTIONS, 0),
        "agree": 12,
        "disagree": 12,
    }


# --- populations and queries --------------------------------------------------------------------


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
        [
            ("w", "X", None, "agree", 1),
            ("w", "X", "prefer-not", "agree", 1),
            ("w", "X", "unknown", "disagree", 1),
        ],
        DIMS,
    )
    policy = Policy(k=2)
    assert show(population, ["band"], {"wave": "w"}, policy) == show(same, ["band"], {"wave": "w"}, policy)


def test_unknown_where_value_gives_empty_cells() -> None:
    population = build({("w", "X", "5"): 20, ("w", "Y", "5"): 20}, DIMS)
    table = show(population, ["band"], {"wave": "nope"}, Policy(k=11))
    assert [c.n for c in table.cells] == [0, 0]


@pytest.mark.parametrize(
    ("by", "where", "policy"),
    [
        (["directorate", "band", "wave"], {}, Policy()),
        (["directorate"], {}, Policy()),  # neither fixes nor breaks down by wave
        (["directorate", "band"], {"wave": "w", "age": "30s"}, Policy()),  # no filter dims
        (["directorate", "nope"], {"wave": "w"}, Policy()),
        (["band"], {"band": "5", "wave": "w"}, Policy()),
        ("band", {"wave": "w"}, Policy()),
    ],
)
def test_invalid_queries_are_refused(by: list[str], where: dict[str, str], policy: Policy) -> None:
    population = build({("w", "X", "5", "30s"): 20}, ["wave", "directorate", "band", "age"])
    with pytest.raises(DisclosureError):
        show(population, by, where, policy)


def test_filter_dimension_extends_the_query_space() -> None:
    population = build({("w", "X", "5", "30s"): 20}, ["wave", "directorate", "band", "age"])
    policy = Policy(filter_dims=frozenset({"age"}))
    assert show(population, ["directorate", "band"], {"wave": "w", "age": "30s"}, policy).cell({}).n == 20


def test_bad_options_and_policies_are_refused() -> None:
    population = build({("w", "X", "5"): 20}, DIMS)
    with pytest.raises(DisclosureError):
        release(population, by=[], where={"wave": "w"}, policy=Policy(), options=["agree"], favourable=[])
    with pytest.raises(DisclosureError):
        release(population, by=[], where={"wave": "w"}, policy=Policy(), options=OPTIONS, favourable=["yes"])
    for bad in ({"k": 1}, {"round_to": 0}, {"max_breakdown_dims": -1}):
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
