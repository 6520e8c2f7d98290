"""Small builders for workforce records in hand-computed tests."""

from __future__ import annotations

from datetime import date
from typing import Any

from analysis.workforce.records import Application, BoardMember, StaffRecord

SNAPSHOT = date(2026, 3, 31)


def person(ethnicity: str = "white-british", band: str = "5", **fields: Any) -> StaffRecord:
    values: dict[str, Any] = {
        "staff_group": "nursing-midwifery", "directorate": "medicine", "clinical": True,
        "disability": "no", "sex": "female", "board_voting_member": False,
        "entered_formal_disciplinary": False, "entered_formal_capability": False,
        "accessed_non_mandatory_training": False, **fields}
    return StaffRecord(ethnicity=ethnicity, band=band, **values)


def people(count: int, ethnicity: str = "white-british", **fields: Any) -> list[StaffRecord]:
    return [person(ethnicity, **fields) for _ in range(count)]


def application(ethnicity: str = "white-british", *, shortlisted: bool = True,
                appointed: bool = False, **fields: Any) -> Application:
    values: dict[str, Any] = {
        "vacancy_id": "V1", "band": "5", "disability": "no", "sex": "female",
        "internal_candidate": False, "interviewed": shortlisted, "route": "advertised-external",
        "panel_diverse": "unknown", **fields}
    return Application(ethnicity=ethnicity, shortlisted=shortlisted, appointed=appointed,
                       **values)


def applications(shortlisted: int, appointed: int, ethnicity: str = "white-british",
                 **fields: Any) -> list[Application]:
    """``shortlisted`` shortlisted applications of whom the first ``appointed`` were appointed."""
    return [application(ethnicity, appointed=i < appointed, **fields) for i in range(shortlisted)]


def member(ethnicity: str = "white-british", *, voting: bool = True, executive: bool = False,
           disability: str = "no") -> BoardMember:
    return BoardMember(voting=voting, executive=executive, ethnicity=ethnicity,
                       disability=disability)
