"""WRES indicators 1-4 and 9 and WDES metrics 1-3 and 10, computed from the trust's own records.

Definitions follow NHS England's WRES and WDES technical guidance (WDES 2023, version 5):

- WRES 1: percentage of staff in each Agenda for Change band 1-9 and VSM (and the medical and
  dental subgroups) who are BME, compared with the overall workforce; clinical and non-clinical
  staff separately as well as together. Share of the band's whole headcount (not stated
  included), with a Wilson 95% interval.
- WRES 2: relative likelihood of White applicants being appointed from shortlisting compared
  with BME applicants: (White appointed / White shortlisted) / (BME appointed / BME
  shortlisted). Above 1: White shortlisted applicants are more likely to be appointed.
- WRES 3: relative likelihood of BME staff entering the formal disciplinary process (entry into
  a formal disciplinary investigation) compared with White staff: BME rate / White rate. The
  guidance bases it on a two-year rolling average of the current and the previous year: the
  two years' events and headcounts are added (their averages give the same ratio). Above 1: BME
  staff are more likely to enter the process.
- WRES 4: relative likelihood of White staff accessing non-mandatory training and CPD compared
  with BME staff: White rate / BME rate. Above 1: White staff are more likely to access it.
- WRES 9: BME share of the board's voting membership minus the BME share of the overall
  workforce, in percentage points (also for executive membership and the whole board).
- WDES 1, 2, 3 and 10: the same for Disabled and non-disabled staff. WDES 1 uses the clusters
  of `vocabulary.WDES_CLUSTERS`; WDES 2 is non-disabled rate / Disabled rate (above 1:
  non-disabled shortlisted applicants are more likely to be appointed); WDES 3 is Disabled rate
  / non-disabled rate of entering the formal capability process on grounds of performance
  (two-year rolling average, as WRES 3); WDES 10 as WRES 9.

People whose ethnicity (or disability) is not stated are left out of both sides of a ratio and
counted in ``excluded``; declaration rates are reported separately.

Intervals: relative likelihoods use the Katz log method (`analysis.statistics.ratio_interval`,
with the Haldane-Anscombe correction when a group has no events); shares use the Wilson score
interval; board differences use Newcombe's hybrid score interval for a difference of two
proportions (method 10), treating board and workforce as independent samples. Every figure is a
census of the trust, so an interval describes how much the underlying rate could differ by
chance, not sampling error: read a ratio whose interval includes 1 as weak evidence.

NHS England ("A fair experience for all", 2019) treats 0.80-1.25 as the non-adverse range for
relative likelihoods; it is carried as data (``reference_band``) to draw beside the figure, and
nothing here turns it into a verdict.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Final

from analysis.statistics import Z_95, ratio_interval, wilson_interval
from analysis.workforce.records import Application, BoardMember, StaffRecord
from analysis.workforce.vocabulary import (
    BANDS,
    DISABLED,
    GLOBAL_MAJORITY,
    NON_DISABLED,
    NOT_STATED,
    WDES_CLUSTERS,
    WHITE,
    disability_group,
    wdes_cluster,
    wres_group,
)

REFERENCE_BAND: Final = (0.8, 1.25)
KATZ: Final = ("Katz log method for the ratio of two proportions; 0.5 added to every cell "
               "(Haldane-Anscombe) when a group has no events")
WILSON: Final = "Wilson score interval"
NEWCOMBE: Final = "Newcombe hybrid score interval for a difference of proportions (method 10)"

By = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Definition:
    """What an indicator measures, which way round its ratio is, and how it is estimated."""

    id: str
    title: str
    direction: str
    ci_method: str
    reference_band: tuple[float, float] | None = None
    rolling_years: int = 1


DEFINITIONS: Final = {d.id: d for d in (
    Definition("wres1", "BME share of staff in each band, compared with the overall workforce",
               "percent of the band's headcount (not stated included) who are BME", WILSON),
    Definition("wres2", "Relative likelihood of White applicants being appointed from "
               "shortlisting compared with BME applicants",
               "White rate / BME rate: above 1 means White shortlisted applicants are more likely "
               "to be appointed", KATZ, REFERENCE_BAND),
    Definition("wres3", "Relative likelihood of BME staff entering the formal disciplinary "
               "process compared with White staff",
               "BME rate / White rate: above 1 means BME staff are more likely to enter it", KATZ,
               REFERENCE_BAND, rolling_years=2),
    Definition("wres4", "Relative likelihood of White staff accessing non-mandatory training "
               "and CPD compared with BME staff",
               "White rate / BME rate: above 1 means White staff are more likely to access it",
               KATZ, REFERENCE_BAND),
    Definition("wres9", "BME share of the board's voting membership minus the BME share of the "
               "overall workforce",
               "percentage points: below 0 means the board is less diverse than the workforce",
               NEWCOMBE),
    Definition("wdes1", "Disabled share of staff in each band cluster, compared with the overall "
               "workforce", "percent of the cluster's headcount (not stated included) who "
               "declared a disability", WILSON),
    Definition("wdes2", "Relative likelihood of non-disabled applicants being appointed from "
               "shortlisting compared with Disabled applicants",
               "non-disabled rate / Disabled rate: above 1 means non-disabled shortlisted "
               "applicants are more likely to be appointed", KATZ, REFERENCE_BAND),
    Definition("wdes3", "Relative likelihood of Disabled staff entering the formal capability "
               "process (on grounds of performance) compared with non-disabled staff",
               "Disabled rate / non-disabled rate: above 1 means Disabled staff are more likely "
               "to enter it", KATZ, REFERENCE_BAND, rolling_years=2),
    Definition("wdes10", "Disabled share of the board's voting membership minus the Disabled "
               "share of the overall workforce",
               "percentage points: below 0 means fewer Disabled people on the board than in the "
               "workforce", NEWCOMBE),
)}


@dataclass(frozen=True)
class GroupRate:
    """``count`` of the ``total`` members of ``group`` had the event (e.g. were appointed)."""

    group: str
    count: int
    total: int

    @property
    def rate(self) -> float | None:
        return self.count / self.total if self.total else None


@dataclass(frozen=True)
class RelativeLikelihood:
    """``first.rate / second.rate`` with its 95% interval; see `DEFINITIONS` for the direction.

    ``ratio`` is None when either group is empty; ``0.0`` when only ``first`` has no events,
    ``inf`` when only ``second`` has none, ``nan`` when neither has any. ``ci`` is None when the
    ratio is. ``excluded``: records left out because the characteristic was not stated.
    ``snapshots``: the 31 March snapshots whose records were pooled (two for a rolling
    average). ``by``: the breakdown, empty at trust level.
    """

    id: str
    first: GroupRate
    second: GroupRate
    ratio: float | None
    ci: tuple[float, float] | None
    excluded: int
    snapshots: tuple[date, ...] = ()
    by: By = ()
    reference_band: tuple[float, float] | None = REFERENCE_BAND
    ci_method: str = KATZ


@dataclass(frozen=True)
class Share:
    """The share (percent) of ``total`` who are in ``group``, with its Wilson 95% interval.

    ``counts`` holds every group's count (they add up to ``total``), so the figure can be
    re-derived and put through disclosure control. ``share`` and ``ci`` are None when
    ``total`` is 0.
    """

    id: str
    group: str
    count: int
    total: int
    counts: tuple[tuple[str, int], ...]
    by: By = ()
    share: float | None = field(init=False)
    ci: tuple[float, float] | None = field(init=False)

    def __post_init__(self) -> None:
        if self.total:
            low, high = wilson_interval(self.count, self.total)
            object.__setattr__(self, "share", 100 * self.count / self.total)
            object.__setattr__(self, "ci", (100 * low, 100 * high))
        else:
            object.__setattr__(self, "share", None)
            object.__setattr__(self, "ci", None)


@dataclass(frozen=True)
class BoardDifference:
    """Board share minus workforce share of one group, in percentage points, for one kind of
    membership (``voting``, ``executive`` or ``all``), with Newcombe's 95% interval."""

    id: str
    membership: str
    board: Share
    workforce: Share
    difference: float | None
    ci: tuple[float, float] | None


def relative_likelihood(indicator: str, outcomes: Iterable[tuple[str, bool]], first: str,
                        second: str, *, snapshots: tuple[date, ...] = (), by: By = ()) -> (
        RelativeLikelihood):
    """The relative likelihood ``rate(first) / rate(second)`` from (group, had event) pairs.

    Pairs whose group is neither ``first`` nor ``second`` (not stated) are counted as excluded.
    """
    counts: Counter[tuple[str, bool]] = Counter(outcomes)
    a = GroupRate(first, counts[first, True], counts[first, True] + counts[first, False])
    b = GroupRate(second, counts[second, True], counts[second, True] + counts[second, False])
    excluded = sum(counts.values()) - a.total - b.total
    ratio: float | None = None
    ci: tuple[float, float] | None = None
    if a.total and b.total:
        estimate = ratio_interval(a.count, a.total, b.count, b.total)
        ratio = estimate.ratio
        ci = None if math.isnan(estimate.ratio) else (estimate.low, estimate.high)
    return RelativeLikelihood(id=indicator, first=a, second=b, ratio=ratio, ci=ci,
                              excluded=excluded, snapshots=snapshots, by=by,
                              reference_band=DEFINITIONS[indicator].reference_band)


def share(indicator: str, groups: Iterable[str], group: str, *, by: By = (),
          order: Sequence[str] = ()) -> Share:
    """The share of ``group`` among ``groups`` (one entry per person)."""
    counts = Counter(groups)
    keys = [*order, *sorted(k for k in counts if k not in order)]
    return Share(id=indicator, group=group, count=counts[group], total=sum(counts.values()),
                 counts=tuple((k, counts[k]) for k in keys), by=by)


# --- representation (WRES 1, WDES 1) ---------------------------------------------------------

_WRES_ORDER: Final = (WHITE, GLOBAL_MAJORITY, NOT_STATED)
_WDES_ORDER: Final = (NON_DISABLED, DISABLED, NOT_STATED)


def _by_band(indicator: str, staff: Sequence[StaffRecord], key: Callable[[StaffRecord], str],
             keys: Sequence[str], group_of: Callable[[StaffRecord], str], group: str,
             order: Sequence[str], dimension: str) -> tuple[Share, ...]:
    atoms = Counter((key(s), s.clinical, group_of(s)) for s in staff)

    def counted(band: str | None, clinical: bool | None) -> Counter[str]:
        return Counter(_sum_atoms(atoms, band, clinical))

    def share_of(counts: Counter[str], by: By) -> Share:
        keys_ = [*order, *sorted(k for k in counts if k not in order)]
        return Share(id=indicator, group=group, count=counts[group], total=counts.total(),
                     counts=tuple((k, counts[k]) for k in keys_), by=by)

    shares = [share_of(counted(None, None), ())]
    for clinical in (None, True, False):
        for k in keys:
            counts = counted(k, clinical)
            if not counts.total():
                continue
            by: By = ((dimension, k),) if clinical is None else (
                (dimension, k), ("clinical", "yes" if clinical else "no"))
            shares.append(share_of(counts, by))
    return tuple(shares)


def _sum_atoms(atoms: Counter[tuple[str, bool, str]], band: str | None,
               clinical: bool | None) -> dict[str, int]:
    totals: dict[str, int] = {}
    for (own_band, own_clinical, group), n in atoms.items():
        if (band is None or own_band == band) and (clinical is None or own_clinical is clinical):
            totals[group] = totals.get(group, 0) + n
    return totals


def wres1(staff: Sequence[StaffRecord]) -> tuple[Share, ...]:
    """BME share of the whole workforce (``by`` empty), then of each band present (``by``
    band), then of each band for clinical and non-clinical staff separately (``by`` band and
    clinical yes/no)."""
    return _by_band("wres1", staff, lambda s: s.band, BANDS, lambda s: wres_group(s.ethnicity),
                    GLOBAL_MAJORITY, _WRES_ORDER, "band")


def wdes1(staff: Sequence[StaffRecord]) -> tuple[Share, ...]:
    """Disabled share of the whole workforce, then of each WDES cluster present, then of each
    cluster for clinical and non-clinical staff separately (``by`` cluster[, clinical])."""
    return _by_band("wdes1", staff, lambda s: wdes_cluster(s.band), tuple(WDES_CLUSTERS),
                    lambda s: disability_group(s.disability), DISABLED, _WDES_ORDER, "cluster")


# --- appointment from shortlisting (WRES 2, WDES 2) -------------------------------------------


def wres2(applications: Sequence[Application], *, by_band: bool = False) -> tuple[
        RelativeLikelihood, ...]:
    """WRES 2 over shortlisted applications: trust level, then (``by_band``) each band.

    Appointed means appointed from shortlisting: applications not shortlisted are not counted,
    even when appointed through a route without shortlisting.
    """
    return _appointment("wres2", applications, lambda a: wres_group(a.ethnicity), WHITE,
                        GLOBAL_MAJORITY, by_band)


def wdes2(applications: Sequence[Application], *, by_band: bool = False) -> tuple[
        RelativeLikelihood, ...]:
    """WDES 2 over shortlisted applications (non-disabled rate / Disabled rate)."""
    return _appointment("wdes2", applications, lambda a: disability_group(a.disability),
                        NON_DISABLED, DISABLED, by_band)


def _appointment(indicator: str, applications: Sequence[Application],
                 group_of: Callable[[Application], str], first: str, second: str,
                 by_band: bool) -> tuple[RelativeLikelihood, ...]:
    shortlisted = [a for a in applications if a.shortlisted]
    results = [relative_likelihood(indicator, ((group_of(a), a.appointed) for a in shortlisted),
                                   first, second)]
    if by_band:
        bands = Counter(a.band for a in shortlisted)
        for band in BANDS:
            if bands[band]:
                results.append(relative_likelihood(
                    indicator, ((group_of(a), a.appointed) for a in shortlisted if a.band == band),
                    first, second, by=(("band", band),)))
    return tuple(results)


# --- formal processes and training (WRES 3, WRES 4, WDES 3) ----------------------------------

Year = tuple[date, Sequence[StaffRecord]]


def wres3(years: Sequence[Year]) -> RelativeLikelihood:
    """WRES 3 from the current year's snapshot and, when given, the previous one (two-year
    rolling average: pass ``[(snapshot, staff), (previous snapshot, previous staff)]``)."""
    return relative_likelihood(
        "wres3", ((wres_group(s.ethnicity), s.entered_formal_disciplinary)
                  for _, staff in years for s in staff),
        GLOBAL_MAJORITY, WHITE, snapshots=_snapshots(years))


def wres4(staff: Sequence[StaffRecord], snapshot: date | None = None) -> RelativeLikelihood:
    """WRES 4 for one year (no rolling average in the guidance)."""
    return relative_likelihood(
        "wres4", ((wres_group(s.ethnicity), s.accessed_non_mandatory_training) for s in staff),
        WHITE, GLOBAL_MAJORITY, snapshots=(snapshot,) if snapshot else ())


def wdes3(years: Sequence[Year]) -> RelativeLikelihood:
    """WDES 3, two-year rolling average as `wres3`."""
    return relative_likelihood(
        "wdes3", ((disability_group(s.disability), s.entered_formal_capability)
                  for _, staff in years for s in staff),
        DISABLED, NON_DISABLED, snapshots=_snapshots(years))


def _snapshots(years: Sequence[Year]) -> tuple[date, ...]:
    return tuple(sorted(snapshot for snapshot, _ in years))


# --- the board (WRES 9, WDES 10) -------------------------------------------------------------


def compose_board(board: Sequence[BoardMember], staff: Sequence[StaffRecord]) -> tuple[
        BoardMember, ...]:
    """The whole board: the board file's members; if it lists no executive directors, the staff
    snapshot's voting board members are added as voting executive directors (executives are in
    ESR, non-executives are not)."""
    if any(m.executive for m in board):
        return tuple(board)
    executives = tuple(BoardMember(voting=True, executive=True, ethnicity=s.ethnicity,
                                   disability=s.disability, sex=s.sex)
                       for s in staff if s.board_voting_member)
    return (*board, *executives)


def board_source(imported: Sequence[BoardMember], board: Sequence[BoardMember]) -> str:
    """Where the board's composition came from: ``board file``, ``board file and staff
    record`` (executives added from the staff snapshot), ``staff record`` (voting executives
    only: no board file imported) or ``none``."""
    if not board:
        return "none"
    if not imported:
        return "staff record"
    return "board file" if len(board) == len(imported) else "board file and staff record"


MEMBERSHIPS: Final[dict[str, Callable[[BoardMember], bool]]] = {
    "voting": lambda m: m.voting,
    "executive": lambda m: m.executive,
    "all": lambda m: True,
}


def wres9(board: Sequence[BoardMember], staff: Sequence[StaffRecord]) -> tuple[
        BoardDifference, ...]:
    """WRES 9 for voting membership (the headline), executive membership and the whole board.
    ``board`` is the whole board (see `compose_board`); with no members of a kind the
    difference and its interval are None."""
    return _board("wres9", board, staff, lambda e, _: wres_group(e), GLOBAL_MAJORITY, _WRES_ORDER)


def wdes10(board: Sequence[BoardMember], staff: Sequence[StaffRecord]) -> tuple[
        BoardDifference, ...]:
    """WDES 10 for voting membership, executive membership and the whole board."""
    return _board("wdes10", board, staff, lambda _, d: disability_group(d), DISABLED, _WDES_ORDER)


def _board(indicator: str, board: Sequence[BoardMember], staff: Sequence[StaffRecord],
           group_of: Callable[[str, str], str], group: str, order: Sequence[str]) -> tuple[
        BoardDifference, ...]:
    workforce = share(indicator, (group_of(s.ethnicity, s.disability) for s in staff), group,
                      order=order)
    results = []
    for membership, member_of in MEMBERSHIPS.items():
        members = share(indicator, (group_of(m.ethnicity, m.disability) for m in board
                                    if member_of(m)), group, by=(("membership", membership),),
                        order=order)
        difference = ci = None
        if members.share is not None and workforce.share is not None:
            difference = members.share - workforce.share
            low, high = newcombe_difference(members.count, members.total, workforce.count,
                                            workforce.total)
            ci = (100 * low, 100 * high)
        results.append(BoardDifference(id=indicator, membership=membership, board=members,
                                       workforce=workforce, difference=difference, ci=ci))
    return tuple(results)


def newcombe_difference(a: int, a_n: int, b: int, b_n: int, z: float = Z_95) -> tuple[
        float, float]:
    """Newcombe's hybrid score interval (method 10) for ``a/a_n - b/b_n``, as fractions."""
    p1, p2 = a / a_n, b / b_n
    l1, u1 = wilson_interval(a, a_n, z)
    l2, u2 = wilson_interval(b, b_n, z)
    difference = p1 - p2
    low = difference - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = difference + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return max(-1.0, low), min(1.0, high)


# --- declaration rates -----------------------------------------------------------------------


@dataclass(frozen=True)
class Declaration:
    """How many of ``total`` people stated their ethnicity (or disability): ``rate`` percent."""

    characteristic: str
    population: str
    stated: int
    total: int
    by: By = ()

    @property
    def rate(self) -> float | None:
        return 100 * self.stated / self.total if self.total else None


def declarations(staff: Sequence[StaffRecord], applications: Sequence[Application],
                 board: Sequence[BoardMember]) -> tuple[Declaration, ...]:
    """Ethnicity and disability declaration rates of staff (overall and by band), applicants and
    the board."""
    results = []
    for characteristic in ("ethnicity", "disability"):
        def stated(value: StaffRecord | Application | BoardMember, c: str = characteristic) -> bool:
            return str(getattr(value, c)) != NOT_STATED

        results.append(Declaration(characteristic, "staff", sum(map(stated, staff)), len(staff)))
        bands = Counter(s.band for s in staff)
        for band in BANDS:
            if bands[band]:
                in_band = [s for s in staff if s.band == band]
                results.append(Declaration(characteristic, "staff", sum(map(stated, in_band)),
                                           len(in_band), by=(("band", band),)))
        results.append(Declaration(characteristic, "applicants", sum(map(stated, applications)),
                                   len(applications)))
        results.append(Declaration(characteristic, "board", sum(map(stated, board)), len(board)))
    return tuple(results)
