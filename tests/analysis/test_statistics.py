"""Interval statistics against published values and their documented edge cases."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis import AnalysisError
from analysis.statistics import RatioEstimate, StatisticsError, ratio_interval, wilson_interval


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        # Newcombe (1998), Statistics in Medicine 17:857-872, Table II, method 3 (Wilson score).
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_matches_newcombe(successes: int, n: int, low: float, high: float) -> None:
    got_low, got_high = wilson_interval(successes, n)
    assert got_low == pytest.approx(low, abs=5e-5)
    assert got_high == pytest.approx(high, abs=5e-5)


def test_wilson_of_nothing_is_the_whole_range() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_wilson_all_successes_reaches_one() -> None:
    low, high = wilson_interval(20, 20)
    assert high == 1.0
    assert low == pytest.approx(1 - 0.1611, abs=5e-5)


@pytest.mark.parametrize(("successes", "n"), [(-1, 5), (6, 5), (0, -1)])
def test_wilson_rejects_impossible_counts(successes: int, n: int) -> None:
    with pytest.raises(StatisticsError):
        wilson_interval(successes, n)


def test_errors_share_the_package_root() -> None:
    with pytest.raises(AnalysisError):
        ratio_interval(1, 0, 1, 1)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 5000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_contains_the_estimate_and_stays_in_range(case: tuple[int, int]) -> None:
    successes, n = case
    low, high = wilson_interval(successes, n)
    assert 0.0 <= low <= successes / n <= high <= 1.0
    # Symmetric: failures get the mirror image.
    mirror_low, mirror_high = wilson_interval(n - successes, n)
    assert mirror_low == pytest.approx(1 - high, abs=1e-12)
    assert mirror_high == pytest.approx(1 - low, abs=1e-12)


def test_ratio_matches_agresti_aspirin_example() -> None:
    # Agresti, Categorical Data Analysis (2nd ed.), section 3.1.4: Physicians' Health Study,
    # myocardial infarction on placebo 189/11034 vs aspirin 104/11037: RR 1.82, 95% CI (1.43, 2.30).
    estimate = ratio_interval(189, 11034, 104, 11037)
    assert estimate.ratio == pytest.approx(1.82, abs=0.005)
    assert estimate.low == pytest.approx(1.43, abs=0.005)
    assert estimate.high == pytest.approx(2.30, abs=0.01)


def test_ratio_by_hand() -> None:
    # 1/2 vs 1/2: ratio 1, SE(log) = sqrt(1 - 1/2 + 1 - 1/2) = 1, so exp(+-1.959964).
    estimate = ratio_interval(1, 2, 1, 2)
    assert estimate.ratio == 1.0
    assert estimate.low == pytest.approx(math.exp(-1.959964))
    assert estimate.high == pytest.approx(math.exp(1.959964))


def test_small_numbers_give_a_wide_interval() -> None:
    # DOMAIN.md: a ratio of about 1.7 from 9 and 17 cases is weak evidence.
    estimate = ratio_interval(17, 100, 9, 90)
    assert estimate.ratio == pytest.approx(1.7)
    assert estimate.low < 1.0 < estimate.high


def test_ratio_zero_in_a() -> None:
    estimate = ratio_interval(0, 10, 3, 10)
    assert estimate.ratio == 0.0
    assert estimate.low == 0.0
    assert 1.0 < estimate.high < math.inf


def test_ratio_zero_in_b() -> None:
    estimate = ratio_interval(3, 10, 0, 10)
    assert estimate.ratio == math.inf
    assert estimate.high == math.inf
    assert 0.0 < estimate.low < 1.0


def test_ratio_zero_in_both_is_no_information() -> None:
    estimate = ratio_interval(0, 10, 0, 12)
    assert math.isnan(estimate.ratio)
    assert (estimate.low, estimate.high) == (0.0, math.inf)


def test_ratio_all_successes_is_a_point() -> None:
    assert ratio_interval(5, 5, 7, 7) == RatioEstimate(1.0, 1.0, 1.0)


@pytest.mark.parametrize("args", [(1, 0, 1, 1), (1, 1, 1, 0), (2, 1, 1, 1), (-1, 3, 1, 1)])
def test_ratio_rejects_impossible_groups(args: tuple[int, int, int, int]) -> None:
    with pytest.raises(StatisticsError):
        ratio_interval(*args)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 2000).flatmap(lambda n: st.tuples(st.integers(1, n), st.just(n))),
    st.integers(1, 2000).flatmap(lambda n: st.tuples(st.integers(1, n), st.just(n))),
)
def test_ratio_contains_estimate_and_inverts(a: tuple[int, int], b: tuple[int, int]) -> None:
    forward = ratio_interval(*a, *b)
    backward = ratio_interval(*b, *a)
    assert forward.low <= forward.ratio <= forward.high
    assert backward.ratio == pytest.approx(1 / forward.ratio)
    assert backward.low == pytest.approx(1 / forward.high)
    assert backward.high == pytest.approx(1 / forward.low)
