"""The linear-programming attacker (`tests.analysis.attacker`) against the release policy.

Populations of 300 respondents, four breakdown dimensions, planted small groups (sizes 1 to 10,
exactly k, the complement of a small group, a group that all answered alike). The attacker gets
every figure the system releases for the population and must find nothing; against a naive
k-only release it must find disclosures, or these tests could not fail.
"""

from __future__ import annotations

import pytest

from tests.analysis.attacker import (
    CATEGORIES,
    OPTIONS,
    Attacker,
    World,
    conjunctions,
    lines_of_figures,
    naive_release,
    population,
    targets_for,
)

K = 11


@pytest.mark.parametrize("seed", [0, 1])
def test_attacker_breaks_a_naive_k_only_release(seed: int) -> None:
    records = population(seed)
    groups = [c for c in conjunctions(CATEGORIES, 2)]
    figures = naive_release(records, CATEGORIES, OPTIONS, K, groups)
    found = Attacker(World(CATEGORIES, OPTIONS), figures, K).attack(
        records, targets_for(CATEGORIES, lines_of_figures(figures), most=2))
    kinds = {d.kind for d in found}
    assert len(found) >= 10, [str(d) for d in found]
    assert "same answer" in kinds
    assert kinds & {"pinned", "bounded"}
    for d in found:  # every claim holds for the real population
        assert d.low <= d.truth <= d.high
