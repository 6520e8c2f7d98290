"""The linear-programming attacker (`tests.analysis.attacker`) against the release policy.

Populations of 300 respondents, four breakdown dimensions, planted small groups (sizes 1 to 10,
exactly k, the complement of a small group, a group of more than k that all answered alike).
The attacker gets every figure the system releases for the population and must find nothing;
against a naive k-only release, and against the policy with one of its defences switched off,
it must find disclosures, or these tests could not fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations
from typing import Any

import pytest

from analysis import disclosure
from analysis.disclosure import DisclosureError, Policy, Population, Release, release
from tests.analysis.attacker import (
    CATEGORIES,
    FAVOURABLE,
    OPTIONS,
    Attacker,
    Disclosure,
    Figure,
    Record,
    World,
    conjunctions,
    figures_of_table,
    label,
    lines_of_figures,
    missing_values,
    naive_release,
    population,
    targets_for,
)

K = 11
POLICY = Policy(k=K, hub="ethnicity", wave_dim=None)


def every_table(records: list[Record]) -> Iterator[Release]:
    """Every table the query space offers (the others are refused, so show nothing)."""
    pop = Population.from_records(records, list(CATEGORIES), categories=CATEGORIES)
    for size in range(3):
        for by in combinations(CATEGORIES, size):
            try:
                yield release(pop, by=list(by), where={}, policy=POLICY, options=OPTIONS,
                              favourable=FAVOURABLE)
            except DisclosureError:
                continue


def released(records: list[Record]) -> list[Figure]:
    tables = list(every_table(records))
    assert len(tables) == 8  # everyone, four one-way tables, three with ethnicity
    return [f for t in tables for f in figures_of_table(t, OPTIONS)] + missing_values(tables, CATEGORIES)


def attack(records: list[Record], figures: list[Figure]) -> list[Disclosure]:
    found = Attacker(World(CATEGORIES, OPTIONS), figures, K).attack(
        records, targets_for(CATEGORIES, lines_of_figures(figures), most=2))
    for d in found:  # every claim holds for the real population
        assert d.low <= d.truth <= d.high
    return found


@pytest.mark.parametrize("seed", [0, 1])
def test_attacker_breaks_a_naive_k_only_release(seed: int) -> None:
    records = population(seed)
    figures = naive_release(records, CATEGORIES, OPTIONS, K, conjunctions(CATEGORIES, 2))
    found = attack(records, figures)
    kinds = {d.kind for d in found}
    assert len(found) >= 10, [str(d) for d in found]
    assert "same answer" in kinds
    assert kinds & {"pinned", "bounded"}


@pytest.mark.parametrize("seed", [0, 1])
def test_attacker_finds_nothing_in_what_the_policy_releases(seed: int) -> None:
    records = population(seed)
    figures = released(records)
    assert attack(records, figures) == []
    # Not by hiding everything: exact figures and ranges are released.
    counts = [f for f in figures if f.answer is None]
    assert sum(f.low == f.high and f.low >= K for f in counts) >= 10
    assert any(f.low != f.high and f.low > 0 for f in counts)


def _truth(records: list[Record], conditions: tuple[tuple[str, str], ...]) -> int:
    return sum(1 for v, a in records if a is not None
               and all(label(v.get(d)) == value for d, value in conditions))


def test_attacker_breaks_the_policy_when_zeros_are_shown() -> None:
    """Empty groups shown as 0 (as the old rules did) give small groups away."""
    records = population(0)
    figures = [Figure(f.conditions, None, 0, 0)
               if f.answer is None and f.low != f.high and _truth(records, f.conditions) == 0 else f
               for f in released(records)]
    found = attack(records, figures)
    assert {d.kind for d in found} & {"pinned", "bounded"}, [str(d) for d in found]


def test_attacker_breaks_the_policy_without_the_count_audit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small groups as "fewer than k" and no other protection: margins and neighbours bound them."""
    audit = disclosure._Audit.breaches

    def answers_only(self: Any, targets: list[Any]) -> list[Any]:
        return [t for t in audit(self, targets) if t.alike >= 0]

    monkeypatch.setattr(disclosure._Audit, "breaches", answers_only)
    records = population(0)
    found = attack(records, released(records))
    assert {d.kind for d in found} & {"pinned", "bounded"}, [str(d) for d in found]


def test_attacker_breaks_the_policy_without_the_answer_audit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the alike group's own answers hidden: its margin minus its neighbours shows them."""
    audit = disclosure._Audit.breaches

    def counts_only(self: Any, targets: list[Any]) -> list[Any]:
        return [] if self.answers else audit(self, targets)

    monkeypatch.setattr(disclosure._Audit, "breaches", counts_only)
    records = population(0)
    found = attack(records, released(records))
    assert "same answer" in {d.kind for d in found}, [str(d) for d in found]
