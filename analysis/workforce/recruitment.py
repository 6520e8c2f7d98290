"""The recruitment funnel, routes of appointment, and the list of unadvertised appointments.

The funnel covers advertised posts (routes ``advertised-external`` and ``advertised-internal``),
where every appointee was shortlisted: applied, shortlisted, interviewed, appointed. Acting-up,
secondments, direct appointments and redeployment often have a single candidate and no
shortlisting; they are counted in `routes` and listed by `unadvertised`, never in the funnel.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from analysis.workforce import WorkforceError
from analysis.workforce.records import Application
from analysis.workforce.vocabulary import (
    ADVERTISED_ROUTES,
    BANDS,
    BROAD_GROUPS,
    DISABLED,
    ETHNICITIES,
    GLOBAL_MAJORITY,
    NON_DISABLED,
    NOT_STATED,
    ROUTES,
    SEXES,
    WHITE,
    broad_group,
    disability_group,
    financial_quarter,
    wres_group,
)

Dimension = Literal["wres_group", "ethnic_group", "ethnicity", "disability", "sex"]
ALL: Final = "all"

# Each dimension: how to read it from an application, and its groups in display order.
DIMENSIONS: Final[dict[Dimension, tuple[Callable[[Application], str], tuple[str, ...]]]] = {
    "wres_group": (lambda a: wres_group(a.ethnicity), (WHITE, GLOBAL_MAJORITY, NOT_STATED)),
    "ethnic_group": (lambda a: broad_group(a.ethnicity), (*BROAD_GROUPS, NOT_STATED)),
    "ethnicity": (lambda a: a.ethnicity, (*ETHNICITIES, NOT_STATED)),
    "disability": (lambda a: disability_group(a.disability), (NON_DISABLED, DISABLED, NOT_STATED)),
    "sex": (lambda a: a.sex, SEXES),
}


@dataclass(frozen=True)
class FunnelRow:
    """Applications to advertised posts by one group (``group`` ``all``: everyone) in one band
    (None: all bands), at each stage."""

    dimension: Dimension
    group: str
    band: str | None
    applied: int
    shortlisted: int
    interviewed: int
    appointed: int

    @property
    def shortlisting_rate(self) -> float | None:
        """Percent of applicants shortlisted."""
        return 100 * self.shortlisted / self.applied if self.applied else None

    @property
    def appointment_rate(self) -> float | None:
        """Percent of shortlisted applicants appointed (the rate WRES 2 compares)."""
        return 100 * self.appointed / self.shortlisted if self.shortlisted else None


def _dimension(dimension: Dimension) -> tuple[Callable[[Application], str], tuple[str, ...]]:
    if dimension not in DIMENSIONS:
        raise WorkforceError(f"unknown dimension {dimension!r}: use one of {', '.join(DIMENSIONS)}")
    return DIMENSIONS[dimension]


def funnel(applications: Sequence[Application], *, dimension: Dimension,
           by_band: bool = False) -> tuple[FunnelRow, ...]:
    """The funnel for each group of ``dimension`` (and ``all``) at trust level, then, with
    ``by_band``, in each band. Groups and bands without applications are left out."""
    group_of, groups = _dimension(dimension)
    # Identical applications are counted once, then their counts added to every row they fall in.
    atoms = Counter((a.band, group_of(a), a.shortlisted, a.interviewed, a.appointed)
                    for a in applications if a.route in ADVERTISED_ROUTES)
    stages: Counter[tuple[str | None, str, str]] = Counter()
    for (own_band, own_group, shortlisted, interviewed, appointed), n in atoms.items():
        for band in (None, own_band) if by_band else (None,):
            for group in (ALL, own_group):
                stages[band, group, "applied"] += n
                stages[band, group, "shortlisted"] += n * shortlisted
                stages[band, group, "interviewed"] += n * interviewed
                stages[band, group, "appointed"] += n * appointed
    rows = []
    for band in (None, *BANDS) if by_band else (None,):
        for group in (ALL, *groups):
            if stages[band, group, "applied"]:
                rows.append(FunnelRow(dimension, group, band, stages[band, group, "applied"],
                                      stages[band, group, "shortlisted"],
                                      stages[band, group, "interviewed"],
                                      stages[band, group, "appointed"]))
    return tuple(rows)


@dataclass(frozen=True)
class RouteShare:
    """Of the ``total`` appointments in a band (None: all) to people of a WRES group (None:
    everyone), ``appointments`` were made through ``route``."""

    band: str | None
    group: str | None
    route: str
    appointments: int
    total: int

    @property
    def share(self) -> float | None:
        return 100 * self.appointments / self.total if self.total else None

    @property
    def advertised(self) -> bool:
        return self.route in ADVERTISED_ROUTES


def routes(applications: Sequence[Application]) -> tuple[RouteShare, ...]:
    """Share of appointments by route: for the trust, each band, each WRES group, and each
    band and group together. Every route is listed for each (band, group) that has appointments,
    zeros included, so the shares of one (band, group) add up to 100."""
    counts: Counter[tuple[str | None, str | None, str]] = Counter()
    for a in applications:
        if not a.appointed:
            continue
        bands: tuple[str | None, ...] = (None, a.band)
        groups: tuple[str | None, ...] = (None, wres_group(a.ethnicity))
        for band in bands:
            for group in groups:
                counts[band, group, a.route] += 1
    totals: Counter[tuple[str | None, str | None]] = Counter()
    for (band, group, _), n in counts.items():
        totals[band, group] += n
    rows: list[RouteShare] = []
    every_band: tuple[str | None, ...] = (None, *BANDS)
    every_group: tuple[str | None, ...] = (None, WHITE, GLOBAL_MAJORITY, NOT_STATED)
    for band in every_band:
        for group in every_group:
            total = totals[band, group]
            if total:
                rows.extend(RouteShare(band, group, route, counts[band, group, route], total)
                            for route in ROUTES)
    return tuple(rows)


@dataclass(frozen=True)
class UnadvertisedAppointment:
    """An appointment made without advertising the post. Deliberately nothing about the person
    appointed: only the post, the route and the quarter of the decision (None if not given)."""

    vacancy_id: str
    band: str
    directorate: str
    route: str
    quarter: str | None


def unadvertised(applications: Sequence[Application]) -> tuple[UnadvertisedAppointment, ...]:
    """Every appointment through a route other than an advertised post, ordered by quarter,
    band and vacancy (never by anything about the appointee)."""
    band_order = {b: i for i, b in enumerate(BANDS)}
    rows = [UnadvertisedAppointment(a.vacancy_id, a.band, a.directorate, a.route,
                                    financial_quarter(a.decision_date) if a.decision_date else None)
            for a in applications if a.appointed and a.route not in ADVERTISED_ROUTES]
    return tuple(sorted(rows, key=lambda r: (r.quarter or "~", band_order[r.band], r.vacancy_id,
                                             r.route)))
