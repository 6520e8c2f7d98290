"""The six pay gap measures by hand, quartiles with ties, and bonus measures only when supplied."""

from __future__ import annotations

import pytest

from analysis.workforce import paygap
from tests.analysis.workforce_records import person


def test_mean_and_median_hourly_gap_by_hand() -> None:
    staff = [person(sex="male", hourly_pay=p) for p in (10.0, 20.0, 30.0)] + [
        person(sex="female", hourly_pay=p) for p in (10.0, 15.0)] + [
        person(sex="other", hourly_pay=99.0), person(sex="male")]
    gap = paygap.pay_gap(staff, "sex")
    assert (gap.reference, gap.comparison) == ("male", "female")
    assert gap.hourly.mean_gap == pytest.approx(100 * (20 - 12.5) / 20)
    assert gap.hourly.median_gap == pytest.approx(100 * (20 - 12.5) / 20)
    assert (gap.hourly.reference_n, gap.hourly.comparison_n) == (3, 2)
    assert gap.excluded == 2  # "other", and a man without an hourly pay figure
    assert gap.bonus is None  # no bonus pay supplied


def test_ethnicity_and_disability_gaps_leave_out_not_stated() -> None:
    staff = [person("white-british", hourly_pay=20.0), person("asian-indian", hourly_pay=15.0),
             person("not-stated", hourly_pay=50.0, disability="yes"),
             person("white-irish", hourly_pay=30.0, disability="yes")]
    ethnicity = paygap.pay_gap(staff, "ethnicity")
    assert ethnicity.hourly.mean_gap == pytest.approx(100 * (25 - 15) / 25)
    assert ethnicity.excluded == 1
    disability = paygap.pay_gap(staff, "disability")
    assert (disability.reference, disability.comparison) == ("non-disabled", "disabled")
    assert disability.hourly.mean_gap == pytest.approx(100 * (17.5 - 40) / 17.5)


def test_a_negative_gap_means_the_comparison_group_is_paid_more() -> None:
    staff = [person(sex="male", hourly_pay=10.0), person(sex="female", hourly_pay=12.0)]
    assert paygap.pay_gap(staff, "sex").hourly.mean_gap == pytest.approx(-20.0)


@pytest.mark.parametrize(("n", "sizes"), [
    (4, (1, 1, 1, 1)), (5, (2, 1, 1, 1)), (6, (2, 1, 2, 1)), (7, (2, 2, 2, 1)), (0, (0, 0, 0, 0)),
])
def test_quartile_sizes(n: int, sizes: tuple[int, int, int, int]) -> None:
    assert paygap.quartile_sizes(n) == sizes


def test_quartiles_split_people_on_one_rate_in_proportion() -> None:
    # Eight people on one rate, half of them women: each quartile gets one man and one woman,
    # not the men in the lower quartiles and the women in the upper ones.
    people = [(15.0, False)] * 4 + [(15.0, True)] * 4
    quartiles = paygap.quartiles(people)
    assert [(q.reference, q.comparison) for q in quartiles] == [(1, 1)] * 4
    # A rate shared 3:1 across a boundary keeps roughly that mix on both sides.
    people = [(10.0, True)] * 4 + [(20.0, False)] * 6 + [(20.0, True)] * 2 + [(30.0, False)] * 4
    quartiles = paygap.quartiles(people)
    assert [(q.reference, q.comparison) for q in quartiles] == [(0, 4), (3, 1), (3, 1), (4, 0)]


def test_quartile_shares() -> None:
    people = [(float(p), p % 2 == 0) for p in range(1, 9)]
    quartiles = paygap.quartiles(people)
    assert [q.name for q in quartiles] == ["lower", "lower-middle", "upper-middle", "upper"]
    assert all(q.share("comparison") == pytest.approx(50.0) for q in quartiles)


def test_bonus_measures_when_bonus_pay_is_supplied() -> None:
    staff = [person(sex="male", hourly_pay=30.0, bonus_pay=b) for b in (1000.0, 3000.0, 0.0, 0.0)]
    staff += [person(sex="female", hourly_pay=30.0, bonus_pay=b) for b in (1000.0, 0.0, 0.0, 0.0)]
    bonus = paygap.pay_gap(staff, "sex").bonus
    assert bonus is not None
    assert (bonus.reference_proportion, bonus.comparison_proportion) == (50.0, 25.0)
    assert bonus.paid.mean_gap == pytest.approx(100 * (2000 - 1000) / 2000)
    assert bonus.paid.median_gap == pytest.approx(50.0)


def test_no_pay_at_all_gives_no_pay_gaps() -> None:
    assert paygap.pay_gaps([person(), person(sex="male")]) == ()
    assert len(paygap.pay_gaps([person(hourly_pay=10.0)])) == 3
