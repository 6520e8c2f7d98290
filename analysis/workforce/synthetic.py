"""A made-up NHS trust with a built-in disparity, for tests, the demo and benchmarks.

`generate` draws, from a seeded random generator (the same seed always gives the same trust):

- a staff snapshot (default 5,000 people) and the one a year before, with a BME share that falls
  from about 45% in bands 2-5 to under 10% at band 8d and above; BME staff more likely to
  enter a formal disciplinary investigation (about 1.5 times) and less likely to get
  non-mandatory training; Disabled staff about 2.5 times as likely to enter formal capability; Agenda for
  Change pay points (so many people share a rate) and clinical excellence awards as bonus pay
  for some consultants, more often for men and White consultants;
- recruitment (default 20,000 applications): advertised vacancies where BME applicants are less
  often shortlisted and, once shortlisted, less often appointed (White shortlisted applicants
  are about 1.7 times as likely to be chosen), and posts filled without advertising (acting up,
  secondment, direct appointment, redeployment) in about a third of appointments at 8a and above
  against about one in eight below, mostly going to White internal candidates;
- a board of 14 (chair, six non-executive directors, five voting and two non-voting executive
  directors, the voting executives flagged in the staff snapshot), and a Model Employer
  trajectory rising to the workforce's overall BME share by 2028.

Nothing here is real data: every identifier is made up.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Final

from analysis.workforce import formats
from analysis.workforce.records import Application, BoardMember, StaffRecord, Target
from analysis.workforce.representation import trajectory
from analysis.workforce.vocabulary import (
    ADVERTISED_ROUTES,
    NOT_STATED,
    SENIOR_BANDS,
    check_snapshot,
    year_start,
)

DIRECTORATES: Final = ("medicine", "surgery", "women-children", "clinical-support", "community",
                       "corporate")

# Share of the workforce in each band (percent), and the chance a stated ethnicity is BME.
_BAND_WEIGHTS: Final = {
    "1": 0.3, "2": 11, "3": 10, "4": 8, "5": 19, "6": 16, "7": 10, "8a": 4, "8b": 1.8,
    "8c": 0.9, "8d": 0.45, "9": 0.2, "vsm": 0.25, "medical-consultant": 6,
    "medical-career-grade": 2.5, "medical-trainee": 7, "medical-other": 0.5,
}
_BME_BY_BAND: Final = {
    "1": 0.35, "2": 0.40, "3": 0.36, "4": 0.33, "5": 0.50, "6": 0.37, "7": 0.24, "8a": 0.17,
    "8b": 0.13, "8c": 0.10, "8d": 0.07, "9": 0.05, "vsm": 0.06, "medical-consultant": 0.42,
    "medical-career-grade": 0.65, "medical-trainee": 0.45, "medical-other": 0.5,
}
_WHITE: Final = (("white-british", 0.82), ("white-other", 0.13), ("white-irish", 0.04),
                 ("white-gypsy-traveller", 0.005), ("white-roma", 0.005))
_BME: Final = (("asian-indian", 0.27), ("black-african", 0.22), ("asian-other", 0.13),
               ("asian-pakistani", 0.08), ("black-caribbean", 0.06), ("asian-bangladeshi", 0.03),
               ("asian-chinese", 0.03), ("black-other", 0.03), ("mixed-white-asian", 0.02),
               ("mixed-white-black-african", 0.015), ("mixed-white-black-caribbean", 0.02),
               ("mixed-other", 0.025), ("other-arab", 0.03), ("other-any", 0.04))
# Hourly pay points (pounds): about the 2025/26 Agenda for Change and medical pay scales.
_PAY_POINTS: Final = {
    "1": (12.51,), "2": (12.51,), "3": (12.75, 13.60), "4": (14.06, 15.43),
    "5": (15.33, 16.50, 18.66), "6": (19.10, 20.51, 22.99), "7": (23.60, 24.72, 27.01),
    "8a": (27.49, 28.35, 30.94), "8b": (31.82, 33.50, 36.97), "8c": (37.99, 39.80, 43.78),
    "8d": (45.09, 47.42, 52.00), "9": (53.90, 56.71, 62.02), "vsm": (65.00, 78.00, 95.00),
    "medical-consultant": (53.95, 58.31, 62.66, 66.99, 71.54),
    "medical-career-grade": (26.87, 31.50, 36.10, 42.14),
    "medical-trainee": (19.86, 24.11, 28.36, 37.84), "medical-other": (25.00, 35.00, 45.00),
}
_GROUPS_BY_LEVEL: Final = {
    "low": (("additional-clinical", 0.45), ("admin-clerical", 0.35), ("estates-ancillary", 0.2)),
    "middle": (("nursing-midwifery", 0.55), ("ahp", 0.15), ("apst", 0.08),
               ("healthcare-scientists", 0.04), ("admin-clerical", 0.18)),
    "senior": (("admin-clerical", 0.45), ("nursing-midwifery", 0.3), ("ahp", 0.1), ("apst", 0.1),
               ("healthcare-scientists", 0.05)),
}
_NON_CLINICAL: Final = frozenset({"admin-clerical", "estates-ancillary"})
_UNADVERTISED_ROUTES: Final = (("acting-up", 0.42), ("secondment", 0.24),
                               ("direct-appointment", 0.22), ("redeployment", 0.12))
_VOTING_EXECUTIVES: Final = 5


@dataclass(frozen=True)
class SyntheticTrust:
    """A generated trust: the records of every CSV file, with the made-up identifiers."""

    snapshot: date
    staff: tuple[StaffRecord, ...]
    person_ids: tuple[str, ...]
    previous_staff: tuple[StaffRecord, ...]
    previous_person_ids: tuple[str, ...]
    applications: tuple[Application, ...]
    application_ids: tuple[str, ...]
    board: tuple[BoardMember, ...]
    targets: tuple[Target, ...]


def _pick(rng: random.Random, weighted: Sequence[tuple[str, float]]) -> str:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def _ethnicity(rng: random.Random, bme_chance: float, not_stated: float = 0.04) -> str:
    if rng.random() < not_stated:
        return NOT_STATED
    return _pick(rng, _BME if rng.random() < bme_chance else _WHITE)


def _level(band: str) -> str:
    if band in ("1", "2", "3", "4"):
        return "low"
    return "middle" if band in ("5", "6", "7") else "senior"


def _person(rng: random.Random, band: str) -> StaffRecord:
    ethnicity = _ethnicity(rng, _BME_BY_BAND[band])
    bme = ethnicity != NOT_STATED and not ethnicity.startswith("white-")
    medical = band.startswith("medical-")
    staff_group = "medical-dental" if medical else _pick(rng, _GROUPS_BY_LEVEL[_level(band)])
    disability = _pick(rng, (("yes", 0.045), ("no", 0.80), (NOT_STATED, 0.155)))
    female_chance = 0.5 if medical else 0.4 if staff_group == "estates-ancillary" else 0.8
    sex = "female" if rng.random() < female_chance else "male"
    directorate = ("corporate" if staff_group in _NON_CLINICAL and rng.random() < 0.7
                   else rng.choice(DIRECTORATES[:-1]))
    points = _PAY_POINTS[band]
    # Men sit a little higher up their band's scale on average (longer unbroken service).
    position = min(len(points) - 1, int(rng.random() ** (0.8 if sex == "male" else 1.0)
                                        * len(points)))
    bonus = 0.0
    if band == "medical-consultant":
        award = 0.45 if sex == "male" else 0.28
        if rng.random() < award * (0.75 if bme else 1.0):
            bonus = float(rng.choice((3_000, 6_000, 9_000, 12_000, 20_000, 40_000)))
    return StaffRecord(
        ethnicity=ethnicity, band=band, staff_group=staff_group, directorate=directorate,
        clinical=staff_group not in _NON_CLINICAL, disability=disability, sex=sex,
        board_voting_member=False,
        entered_formal_disciplinary=rng.random() < (0.015 if bme else 0.010),
        entered_formal_capability=rng.random() < (0.015 if disability == "yes" else 0.006),
        accessed_non_mandatory_training=rng.random() < (0.48 if bme else 0.58),
        hourly_pay=None if rng.random() < 0.01 else points[position],
        bonus_pay=bonus)


def _staff(rng: random.Random, count: int, prefix: str) -> tuple[list[StaffRecord], list[str]]:
    bands = rng.choices(list(_BAND_WEIGHTS), weights=list(_BAND_WEIGHTS.values()), k=count)
    # A small trust still has its voting executive directors.
    missing = _VOTING_EXECUTIVES - bands.count("vsm")
    for i in rng.sample([i for i, b in enumerate(bands) if b != "vsm"], max(0, missing)):
        bands[i] = "vsm"
    people = [_person(rng, band) for band in bands]
    # The voting executive directors are very senior managers in the staff record.
    vsm = [i for i, p in enumerate(people) if p.band == "vsm"]
    for i in vsm[:_VOTING_EXECUTIVES]:
        people[i] = replace(people[i], board_voting_member=True, staff_group="admin-clerical",
                            clinical=False, directorate="corporate")
    ids = [f"{prefix}{n:07d}" for n in rng.sample(range(10_000_000), count)]
    return people, ids


def _board(rng: random.Random, staff: Sequence[StaffRecord]) -> tuple[BoardMember, ...]:
    non_executives = [BoardMember(voting=True, executive=False, ethnicity=e, disability=d, sex=s)
                      for e, d, s in (("white-british", "no", "male"),
                                      ("black-caribbean", "no", "female"),
                                      ("white-british", "yes", "female"),
                                      ("white-irish", "no", "male"),
                                      ("asian-indian", "no", "male"),
                                      ("white-british", "no", "female"),
                                      ("white-british", NOT_STATED, "male"))]
    executives = [BoardMember(voting=True, executive=True, ethnicity=s.ethnicity,
                              disability=s.disability, sex=s.sex)
                  for s in staff if s.board_voting_member]
    non_voting = [BoardMember(voting=False, executive=True, ethnicity=_ethnicity(rng, 0.1, 0.0),
                              disability="no", sex=rng.choice(("female", "male")))
                  for _ in range(2)]
    return (*non_executives, *executives, *non_voting)


@dataclass(slots=True)
class _Candidate:
    ethnicity: str
    disability: str
    internal: bool
    shortlisted: bool
    bme: bool


def _vacancy_applications(rng: random.Random, vacancy: str, band: str, route: str,
                          directorate: str, decided: date) -> list[Application]:
    panel = _pick(rng, (("yes", 0.45), ("no", 0.35), ("unknown", 0.2)))
    senior = band in SENIOR_BANDS
    if route not in ADVERTISED_ROUTES:
        # A tap on the shoulder: one candidate, usually internal and White.
        ethnicity = _ethnicity(rng, 0.17, 0.03)
        return [Application(
            vacancy_id=vacancy, band=band, ethnicity=ethnicity,
            disability=_pick(rng, (("yes", 0.03), ("no", 0.88), (NOT_STATED, 0.09))),
            sex="female" if rng.random() < 0.65 else "male",
            internal_candidate=route != "direct-appointment" or rng.random() < 0.3,
            shortlisted=False, interviewed=False, appointed=True, route=route,
            panel_diverse=panel, directorate=directorate, decision_date=decided)]
    size = rng.randint(18, 40) if _level(band) == "low" else (
        rng.randint(5, 14) if senior else rng.randint(8, 22))
    bme_chance = 0.40 if senior or band == "7" else 0.56
    people = []
    for _ in range(size):
        ethnicity = _ethnicity(rng, bme_chance, 0.03)
        bme = ethnicity != NOT_STATED and not ethnicity.startswith("white-")
        people.append(_Candidate(
            ethnicity=ethnicity,
            disability=_pick(rng, (("yes", 0.06), ("no", 0.85), (NOT_STATED, 0.09))),
            internal=rng.random() < (0.45 if senior else 0.25) * (0.8 if bme else 1.0),
            shortlisted=rng.random() < (0.28 if bme else 0.40), bme=bme))
    if not any(p.shortlisted for p in people):
        rng.choice(people).shortlisted = True
    shortlisted = [i for i, p in enumerate(people) if p.shortlisted]
    interviewed = [i for i in shortlisted if rng.random() < 0.92] or shortlisted[:1]
    # The built-in disparity: a White shortlisted applicant is about 1.7 times as likely to be
    # chosen; Disabled applicants and external candidates a little less likely.
    weights = [(1.0 if people[i].bme else 1.7) * (0.75 if people[i].disability == "yes" else 1.0)
               * (1.3 if people[i].internal else 1.0) for i in interviewed]
    hires = min(len(interviewed), rng.choice((1, 1, 1, 2, 3)) if _level(band) == "low" else 1)
    chosen: set[int] = set()
    while len(chosen) < hires:
        chosen.add(rng.choices(interviewed, weights=weights)[0])
    seen = set(interviewed)
    return [Application(
        vacancy_id=vacancy, band=band, ethnicity=p.ethnicity, disability=p.disability,
        sex="female" if rng.random() < 0.7 else "male", internal_candidate=p.internal,
        shortlisted=p.shortlisted, interviewed=i in seen, appointed=i in chosen, route=route,
        panel_diverse=panel, directorate=directorate, decision_date=decided if i in chosen else None)
        for i, p in enumerate(people)]


def _applications(rng: random.Random, count: int, snapshot: date) -> tuple[
        list[Application], list[str]]:
    start = year_start(snapshot)
    days = (snapshot - start).days
    bands = [b for b in _BAND_WEIGHTS if b != "1"]
    weights = [_BAND_WEIGHTS[b] * (1.6 if b in SENIOR_BANDS else 1.0) for b in bands]
    applications: list[Application] = []
    vacancies = 0
    while len(applications) < count:
        vacancies += 1
        band = rng.choices(bands, weights=weights)[0]
        unadvertised = rng.random() < (0.34 if band in SENIOR_BANDS else 0.12)
        route = _pick(rng, _UNADVERTISED_ROUTES) if unadvertised else (
            "advertised-internal" if rng.random() < 0.18 else "advertised-external")
        directorate = rng.choice(DIRECTORATES)
        decided = start + timedelta(days=rng.randrange(days + 1))
        applications.extend(_vacancy_applications(
            rng, f"VAC{snapshot.year - 1}-{vacancies:05d}", band, route, directorate, decided))
    applications = applications[:count]
    ids = [f"APP{n:08d}" for n in rng.sample(range(100_000_000), len(applications))]
    return applications, ids


def _targets(staff: Sequence[StaffRecord], snapshot: date) -> tuple[Target, ...]:
    stated = [s for s in staff if s.ethnicity != NOT_STATED]
    overall = round(100 * sum(not s.ethnicity.startswith("white-") for s in stated)
                    / max(1, len(staff)), 1)
    start = {}
    for band in ("5", "6", "7", *SENIOR_BANDS):
        in_band = [s for s in staff if s.band == band]
        bme = sum(s.ethnicity != NOT_STATED and not s.ethnicity.startswith("white-")
                  for s in in_band)
        start[band] = round(100 * bme / max(1, len(in_band)), 1)
    end = {band: max(share, overall) for band, share in start.items()}
    return trajectory(snapshot.year - 1, start, 2028 if snapshot.year < 2028 else snapshot.year + 2,
                      end)


def generate(*, seed: int = 2026, snapshot: date = date(2026, 3, 31), staff: int = 5_000,
             applications: int = 20_000) -> SyntheticTrust:
    """A synthetic trust for the period ending ``snapshot`` (see the module docstring)."""
    check_snapshot(snapshot)
    rng = random.Random(seed)  # noqa: S311 - made-up data that must repeat for a seed
    previous, previous_ids = _staff(rng, staff, "E")
    current, current_ids = _staff(rng, staff, "E")
    board = _board(rng, current)
    recruitment, application_ids = _applications(rng, applications, snapshot)
    return SyntheticTrust(
        snapshot=snapshot, staff=tuple(current), person_ids=tuple(current_ids),
        previous_staff=tuple(previous), previous_person_ids=tuple(previous_ids),
        applications=tuple(recruitment), application_ids=tuple(application_ids), board=board,
        targets=_targets(previous, snapshot))


def write_csvs(trust: SyntheticTrust, directory: Path) -> dict[str, Path]:
    """Write the trust's five CSV files into ``directory`` and return them by name:
    ``staff``, ``previous_staff``, ``recruitment``, ``board`` and ``targets``."""
    directory.mkdir(parents=True, exist_ok=True)
    previous = date(trust.snapshot.year - 1, 3, 31)
    files = {
        "staff": (f"staff-{trust.snapshot.isoformat()}.csv",
                  formats.staff_csv(trust.staff, trust.person_ids)),
        "previous_staff": (f"staff-{previous.isoformat()}.csv",
                           formats.staff_csv(trust.previous_staff, trust.previous_person_ids)),
        "recruitment": (f"recruitment-{trust.snapshot.isoformat()}.csv",
                        formats.recruitment_csv(trust.applications, trust.application_ids)),
        "board": (f"board-{trust.snapshot.isoformat()}.csv", formats.board_csv(trust.board)),
        "targets": ("model-employer-targets.csv", formats.targets_csv(trust.targets)),
    }
    written = {}
    for name, (filename, text) in files.items():
        path = directory / filename
        path.write_text(text, encoding="utf-8")
        written[name] = path
    return written
