"""Funnel, routes and unadvertised appointments by hand; Model Employer gaps; the synthetic trust."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from analysis.workforce import WorkforceError, recruitment, representation, synthetic
from analysis.workforce.indicators import wres2
from analysis.workforce.records import Target
from analysis.workforce.report import PeriodData, build_report
from analysis.workforce.vocabulary import financial_quarter
from tests.analysis.workforce_records import application, people


def test_funnel_by_hand_for_advertised_posts_only() -> None:
    table = [
        application("asian-indian", shortlisted=False),
        application("asian-indian", shortlisted=False),
        application("asian-indian", appointed=False),
        application("asian-pakistani", appointed=True),
        application("white-british", shortlisted=False),
        application("white-british", appointed=True, band="8a"),
        application("white-british", shortlisted=True, interviewed=False),
        # Acting up: no shortlisting, not part of the funnel.
        application("white-british", shortlisted=False, appointed=True, route="acting-up"),
    ]
    rows = {(r.dimension, r.group, r.band): r
            for r in recruitment.funnel(table, dimension="wres_group", by_band=True)}
    everyone = rows["wres_group", "all", None]
    assert (everyone.applied, everyone.shortlisted, everyone.interviewed, everyone.appointed) == (
        7, 4, 3, 2)
    bme = rows["wres_group", "global-majority", None]
    assert (bme.applied, bme.shortlisted, bme.appointed) == (4, 2, 1)
    assert bme.shortlisting_rate == pytest.approx(50.0)
    assert bme.appointment_rate == pytest.approx(50.0)
    assert rows["wres_group", "white", "8a"].appointed == 1
    assert ("wres_group", "not-stated", None) not in rows
    detailed = {r.group: r for r in recruitment.funnel(table, dimension="ethnicity")}
    assert detailed["asian-indian"].applied == 3
    assert detailed["asian-pakistani"].appointed == 1
    broad = {r.group: r for r in recruitment.funnel(table, dimension="ethnic_group")}
    assert broad["asian"].applied == 4
    with pytest.raises(WorkforceError):
        recruitment.funnel(table, dimension="height")  # type: ignore[arg-type]


def test_routes_shares_add_up_per_band_and_group() -> None:
    table = ([application(appointed=True, band="8a", route="acting-up") for _ in range(3)]
             + [application(appointed=True, band="8a") for _ in range(1)]
             + [application("black-african", appointed=True, band="8a")]
             + [application(appointed=False, band="8a", route="secondment")])
    rows = recruitment.routes(table)
    band_8a = {r.route: r for r in rows if r.band == "8a" and r.group is None}
    assert band_8a["acting-up"].share == pytest.approx(60.0)
    assert band_8a["advertised-external"].share == pytest.approx(40.0)
    assert band_8a["secondment"].appointments == 0
    assert sum(r.share or 0 for r in band_8a.values()) == pytest.approx(100.0)
    white = {r.route: r for r in rows if r.band == "8a" and r.group == "white"}
    assert white["acting-up"].share == pytest.approx(75.0)
    assert not white["acting-up"].advertised


def test_unadvertised_list_names_the_post_never_the_person() -> None:
    table = [
        application("black-african", shortlisted=False, appointed=True, route="secondment",
                    vacancy_id="V9", band="8b", directorate="surgery",
                    decision_date=date(2026, 1, 5)),
        application(shortlisted=False, appointed=True, route="direct-appointment",
                    vacancy_id="V2", band="7", decision_date=date(2025, 4, 1)),
        application(shortlisted=False, appointed=False, route="acting-up", vacancy_id="V3"),
        application(appointed=True, vacancy_id="V4"),
    ]
    rows = recruitment.unadvertised(table)
    assert [(r.vacancy_id, r.band, r.directorate, r.route, r.quarter) for r in rows] == [
        ("V2", "7", "", "direct-appointment", "2025/26 Q1"),
        ("V9", "8b", "surgery", "secondment", "2025/26 Q4"),
    ]
    fields = {f.name for f in dataclasses.fields(recruitment.UnadvertisedAppointment)}
    assert fields == {"vacancy_id", "band", "directorate", "route", "quarter"}


@pytest.mark.parametrize(("day", "quarter"), [
    (date(2025, 4, 1), "2025/26 Q1"), (date(2025, 6, 30), "2025/26 Q1"),
    (date(2025, 7, 1), "2025/26 Q2"), (date(2025, 12, 31), "2025/26 Q3"),
    (date(2026, 3, 31), "2025/26 Q4"), (date(2099, 4, 1), "2099/00 Q1"),
])
def test_financial_quarters(day: date, quarter: str) -> None:
    assert financial_quarter(day) == quarter


def test_model_employer_gap_in_people() -> None:
    staff = (people(17, band="8a") + people(3, "asian-indian", band="8a")
             + people(10, band="8b"))
    targets = [Target(2026, "8a", 25.0), Target(2026, "8b", 30.0), Target(2027, "8a", 40.0),
               Target(2026, "9", 10.0)]
    rows = {t.band: t for t in representation.against_targets(staff, targets, 2026)}
    assert (rows["8a"].share, rows["8a"].target_people, rows["8a"].gap_people) == (15.0, 5, 2)
    assert (rows["8b"].target_people, rows["8b"].gap_people) == (3, 3)  # 30% of 10 is 3, not 4
    assert (rows["9"].headcount, rows["9"].share, rows["9"].gap_people) == (0, None, 0)
    above = representation.against_targets(people(10, "black-african", band="8a"), targets, 2026)
    assert above[0].gap_people == -7


def test_linear_trajectory() -> None:
    targets = representation.trajectory(2025, {"8a": 10.0, "9": 5.0}, 2028,
                                        {"8a": 25.0, "9": 20.0})
    assert [(t.year, t.share) for t in targets if t.band == "8a"] == [
        (2025, 10.0), (2026, 15.0), (2027, 20.0), (2028, 25.0)]
    with pytest.raises(WorkforceError):
        representation.trajectory(2028, {"8a": 1.0}, 2028, {"8a": 2.0})


def test_synthetic_trust_is_reproducible_and_has_its_disparity() -> None:
    trust = synthetic.generate(seed=11, staff=2_000, applications=8_000)
    assert trust == synthetic.generate(seed=11, staff=2_000, applications=8_000)
    assert trust.staff != synthetic.generate(seed=12, staff=2_000, applications=8_000).staff
    assert (len(trust.staff), len(trust.applications), len(trust.board)) == (2_000, 8_000, 14)
    assert len(set(trust.person_ids)) == 2_000
    report = build_report(PeriodData(trust.snapshot, trust.staff, trust.applications,
                                     trust.board, trust.targets, trust.previous_staff))
    appointment = wres2(trust.applications)[0]
    assert appointment.ci is not None and appointment.ci[0] > 1.0
    shares = {s.by: s.share or 0 for s in report.wres1 if len(s.by) == 1}
    assert shares[(("band", "8a"),)] < shares[(("band", "5"),)] / 2
    senior = [r for r in report.routes if r.band in ("8a", "8b", "8c", "8d", "9", "vsm")
              and r.group is None and not r.advertised]
    lower = [r for r in report.routes if r.band in ("2", "3", "4", "5", "6", "7")
             and r.group is None and not r.advertised]

    def unadvertised_share(rows: list[recruitment.RouteShare]) -> float:
        totals = {r.band: r.total for r in rows}
        return sum(r.appointments for r in rows) / sum(totals.values())

    assert unadvertised_share(senior) > 2 * unadvertised_share(lower)
    assert sum(m.voting for m in report.board) == 12
    assert report.wres3.snapshots == (date(2025, 3, 31), date(2026, 3, 31))
