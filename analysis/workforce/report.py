"""Every workforce figure for one reporting period, computed in one call.

A reporting period is a 31 March snapshot of the staff record and the year to it (recruitment,
formal processes and training). The previous period's staff snapshot, when available, gives the
two-year rolling averages of WRES 3 and WDES 3.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from analysis.workforce import indicators, paygap, recruitment, representation
from analysis.workforce.indicators import BoardDifference, Declaration, RelativeLikelihood, Share
from analysis.workforce.paygap import PayGap
from analysis.workforce.records import Application, BoardMember, StaffRecord, Target
from analysis.workforce.recruitment import FunnelRow, RouteShare, UnadvertisedAppointment
from analysis.workforce.representation import BandTarget
from analysis.workforce.vocabulary import check_snapshot


@dataclass(frozen=True)
class PeriodData:
    """The records of one period. ``board`` is the board file as imported (see
    `indicators.compose_board`); ``previous_staff`` is the snapshot a year earlier, if any."""

    snapshot: date
    staff: Sequence[StaffRecord]
    applications: Sequence[Application] = ()
    board: Sequence[BoardMember] = ()
    targets: Sequence[Target] = ()
    previous_staff: Sequence[StaffRecord] | None = None


@dataclass(frozen=True)
class WorkforceReport:
    """All figures of a period, each holding the counts it was computed from."""

    snapshot: date
    wres1: tuple[Share, ...]
    wres2: tuple[RelativeLikelihood, ...]
    wres3: RelativeLikelihood
    wres4: RelativeLikelihood
    wres9: tuple[BoardDifference, ...]
    wdes1: tuple[Share, ...]
    wdes2: tuple[RelativeLikelihood, ...]
    wdes3: RelativeLikelihood
    wdes10: tuple[BoardDifference, ...]
    declarations: tuple[Declaration, ...]
    model_employer: tuple[BandTarget, ...]
    funnel: tuple[FunnelRow, ...]
    routes: tuple[RouteShare, ...]
    unadvertised: tuple[UnadvertisedAppointment, ...]
    pay_gaps: tuple[PayGap, ...]
    board: tuple[BoardMember, ...]
    board_source: str
    data: PeriodData  # the records, for disclosure control of the breakdowns


def build_report(data: PeriodData) -> WorkforceReport:
    """Compute every figure of `WorkforceReport` from one period's records.

    WRES 2 and WDES 2 come at trust level and for each band; the funnel by WRES group for the
    trust and each band, and by detailed and broad ethnic group, disability and sex for the
    trust.
    """
    snapshot = check_snapshot(data.snapshot)
    years: list[indicators.Year] = [(snapshot, data.staff)]
    if data.previous_staff is not None:
        years.append((date(snapshot.year - 1, 3, 31), data.previous_staff))
    board = indicators.compose_board(data.board, data.staff)
    applications = data.applications
    funnel = recruitment.funnel(applications, dimension="wres_group", by_band=True)
    trust_level: tuple[recruitment.Dimension, ...] = ("ethnicity", "ethnic_group", "disability",
                                                      "sex")
    for dimension in trust_level:
        funnel += recruitment.funnel(applications, dimension=dimension)
    return WorkforceReport(
        snapshot=snapshot,
        wres1=indicators.wres1(data.staff),
        wres2=indicators.wres2(applications, by_band=True),
        wres3=indicators.wres3(years),
        wres4=indicators.wres4(data.staff, snapshot),
        wres9=indicators.wres9(board, data.staff),
        wdes1=indicators.wdes1(data.staff),
        wdes2=indicators.wdes2(applications, by_band=True),
        wdes3=indicators.wdes3(years),
        wdes10=indicators.wdes10(board, data.staff),
        declarations=indicators.declarations(data.staff, applications, board),
        model_employer=representation.against_targets(data.staff, data.targets, snapshot.year),
        funnel=funnel,
        routes=recruitment.routes(applications),
        unadvertised=recruitment.unadvertised(applications),
        pay_gaps=paygap.pay_gaps(data.staff),
        board=board,
        board_source=indicators.board_source(data.board, board),
        data=data,
    )

