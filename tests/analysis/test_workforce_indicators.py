"""WRES and WDES indicators computed by hand on small tables."""

from __future__ import annotations

import math
from datetime import date

import pytest

from analysis.statistics import Z_95
from analysis.workforce import indicators
from analysis.workforce.indicators import newcombe_difference
from tests.analysis.workforce_records import (
    SNAPSHOT,
    application,
    applications,
    member,
    people,
    person,
)

PREVIOUS = date(2025, 3, 31)


def katz(a: int, n: int, b: int, m: int) -> tuple[float, float, float]:
    ratio = (a / n) / (b / m)
    se = math.sqrt(1 / a - 1 / n + 1 / b - 1 / m)
    return ratio, ratio * math.exp(-Z_95 * se), ratio * math.exp(Z_95 * se)


def test_wres2_published_example_the_christie_2022_23() -> None:
    # White 46.99% appointed from shortlisting (39 of 83), BME 14.65% (23 of 157): 3.21.
    table = applications(83, 39, "white-irish") + applications(157, 23, "black-african")
    result = indicators.wres2(table)[0]
    assert round(100 * result.first.count / result.first.total, 2) == 46.99
    assert round(100 * result.second.count / result.second.total, 2) == 14.65
    assert result.ratio is not None
    assert round(result.ratio, 2) == 3.21
    # The same percentages on 10,000 shortlisted applicants each give the same figure.
    big = applications(10_000, 4_699) + applications(10_000, 1_465, "asian-indian")
    assert round(indicators.wres2(big)[0].ratio or 0, 2) == 3.21


def test_wres2_by_hand_with_katz_interval_and_exclusions() -> None:
    table = (applications(20, 8, "white-british") + applications(25, 5, "black-caribbean")
             + applications(3, 1, "not-stated")
             # Not shortlisted: neither counted nor excluded from the shortlisted population.
             + [application("asian-indian", shortlisted=False, appointed=True, route="acting-up")]
             + [application("white-british", shortlisted=False)])
    result = indicators.wres2(table)[0]
    assert (result.first.group, result.first.count, result.first.total) == ("white", 8, 20)
    assert (result.second.group, result.second.count, result.second.total) == (
        "global-majority", 5, 25)
    assert result.excluded == 3
    ratio, low, high = katz(8, 20, 5, 25)
    assert result.ratio == pytest.approx(2.0)
    assert result.ci == pytest.approx((low, high))
    assert result.ratio == pytest.approx(ratio)
    assert result.reference_band == (0.8, 1.25)


def test_wres2_tie_is_parity() -> None:
    result = indicators.wres2(applications(30, 6) + applications(15, 3, "asian-chinese"))[0]
    assert result.ratio == pytest.approx(1.0)
    assert result.ci is not None
    assert result.ci[0] < 1 < result.ci[1]


def test_wres2_zeros() -> None:
    none_white = indicators.wres2(applications(10, 0) + applications(10, 4, "other-arab"))[0]
    assert none_white.ratio == 0.0
    assert none_white.ci is not None
    assert none_white.ci[0] == 0.0
    assert math.isfinite(none_white.ci[1])
    none_bme = indicators.wres2(applications(10, 4) + applications(10, 0, "other-arab"))[0]
    assert none_bme.ratio == math.inf
    nobody = indicators.wres2(applications(10, 0) + applications(10, 0, "other-arab"))[0]
    assert nobody.ratio is not None
    assert math.isnan(nobody.ratio)
    assert nobody.ci is None
    no_bme_at_all = indicators.wres2(applications(10, 4))[0]
    assert no_bme_at_all.ratio is None
    assert no_bme_at_all.ci is None
    assert no_bme_at_all.second.total == 0


def test_wres2_by_band() -> None:
    table = (applications(10, 5, band="8a") + applications(10, 1, "asian-indian", band="8a")
             + applications(4, 2, band="5") + applications(4, 2, "asian-indian", band="5"))
    results = {r.by: r for r in indicators.wres2(table, by_band=True)}
    assert results[()].ratio == pytest.approx((7 / 14) / (3 / 14))
    assert results[(("band", "8a"),)].ratio == pytest.approx(5.0)
    assert results[(("band", "5"),)].ratio == pytest.approx(1.0)
    assert set(results) == {(), (("band", "5"),), (("band", "8a"),)}


def test_wres3_direction_and_two_year_rolling_average() -> None:
    this_year = (people(3, "black-african", entered_formal_disciplinary=True)
                 + people(117, "black-african")
                 + people(2, entered_formal_disciplinary=True) + people(208)
                 + people(5, "not-stated", entered_formal_disciplinary=True))
    last_year = (people(2, "asian-pakistani", entered_formal_disciplinary=True)
                 + people(98, "asian-pakistani")
                 + people(1, entered_formal_disciplinary=True) + people(199))
    single = indicators.wres3([(SNAPSHOT, this_year)])
    # BME rate / White rate: above 1 means BME staff more likely to enter the process.
    assert single.ratio == pytest.approx((3 / 120) / (2 / 210))
    assert single.snapshots == (SNAPSHOT,)
    assert single.excluded == 5
    rolling = indicators.wres3([(SNAPSHOT, this_year), (PREVIOUS, last_year)])
    # Averaging each year's events and headcounts gives the same ratio as adding them.
    assert rolling.ratio == pytest.approx(((3 + 2) / 2 / ((120 + 100) / 2))
                                          / ((2 + 1) / 2 / ((210 + 200) / 2)))
    assert (rolling.first.count, rolling.first.total) == (5, 220)
    assert (rolling.second.count, rolling.second.total) == (3, 410)
    assert rolling.snapshots == (PREVIOUS, SNAPSHOT)


def test_wres4_is_white_rate_over_bme_rate() -> None:
    staff = (people(60, accessed_non_mandatory_training=True) + people(40)
             + people(20, "mixed-other", accessed_non_mandatory_training=True)
             + people(30, "mixed-other"))
    result = indicators.wres4(staff, SNAPSHOT)
    assert (result.first.group, result.second.group) == ("white", "global-majority")
    assert result.ratio == pytest.approx(0.6 / 0.4)


def test_wdes2_and_wdes3_directions() -> None:
    table = (applications(20, 10, disability="no") + applications(10, 2, disability="yes")
             + applications(5, 5, disability="not-stated"))
    wdes2 = indicators.wdes2(table)[0]
    assert (wdes2.first.group, wdes2.second.group) == ("non-disabled", "disabled")
    assert wdes2.ratio == pytest.approx(0.5 / 0.2)
    assert wdes2.excluded == 5
    staff = (people(2, disability="yes", entered_formal_capability=True)
             + people(18, disability="yes")
             + people(5, disability="no", entered_formal_capability=True)
             + people(195, disability="no"))
    wdes3 = indicators.wdes3([(SNAPSHOT, staff), (PREVIOUS, staff)])
    assert (wdes3.first.group, wdes3.second.group) == ("disabled", "non-disabled")
    assert wdes3.ratio == pytest.approx((4 / 40) / (10 / 400))
    assert wdes3.snapshots == (PREVIOUS, SNAPSHOT)


def test_wres1_share_of_whole_band_headcount_with_wilson_interval() -> None:
    staff = (people(6, "white-british", band="8a") + people(3, "asian-indian", band="8a")
             + people(1, "not-stated", band="8a")
             + people(4, "asian-indian", band="5", clinical=False) + people(6, band="5"))
    shares = {s.by: s for s in indicators.wres1(staff)}
    band_8a = shares[(("band", "8a"),)]
    assert (band_8a.count, band_8a.total, band_8a.share) == (3, 10, pytest.approx(30.0))
    assert dict(band_8a.counts) == {"white": 6, "global-majority": 3, "not-stated": 1}
    assert band_8a.ci == pytest.approx((10.779, 60.322), abs=1e-3)
    assert shares[()].share == pytest.approx(100 * 7 / 20)
    assert shares[(("band", "5"), ("clinical", "no"))].share == pytest.approx(100.0)
    assert shares[(("band", "5"), ("clinical", "yes"))].share == pytest.approx(0.0)
    assert (("band", "9"),) not in shares


def test_wdes1_clusters() -> None:
    staff = (people(2, band="8c", disability="yes") + people(8, band="vsm")
             + people(5, band="3", disability="not-stated"))
    shares = {s.by: s for s in indicators.wdes1(staff)}
    assert shares[(("cluster", "afc-8c-vsm"),)].share == pytest.approx(20.0)
    assert shares[(("cluster", "afc-1-4"),)].share == pytest.approx(0.0)
    assert dict(shares[(("cluster", "afc-1-4"),)].counts)["not-stated"] == 5


def test_newcombe_method_10_published_example() -> None:
    # Newcombe (1998), example (a): 56/70 - 48/80 = 0.175, 95% CI 0.0524 to 0.3339.
    low, high = newcombe_difference(56, 70, 48, 80)
    assert (round(low, 4), round(high, 4)) == (0.0524, 0.3339)


def test_wres9_board_minus_workforce_for_each_membership() -> None:
    staff = people(70) + people(30, "black-african")
    board = ([member("asian-indian"), member("black-african")] + [member() for _ in range(8)]
             + [member("asian-chinese", voting=False, executive=True),
                member(voting=False, executive=True)])
    results = {d.membership: d for d in indicators.wres9(board, staff)}
    assert results["voting"].difference == pytest.approx(20.0 - 30.0)
    assert (results["voting"].board.count, results["voting"].board.total) == (2, 10)
    assert results["executive"].difference == pytest.approx(50.0 - 30.0)
    assert results["all"].difference == pytest.approx(100 * 3 / 12 - 30.0)
    low, high = newcombe_difference(2, 10, 30, 100)
    assert results["voting"].ci == pytest.approx((100 * low, 100 * high))


def test_wdes10_and_board_composed_with_executives_from_the_staff_record() -> None:
    staff = people(95) + people(5, band="vsm", board_voting_member=True, disability="yes")
    non_executives = [member(disability="no") for _ in range(5)]
    board = indicators.compose_board(non_executives, staff)
    assert len(board) == 10
    assert sum(m.executive for m in board) == 5
    results = {d.membership: d for d in indicators.wdes10(board, staff)}
    assert results["voting"].difference == pytest.approx(50.0 - 5.0)
    # A board file that lists its executives is used as it is.
    listed = [*non_executives, member(executive=True)]
    assert indicators.compose_board(listed, staff) == tuple(listed)


def test_declaration_rates() -> None:
    staff = people(8) + people(2, "not-stated", disability="not-stated")
    rates = {(d.characteristic, d.population, d.by): d for d in indicators.declarations(
        staff, [application("not-stated")], [member()])}
    assert rates["ethnicity", "staff", ()].rate == pytest.approx(80.0)
    assert rates["disability", "staff", (("band", "5"),)].rate == pytest.approx(80.0)
    assert rates["ethnicity", "applicants", ()].rate == pytest.approx(0.0)
    assert rates["ethnicity", "board", ()].rate == pytest.approx(100.0)


def test_one_person_per_group_still_computes() -> None:
    result = indicators.wres3([(SNAPSHOT, [person(entered_formal_disciplinary=True),
                                           person("asian-indian")])])
    assert result.ratio == 0.0
