"""Importing workforce extracts into reporting periods, publishing them, and loading them back
for `analysis.workforce`.

Lifecycle of a period (one 31 March snapshot): the first import creates version 1 as a draft;
importing the same kind of file into a draft replaces that kind of data; `publish` fixes it.
After publication an import needs a note: it creates the next version as a draft (a
correction) holding a copy of the published data with the new file in place of its kind, and
publishing that draft supersedes the earlier version, which is kept. Every import and
publication is audited. A file with any invalid row imports nothing.

Identifiers (``person_id``, ``application_id``) are replaced on import by HMAC-SHA256 digests
under keys derived from the staff secret; they are never stored or shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, delete, func, insert, literal, select
from sqlalchemy.orm import Session

from analysis.workforce import WorkforceError, formats
from analysis.workforce.formats import RowError, RowsError
from analysis.workforce.records import Application, BoardMember, StaffRecord, Target
from analysis.workforce.report import PeriodData, WorkforceReport, build_report
from analysis.workforce.vocabulary import check_snapshot
from config.settings import Settings
from core import audit
from core.db import utcnow
from core.encryption import derive_subkey, keyed_digest
from equality.models import (
    DRAFT,
    PUBLISHED,
    STAFF_SURVEY_INDICATORS,
    SUPERSEDED,
    WorkforceApplication,
    WorkforceBoardMember,
    WorkforcePeriod,
    WorkforceStaff,
    WorkforceSurveyFigure,
    WorkforceTarget,
)

PERIOD_KINDS = ("staff", "recruitment", "board")
SURVEY_GROUPS = ("white", "global-majority")
MAX_NOTE_LENGTH = 2000

_STAFF_FIELDS = ("ethnicity", "band", "staff_group", "directorate", "clinical", "disability", "sex",
                 "board_voting_member", "entered_formal_disciplinary",
                 "entered_formal_capability", "accessed_non_mandatory_training", "hourly_pay",
                 "bonus_pay")
_APPLICATION_FIELDS = ("vacancy_id", "band", "ethnicity", "disability", "sex",
                       "internal_candidate", "shortlisted", "interviewed", "appointed", "route",
                       "panel_diverse", "directorate", "decision_date")
_BOARD_FIELDS = ("voting", "executive", "ethnicity", "disability", "sex")
_TABLES: dict[str, type[WorkforceStaff] | type[WorkforceApplication] | type[WorkforceBoardMember]]
_TABLES = {"staff": WorkforceStaff, "recruitment": WorkforceApplication,
           "board": WorkforceBoardMember}
_KEY_COLUMNS = {"staff": ("person_key",), "recruitment": ("application_key",), "board": ()}
_FIELDS = {"staff": _STAFF_FIELDS, "recruitment": _APPLICATION_FIELDS, "board": _BOARD_FIELDS}


class WorkforceDataError(Exception):
    """Root of the workforce data errors; the message is written for the person who caused it."""


class PeriodNotFoundError(WorkforceDataError):
    pass


class NoteRequiredError(WorkforceDataError):
    """A published period can only be corrected with a note saying what changed."""


class ImportRowsError(WorkforceDataError):
    """The file has invalid rows (``errors``, by line); nothing was imported."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} problem(s) in the file; nothing was imported")
        self.errors = errors


@dataclass(frozen=True)
class ImportResult:
    """What an import did: ``rows`` of ``kind`` are now in ``period`` (its snapshot, version
    and status); ``correction``: it started a new version of a published period."""

    kind: str
    rows: int
    snapshot: date | None
    version: int | None
    status: str | None
    correction: bool = False


def _person_key(settings: Settings) -> bytes:
    return derive_subkey(settings.staff_secret, "workforce-person-id")


def _application_key(settings: Settings) -> bytes:
    return derive_subkey(settings.staff_secret, "workforce-application-id")


def _parse(kind: str, csv_text: str, snapshot: date) -> tuple[Sequence[object], Sequence[str]]:
    """The records of a file and their raw identifiers, or `ImportRowsError`."""
    try:
        if kind == "staff":
            staff = formats.parse_staff(csv_text, snapshot=snapshot)
            return staff.records, staff.person_ids
        if kind == "recruitment":
            applications = formats.parse_recruitment(csv_text, snapshot=snapshot)
            return applications.records, applications.application_ids
        return formats.parse_board(csv_text), ()
    except RowsError as e:
        raise ImportRowsError(e.errors) from e
    except WorkforceError as e:
        raise WorkforceDataError(str(e)) from e


def import_file(db: Session, *, kind: str, csv_text: str, snapshot: date | None,
                settings: Settings, actor: str, note: str | None = None) -> ImportResult:
    """Validate and import one CSV file (see `analysis.workforce.formats`).

    ``staff``, ``recruitment`` and ``board`` files go into the period of ``snapshot`` (a
    31 March); ``targets`` replace the trust's targets for the years the file names. Raises
    `ImportRowsError` (every bad row) or `NoteRequiredError` (a published period without a
    note) and imports nothing; the caller commits.
    """
    note = _clean_note(note)
    if kind == "targets":
        return _import_targets(db, csv_text=csv_text, actor=actor)
    if kind not in PERIOD_KINDS:
        raise WorkforceDataError(f"Unknown kind of file {kind!r}: use staff, recruitment, board "
                                 "or targets.")
    if snapshot is None:
        raise WorkforceDataError(f"A {kind} file belongs to a period: give its 31 March date.")
    try:
        check_snapshot(snapshot)
    except WorkforceError as e:
        raise WorkforceDataError(str(e)) from e
    records, identifiers = _parse(kind, csv_text, snapshot)
    period, correction = _writable_period(db, snapshot=snapshot, note=note, actor=actor,
                                          replacing=kind)
    table = _TABLES[kind]
    db.execute(delete(table).where(table.period_id == period.id))
    rows = _rows(kind, records, identifiers, settings)
    if rows:
        # A Core insert of the table (not the ORM bulk path): half the time on PostgreSQL.
        db.execute(insert(table.__table__), [{"period_id": period.id, **row} for row in rows])
    audit.record(db, actor=actor, action="workforce.import",
                 target=f"workforce:{snapshot.isoformat()}:v{period.version}",
                 detail=f"kind={kind} rows={len(rows)}" + (" correction" if correction else ""))
    db.flush()
    return ImportResult(kind, len(rows), snapshot, period.version, period.status, correction)


def _import_targets(db: Session, *, csv_text: str, actor: str) -> ImportResult:
    try:
        targets = formats.parse_targets(csv_text)
    except RowsError as e:
        raise ImportRowsError(e.errors) from e
    years = sorted({t.year for t in targets})
    db.execute(delete(WorkforceTarget).where(WorkforceTarget.year.in_(years)))
    db.execute(insert(WorkforceTarget), [
        {"year": t.year, "band": t.band, "share": t.share} for t in targets])
    audit.record(db, actor=actor, action="workforce.targets",
                 detail=f"years={','.join(map(str, years))} rows={len(targets)}")
    db.flush()
    return ImportResult("targets", len(targets), None, None, None)


def _clean_note(note: str | None) -> str | None:
    if note is None:
        return None
    cleaned = " ".join("".join(ch if ch.isprintable() else " " for ch in note).split())
    if len(cleaned) > MAX_NOTE_LENGTH:
        raise WorkforceDataError(f"Keep the note under {MAX_NOTE_LENGTH:,} characters.")
    return cleaned or None


def _rows(kind: str, records: Sequence[object], identifiers: Sequence[str],
          settings: Settings) -> list[dict[str, object]]:
    fields = _FIELDS[kind]
    rows = [{f: getattr(r, f) for f in fields} for r in records]
    if kind in ("staff", "recruitment"):
        key = _person_key(settings) if kind == "staff" else _application_key(settings)
        column = _KEY_COLUMNS[kind][0]
        for row, identifier in zip(rows, identifiers, strict=True):
            row[column] = keyed_digest(key, identifier)
    return rows


def _latest(db: Session, snapshot: date, *, lock: bool = False) -> WorkforcePeriod | None:
    query = (select(WorkforcePeriod).where(WorkforcePeriod.snapshot == snapshot)
             .order_by(WorkforcePeriod.version.desc()).limit(1))
    if lock:
        query = query.with_for_update()
    return db.scalars(query).first()


def _writable_period(db: Session, *, snapshot: date, note: str | None, actor: str,
                     replacing: str) -> tuple[WorkforcePeriod, bool]:
    """The draft version to import into, created if needed; True if it is a new correction."""
    latest = _latest(db, snapshot, lock=True)
    if latest is not None and latest.status == DRAFT:
        if note:
            latest.note = note
        return latest, False
    if latest is None:
        period = WorkforcePeriod(snapshot=snapshot, version=1, status=DRAFT, note=note,
                                 created_by=actor[:120])
        db.add(period)
        db.flush()
        return period, False
    if not note:
        raise NoteRequiredError(
            f"The figures for {snapshot.isoformat()} are published. To correct them, import "
            "again with a note saying what changed: it makes a new version and keeps the old.")
    period = WorkforcePeriod(snapshot=snapshot, version=latest.version + 1, status=DRAFT,
                             note=note, created_by=actor[:120])
    db.add(period)
    db.flush()
    for kind, table in _TABLES.items():
        if kind == replacing:
            continue
        columns = ("period_id", *_KEY_COLUMNS[kind], *_FIELDS[kind])
        source: Select[tuple[object, ...]] = select(
            literal(period.id), *(getattr(table, c) for c in columns[1:])).where(
            table.period_id == latest.id)
        db.execute(insert(table).from_select(list(columns), source))
    return period, True


def publish(db: Session, *, snapshot: date, actor: str) -> WorkforcePeriod:
    """Publish the period's latest version (a draft with a staff snapshot); an earlier
    published version becomes superseded. Raises `WorkforceDataError` otherwise."""
    latest = _latest(db, snapshot, lock=True)
    if latest is None:
        raise PeriodNotFoundError(f"Nothing has been imported for {snapshot.isoformat()}.")
    if latest.status != DRAFT:
        raise WorkforceDataError(f"Version {latest.version} of {snapshot.isoformat()} is already "
                                 "published; import a correction to change it.")
    if not db.scalar(select(func.count()).select_from(WorkforceStaff)
                     .where(WorkforceStaff.period_id == latest.id)):
        raise WorkforceDataError("Import the staff snapshot before publishing.")
    for earlier in db.scalars(select(WorkforcePeriod).where(
            WorkforcePeriod.snapshot == snapshot, WorkforcePeriod.status == PUBLISHED)):
        earlier.status = SUPERSEDED
    latest.status = PUBLISHED
    latest.published_at = utcnow()
    audit.record(db, actor=actor, action="workforce.publish",
                 target=f"workforce:{snapshot.isoformat()}:v{latest.version}")
    db.flush()
    return latest


def list_periods(db: Session) -> list[WorkforcePeriod]:
    """Every version of every period, latest snapshot first."""
    return list(db.scalars(select(WorkforcePeriod).order_by(WorkforcePeriod.snapshot.desc(),
                                                            WorkforcePeriod.version.desc())))


def find_period(db: Session, snapshot: date, version: int | None = None) -> WorkforcePeriod:
    """A version of the period (default: its latest). Raises `PeriodNotFoundError`."""
    if version is None:
        found = _latest(db, snapshot)
    else:
        found = db.scalars(select(WorkforcePeriod).where(
            WorkforcePeriod.snapshot == snapshot, WorkforcePeriod.version == version)).first()
    if found is None:
        raise PeriodNotFoundError(f"No workforce data for {snapshot.isoformat()}"
                                  + (f" version {version}" if version else "") + ".")
    return found


def _staff(db: Session, period_id: int) -> list[StaffRecord]:
    columns = [getattr(WorkforceStaff, f) for f in _STAFF_FIELDS]
    return [StaffRecord(*row) for row in db.execute(
        select(*columns).where(WorkforceStaff.period_id == period_id)
        .order_by(WorkforceStaff.id))]


def _reference_version(db: Session, snapshot: date) -> WorkforcePeriod | None:
    """The latest published version of a period, else its latest version."""
    published = db.scalars(select(WorkforcePeriod).where(
        WorkforcePeriod.snapshot == snapshot, WorkforcePeriod.status == PUBLISHED)).first()
    return published or _latest(db, snapshot)


def load_period(db: Session, period: WorkforcePeriod) -> PeriodData:
    """The records of one period version, with the previous year's staff snapshot (its
    published version, else its latest) for the two-year rolling averages."""
    applications = [Application(*row) for row in db.execute(
        select(*(getattr(WorkforceApplication, f) for f in _APPLICATION_FIELDS))
        .where(WorkforceApplication.period_id == period.id).order_by(WorkforceApplication.id))]
    board = [BoardMember(*row) for row in db.execute(
        select(*(getattr(WorkforceBoardMember, f) for f in _BOARD_FIELDS))
        .where(WorkforceBoardMember.period_id == period.id).order_by(WorkforceBoardMember.id))]
    targets = [Target(*row) for row in db.execute(
        select(WorkforceTarget.year, WorkforceTarget.band, WorkforceTarget.share)
        .order_by(WorkforceTarget.year, WorkforceTarget.band))]
    previous = _reference_version(db, date(period.snapshot.year - 1, 3, 31))
    previous_staff = _staff(db, previous.id) if previous is not None else None
    return PeriodData(snapshot=period.snapshot, staff=_staff(db, period.id),
                      applications=applications, board=board, targets=targets,
                      previous_staff=previous_staff or None)


def period_report(db: Session, *, snapshot: date, version: int | None = None) -> tuple[
        WorkforcePeriod, WorkforceReport]:
    """A period version (default: latest) and every figure computed from it. Raises
    `PeriodNotFoundError`, or `WorkforceDataError` if the version has no staff snapshot."""
    period = find_period(db, snapshot, version)
    data = load_period(db, period)
    if not data.staff:
        raise WorkforceDataError(f"Version {period.version} of {snapshot.isoformat()} has no "
                                 "staff snapshot yet: import one first.")
    return period, build_report(data)


# --- NHS Staff Survey figures (WRES 5-8), entered from the trust's published results ---------


def survey_figures(db: Session, snapshot: date) -> dict[str, dict[str, float]]:
    """The published Staff Survey percentages of a period: indicator -> group -> percent."""
    figures: dict[str, dict[str, float]] = {}
    for row in db.scalars(select(WorkforceSurveyFigure).where(
            WorkforceSurveyFigure.snapshot == snapshot)):
        figures.setdefault(row.indicator, {})[row.group] = row.percent
    return figures


def save_survey_figures(db: Session, *, snapshot: date,
                        figures: Mapping[tuple[str, str], float | None], actor: str) -> None:
    """Replace the period's Staff Survey figures (None: not entered). Percentages 0-100."""
    try:
        check_snapshot(snapshot)
    except WorkforceError as e:
        raise WorkforceDataError(str(e)) from e
    for (indicator, group), percent in figures.items():
        if indicator not in STAFF_SURVEY_INDICATORS or group not in SURVEY_GROUPS:
            raise WorkforceDataError(f"Unknown Staff Survey figure {indicator} {group}.")
        if percent is not None and not 0 <= percent <= 100:
            raise WorkforceDataError("Each figure is a percentage from 0 to 100.")
    db.execute(delete(WorkforceSurveyFigure).where(WorkforceSurveyFigure.snapshot == snapshot))
    rows = [{"snapshot": snapshot, "indicator": i, "group": g, "percent": p, "updated_at": utcnow()}
            for (i, g), p in figures.items() if p is not None]
    if rows:
        db.execute(insert(WorkforceSurveyFigure), rows)
    audit.record(db, actor=actor, action="workforce.staff-survey",
                 target=f"workforce:{snapshot.isoformat()}", detail=f"figures={len(rows)}")
    db.flush()


def published_versions(db: Session) -> list[WorkforcePeriod]:
    """The published version of each period, oldest first."""
    return list(db.scalars(select(WorkforcePeriod).where(WorkforcePeriod.status == PUBLISHED)
                           .order_by(WorkforcePeriod.snapshot)))


def targets_stamp(db: Session) -> tuple[int, str]:
    """Changes whenever the Model Employer targets do (for caching computed figures)."""
    n, latest = db.execute(select(func.count(), func.max(WorkforceTarget.updated_at))
                           .select_from(WorkforceTarget)).one()
    return int(n), str(latest)
