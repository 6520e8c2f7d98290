"""Pay gaps by sex, ethnicity and disability: the six gender pay gap measures for each.

The Equality Act 2010 (Specific Duties and Public Authorities) Regulations 2017 set six measures
on a 31 March snapshot; NHS England's EDI improvement plan asks for the same measures by
ethnicity and disability:

1. mean hourly pay gap and 2. median hourly pay gap: (reference - comparison) / reference, in
   percent of the reference group's pay, over people with an hourly pay figure;
3. mean bonus gap and 4. median bonus gap: the same over people who received bonus pay;
5. the proportion of each group receiving bonus pay;
6. the proportion of each group in each pay quartile: everyone with an hourly pay figure in
   either group is ranked by hourly pay and split into four sections as equal as possible (one
   left over goes to the lower section; two to the lower and upper middle; three to the lower,
   lower middle and upper middle); people on the same rate who straddle a boundary are ordered
   so that each group's share of that rate is the same on both sides, as far as possible.

Reference groups: male (sex), White (ethnicity), non-disabled (disability). A positive gap means
the comparison group is paid less. People in neither group (not stated, other) are left out and
counted in ``excluded``. Bonus measures are None unless bonus pay was supplied.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Final, Literal

from analysis.workforce.records import StaffRecord
from analysis.workforce.vocabulary import (
    DISABLED,
    GLOBAL_MAJORITY,
    NON_DISABLED,
    WHITE,
    disability_group,
    wres_group,
)

Characteristic = Literal["sex", "ethnicity", "disability"]
QUARTILES: Final = ("lower", "lower-middle", "upper-middle", "upper")

COMPARISONS: Final[dict[Characteristic, tuple[Callable[[StaffRecord], str], str, str]]] = {
    "sex": (lambda s: s.sex, "male", "female"),
    "ethnicity": (lambda s: wres_group(s.ethnicity), WHITE, GLOBAL_MAJORITY),
    "disability": (lambda s: disability_group(s.disability), NON_DISABLED, DISABLED),
}


@dataclass(frozen=True)
class Quartile:
    """One pay quartile: how many of each group are in it."""

    name: str
    reference: int
    comparison: int

    @property
    def total(self) -> int:
        return self.reference + self.comparison

    def share(self, group: Literal["reference", "comparison"]) -> float | None:
        """Percent of the quartile in ``group``."""
        count = self.reference if group == "reference" else self.comparison
        return 100 * count / self.total if self.total else None


@dataclass(frozen=True)
class Gap:
    """Mean and median of each group and the gaps between them (percent of the reference)."""

    reference_n: int
    comparison_n: int
    reference_mean: float | None
    comparison_mean: float | None
    reference_median: float | None
    comparison_median: float | None

    @property
    def mean_gap(self) -> float | None:
        return _gap(self.reference_mean, self.comparison_mean)

    @property
    def median_gap(self) -> float | None:
        return _gap(self.reference_median, self.comparison_median)


@dataclass(frozen=True)
class Bonus:
    """Bonus measures: the gaps among those who received bonus pay (``paid``), and the
    proportion of each group (``eligible``: everyone in it with a bonus figure) who did."""

    paid: Gap
    reference_eligible: int
    comparison_eligible: int

    @property
    def reference_proportion(self) -> float | None:
        return _percent(self.paid.reference_n, self.reference_eligible)

    @property
    def comparison_proportion(self) -> float | None:
        return _percent(self.paid.comparison_n, self.comparison_eligible)


@dataclass(frozen=True)
class PayGap:
    """The six measures for one characteristic. ``excluded``: staff in neither group or (for
    hourly measures) without an hourly pay figure."""

    characteristic: Characteristic
    reference: str
    comparison: str
    hourly: Gap
    quartiles: tuple[Quartile, ...]
    bonus: Bonus | None
    excluded: int


def _gap(reference: float | None, comparison: float | None) -> float | None:
    if reference is None or comparison is None or reference == 0:
        return None
    return 100 * (reference - comparison) / reference


def _percent(count: int, total: int) -> float | None:
    return 100 * count / total if total else None


def _gap_of(reference: Sequence[float], comparison: Sequence[float]) -> Gap:
    return Gap(
        reference_n=len(reference), comparison_n=len(comparison),
        reference_mean=statistics.fmean(reference) if reference else None,
        comparison_mean=statistics.fmean(comparison) if comparison else None,
        reference_median=statistics.median(reference) if reference else None,
        comparison_median=statistics.median(comparison) if comparison else None)


def quartile_sizes(n: int) -> tuple[int, int, int, int]:
    """Sizes of the lower, lower middle, upper middle and upper sections of ``n`` people."""
    q, r = divmod(n, 4)
    extra = {0: (0, 0, 0, 0), 1: (1, 0, 0, 0), 2: (1, 0, 1, 0), 3: (1, 1, 1, 0)}[r]
    return (q + extra[0], q + extra[1], q + extra[2], q + extra[3])


def rank(people: Sequence[tuple[float, bool]]) -> list[bool]:
    """(pay, in comparison group) pairs ranked by pay, lowest first, as the regulations ask:
    within one rate the two groups are interleaved in proportion (the i-th of a group's k
    people at that rate sits at position (i + 0.5) / k of the block), so that wherever a
    quartile boundary cuts the block each side gets the same mix, as far as whole people allow.
    Returns the group flags in ranked order."""
    ranked: list[bool] = []
    for _, block in groupby(sorted(people, key=lambda p: p[0]), key=lambda p: p[0]):
        flags = [flag for _, flag in block]
        sizes = Counter(flags)
        seen: Counter[bool] = Counter()
        keyed = []
        for flag in flags:
            keyed.append(((seen[flag] + 0.5) / sizes[flag], flag))
            seen[flag] += 1
        ranked.extend(flag for _, flag in sorted(keyed))
    return ranked


def quartiles(people: Sequence[tuple[float, bool]]) -> tuple[Quartile, ...]:
    """The four pay quartiles of (pay, in comparison group) pairs."""
    ranked = rank(people)
    result = []
    start = 0
    for name, size in zip(QUARTILES, quartile_sizes(len(ranked)), strict=True):
        section = ranked[start:start + size]
        comparison = sum(section)
        result.append(Quartile(name, reference=len(section) - comparison, comparison=comparison))
        start += size
    return tuple(result)


def pay_gap(staff: Sequence[StaffRecord], characteristic: Characteristic) -> PayGap:
    """The six measures for one characteristic (see the module docstring)."""
    group_of, reference, comparison = COMPARISONS[characteristic]
    in_groups = [(s, group_of(s) == comparison) for s in staff if group_of(s) in (reference,
                                                                                   comparison)]
    paid = [(s.hourly_pay, flag) for s, flag in in_groups if s.hourly_pay is not None]
    hourly = _gap_of([p for p, flag in paid if not flag], [p for p, flag in paid if flag])
    bonus = None
    if any(s.bonus_pay is not None for s in staff):
        eligible = [(s.bonus_pay, flag) for s, flag in in_groups if s.bonus_pay is not None]
        received = [(b, flag) for b, flag in eligible if b > 0]
        bonus = Bonus(
            paid=_gap_of([b for b, flag in received if not flag], [b for b, flag in received if flag]),
            reference_eligible=sum(1 for _, flag in eligible if not flag),
            comparison_eligible=sum(1 for _, flag in eligible if flag))
    return PayGap(characteristic=characteristic, reference=reference, comparison=comparison,
                  hourly=hourly, quartiles=quartiles(paid), bonus=bonus,
                  excluded=len(staff) - len(paid))


def pay_gaps(staff: Sequence[StaffRecord]) -> tuple[PayGap, ...]:
    """Pay gaps by sex, ethnicity and disability; empty if nobody has an hourly pay figure."""
    if not any(s.hourly_pay is not None for s in staff):
        return ()
    return tuple(pay_gap(staff, c) for c in COMPARISONS)
