"""One frozen dataclass per imported row. Values are already validated codes (see `formats`).

No record holds a person's identifier: the staff extract's ``person_id`` and the recruitment
extract's ``application_id`` are checked for duplicates on import and then replaced by keyed
digests that only the storage layer keeps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class StaffRecord:
    """One person in the 31 March staff snapshot, with what happened to them in the year to it."""

    ethnicity: str
    band: str
    staff_group: str
    directorate: str
    clinical: bool
    disability: str
    sex: str
    board_voting_member: bool
    entered_formal_disciplinary: bool
    entered_formal_capability: bool
    accessed_non_mandatory_training: bool
    hourly_pay: float | None = None
    bonus_pay: float | None = None


@dataclass(frozen=True, slots=True)
class BoardMember:
    """One member of the board (executive or non-executive, voting or not). Board members hold
    public office: their composition is published exactly."""

    voting: bool
    executive: bool
    ethnicity: str
    disability: str
    sex: str = "not-stated"


@dataclass(frozen=True, slots=True)
class Application:
    """One application to one vacancy, in the year to the snapshot date."""

    vacancy_id: str
    band: str
    ethnicity: str
    disability: str
    sex: str
    internal_candidate: bool
    shortlisted: bool
    interviewed: bool
    appointed: bool
    route: str
    panel_diverse: str
    directorate: str = ""
    decision_date: date | None = None


@dataclass(frozen=True, slots=True)
class Target:
    """A Model Employer target: the BME share (percent) the trust aims for in a band by the
    31 March of ``year``."""

    year: int
    band: str
    share: float
