"""Representation by band against the trust's Model Employer trajectory.

NHS England's Model Employer strategy (2019) asks each organisation to set its own target for
BME representation in each band, especially 8a and above, with a trajectory per band and year.
A target here is a share of the band's whole headcount (not stated included, as WRES 1 counts
it); the gap in people is how many more BME staff the band would need, at its current size, to
reach the target (negative: that many above it).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from analysis.workforce import WorkforceError
from analysis.workforce.records import StaffRecord, Target
from analysis.workforce.vocabulary import BANDS, GLOBAL_MAJORITY, wres_group


@dataclass(frozen=True)
class BandTarget:
    """A band's BME representation at a snapshot against the target for that year."""

    band: str
    year: int
    headcount: int
    bme: int
    target: float

    @property
    def share(self) -> float | None:
        """Percent of the band's headcount who are BME."""
        return 100 * self.bme / self.headcount if self.headcount else None

    @property
    def target_people(self) -> int:
        """BME staff the band needs at its current size to meet the target (rounded up)."""
        # Rounded first so that e.g. 30% of 10 (3.0000000000000004 in floating point) is 3.
        return math.ceil(round(self.target * self.headcount / 100, 9))

    @property
    def gap_people(self) -> int:
        """``target_people - bme``: positive means short of the target by that many people."""
        return self.target_people - self.bme


def against_targets(staff: Sequence[StaffRecord], targets: Sequence[Target], year: int) -> tuple[
        BandTarget, ...]:
    """Every band with a target for ``year`` (the year of the 31 March snapshot), in band order,
    whether or not the band has staff."""
    headcount = Counter(s.band for s in staff)
    bme = Counter(s.band for s in staff if wres_group(s.ethnicity) == GLOBAL_MAJORITY)
    wanted = {t.band: t.share for t in targets if t.year == year}
    return tuple(BandTarget(band, year, headcount[band], bme[band], wanted[band])
                 for band in BANDS if band in wanted)


def trajectory(start_year: int, start: Mapping[str, float], end_year: int,
               end: Mapping[str, float]) -> tuple[Target, ...]:
    """Targets rising in a straight line from ``start`` shares (percent, per band) in
    ``start_year`` to ``end`` shares in ``end_year``, one per band and year, shares rounded to
    one decimal. Bands must be the same in both."""
    if end_year <= start_year:
        raise WorkforceError("the trajectory must end after it starts")
    if set(start) != set(end):
        raise WorkforceError("the start and end of a trajectory must name the same bands")
    steps = end_year - start_year
    return tuple(Target(year=start_year + i, band=band,
                        share=round(start[band] + (end[band] - start[band]) * i / steps, 1))
                 for band in BANDS if band in start for i in range(steps + 1))
