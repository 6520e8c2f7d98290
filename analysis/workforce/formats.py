"""The workforce CSV formats: columns, templates and row-by-row validation.

Four files, one header row each (UTF-8, comma-separated; column order is free, names are exact):

- ``staff``: the 31 March snapshot from the electronic staff record, one row per person;
- ``recruitment``: one row per application in the year to the snapshot;
- ``board``: the board's composition, one row per member (no names);
- ``targets``: the Model Employer trajectory, one row per band and year.

`parse_staff`, `parse_recruitment`, `parse_board` and `parse_targets` check every row and
collect every problem (line number, column, reason) before returning anything: if there is
any, they raise `RowsError` with all of them, so the caller imports the whole file or nothing.
Line numbers are those of the file (the header is line 1), so a row that spans lines because of
a quoted newline is reported at its last line. `staff_csv` and the other writers produce the
same formats (for the synthetic trust and round-trip tests).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final, Literal

from analysis.workforce import WorkforceError
from analysis.workforce.records import Application, BoardMember, StaffRecord, Target
from analysis.workforce.vocabulary import (
    ADVERTISED_ROUTES,
    BANDS,
    DISABILITY_VALUES,
    ETHNICITIES,
    NOT_STATED,
    NOT_STATED_ALIASES,
    PANEL_DIVERSE_VALUES,
    ROUTES,
    SEXES,
    STAFF_GROUPS,
    check_snapshot,
    year_start,
)

Kind = Literal["staff", "recruitment", "board", "targets"]
KINDS: Final[tuple[Kind, ...]] = ("staff", "recruitment", "board", "targets")

MAX_ROWS: Final = 500_000
MAX_ID_LENGTH: Final = 100
MAX_TEXT_LENGTH: Final = 80
MAX_HOURLY_PAY: Final = 1_000.0
MAX_BONUS_PAY: Final = 10_000_000.0
# A cell starting with one of these runs as a formula when the file is opened in a spreadsheet.
_FORMULA_STARTS: Final = ("=", "+", "-", "@")


@dataclass(frozen=True)
class RowError:
    """One problem in an uploaded file: its line (1 is the header), the column if one is to
    blame, and a reason written for the person who prepared the file."""

    line: int
    column: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", {self.column}" if self.column else "")
        return f"{where}: {self.message}"


class RowsError(WorkforceError):
    """The file has invalid rows (all listed in ``errors``); none of it may be imported."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} problem(s) in the file; nothing was imported")
        self.errors = errors


class _CellError(Exception):
    """A value a column cannot take; the message says what it should be."""


# --- cell parsers ----------------------------------------------------------------------------


def _yes_no(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("yes", "y"):
        return True
    if value in ("no", "n"):
        return False
    raise _CellError(f"write yes or no, not {raw!r}" if raw.strip() else "missing: write yes or no")


def _choice(options: tuple[str, ...], *, not_stated: bool = False,
            aliases: Mapping[str, str] | None = None) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if not_stated and value in NOT_STATED_ALIASES:
            return NOT_STATED
        value = (aliases or {}).get(value, value)
        if value in options:
            return value
        shown = ", ".join(options[:8]) + (", ..." if len(options) > 8 else "")
        if not raw.strip():
            raise _CellError(f"missing: write one of {shown}")
        raise _CellError(f"{raw!r} is not one of {shown}")
    return parse


def _ethnicity(raw: str) -> str:
    value = raw.strip().lower()
    if value in NOT_STATED_ALIASES:
        return NOT_STATED
    if value in ETHNICITIES:
        return value
    if not value:
        raise _CellError("missing: write an ONS 2021 code (e.g. white-british, asian-indian) or "
                         "not-stated")
    raise _CellError(f"{raw!r} is not an ONS 2021 ethnicity code (e.g. white-british, "
                     "black-african, asian-other) or not-stated")


def _band(raw: str) -> str:
    value = "".join(raw.strip().lower().removeprefix("band").split())
    if value in BANDS:
        return value
    if not value:
        raise _CellError("missing: write an Agenda for Change band (1-9, 8a-8d, vsm) or a "
                         "medical grade")
    raise _CellError(f"{raw!r} is not a band: use 1 to 9, 8a to 8d, vsm, medical-consultant, "
                     "medical-career-grade, medical-trainee or medical-other")


_STAFF_GROUP_OF: Final = {**{i: i for i, _ in STAFF_GROUPS},
                          **{label.lower(): i for i, label in STAFF_GROUPS}}


def _staff_group(raw: str) -> str:
    value = " ".join(raw.strip().lower().split())
    if value in _STAFF_GROUP_OF:
        return _STAFF_GROUP_OF[value]
    if not value:
        raise _CellError("missing: write a staff group (e.g. nursing-midwifery, admin-clerical)")
    raise _CellError(f"{raw!r} is not a staff group: use one of "
                     + ", ".join(i for i, _ in STAFF_GROUPS))


def _text(*, required: bool, max_length: int = MAX_TEXT_LENGTH) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip()
        if not value:
            if required:
                raise _CellError("missing")
            return ""
        if len(value) > max_length:
            raise _CellError(f"longer than {max_length} characters")
        if not value.isprintable():
            raise _CellError("contains a line break or control character")
        if value.startswith(_FORMULA_STARTS):
            raise _CellError("must not start with = + - or @ (a spreadsheet would run it)")
        return value
    return parse


def _money(maximum: float) -> Callable[[str], float | None]:
    def parse(raw: str) -> float | None:
        value = raw.strip().replace(",", "").removeprefix("£")
        if not value:
            return None
        try:
            number = float(value)
        except ValueError as e:
            raise _CellError(f"{raw!r} is not an amount in pounds (e.g. 18.52)") from e
        if not math.isfinite(number) or number < 0:
            raise _CellError("must be zero or more")
        if number > maximum:
            raise _CellError(f"more than {maximum:,.0f}: check the units (pounds, not pence)")
        return number
    return parse


def _optional_date(raw: str) -> date | None:
    value = raw.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as e:
        raise _CellError(f"{raw!r} is not a date written YYYY-MM-DD") from e


def _year(raw: str) -> int:
    value = raw.strip()
    if not value.isdigit() or not 2015 <= int(value) <= 2100:
        raise _CellError(f"{raw!r} is not a year such as 2027 (the year of the 31 March)")
    return int(value)


def _share(raw: str) -> float:
    value = raw.strip().removesuffix("%").strip()
    try:
        number = float(value)
    except ValueError as e:
        raise _CellError(f"{raw!r} is not a percentage between 0 and 100") from e
    if not math.isfinite(number) or not 0 <= number <= 100:
        raise _CellError(f"{raw!r} is not a percentage between 0 and 100")
    return number


# --- the formats -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column of a format. ``required``: the header must have it (a required column may
    still allow empty cells, as ``directorate`` does)."""

    name: str
    parse: Callable[[str], object]
    required: bool
    description: str


_YESNO_HELP: Final = "yes or no"
FORMATS: Final[dict[Kind, tuple[Column, ...]]] = {
    "staff": (
        Column("person_id", _text(required=True, max_length=MAX_ID_LENGTH), True,
               "the person's ESR number or any stable pseudonym; replaced by a keyed digest on "
               "import and never shown"),
        Column("ethnicity", _ethnicity, True, "ONS 2021 code (e.g. white-british) or not-stated"),
        Column("band", _band, True, "1 to 9, 8a to 8d, vsm, or a medical grade"),
        Column("staff_group", _staff_group, True, "NHS staff group (id or name)"),
        Column("directorate", _text(required=False), True, "directorate (may be empty)"),
        Column("clinical", _yes_no, True, _YESNO_HELP),
        Column("disability", _choice(DISABILITY_VALUES, not_stated=True,
                                     aliases={"y": "yes", "n": "no"}), True,
               "yes, no or not-stated"),
        Column("sex", _choice(SEXES, not_stated=True, aliases={"f": "female", "m": "male"}), True,
               "female, male, other or not-stated"),
        Column("board_voting_member", _yes_no, True,
               "yes for executive directors with a vote on the board"),
        Column("entered_formal_disciplinary", _yes_no, True,
               "yes if a formal disciplinary investigation started in the year"),
        Column("entered_formal_capability", _yes_no, True,
               "yes if a formal capability process on performance (not ill health) started in "
               "the year"),
        Column("accessed_non_mandatory_training", _yes_no, True,
               "yes if the person had non-mandatory training or CPD in the year"),
        Column("hourly_pay", _money(MAX_HOURLY_PAY), False,
               "ordinary hourly pay in pounds at the snapshot (optional; empty leaves the person "
               "out of the pay gaps)"),
        Column("bonus_pay", _money(MAX_BONUS_PAY), False,
               "bonus pay in pounds in the 12 months to the snapshot (optional; empty is none)"),
    ),
    "recruitment": (
        Column("application_id", _text(required=True, max_length=MAX_ID_LENGTH), True,
               "the recruitment system's application reference; replaced by a keyed digest"),
        Column("vacancy_id", _text(required=True, max_length=MAX_ID_LENGTH), True,
               "the vacancy reference (shown in the list of unadvertised appointments)"),
        Column("band", _band, True, "the post's band"),
        Column("ethnicity", _ethnicity, True, "ONS 2021 code or not-stated"),
        Column("disability", _choice(DISABILITY_VALUES, not_stated=True,
                                     aliases={"y": "yes", "n": "no"}), True,
               "yes, no or not-stated"),
        Column("sex", _choice(SEXES, not_stated=True, aliases={"f": "female", "m": "male"}), True,
               "female, male, other or not-stated"),
        Column("internal_candidate", _yes_no, True, _YESNO_HELP),
        Column("shortlisted", _yes_no, True, _YESNO_HELP),
        Column("interviewed", _yes_no, True, _YESNO_HELP),
        Column("appointed", _yes_no, True, _YESNO_HELP),
        Column("route", _choice(ROUTES), True, ", ".join(ROUTES)),
        Column("panel_diverse", _choice(PANEL_DIVERSE_VALUES,
                                        aliases={"": "unknown", "y": "yes", "n": "no"}), True,
               "yes, no or unknown"),
        Column("directorate", _text(required=False), False, "the post's directorate (optional)"),
        Column("decision_date", _optional_date, False,
               "date of the appointment decision, YYYY-MM-DD (optional; gives the quarter)"),
    ),
    "board": (
        Column("voting", _yes_no, True, _YESNO_HELP),
        Column("executive", _yes_no, True, "yes for executive directors, no for the chair and "
               "non-executive directors"),
        Column("ethnicity", _ethnicity, True, "ONS 2021 code or not-stated"),
        Column("disability", _choice(DISABILITY_VALUES, not_stated=True,
                                     aliases={"y": "yes", "n": "no"}), True,
               "yes, no or not-stated"),
        Column("sex", _choice(SEXES, not_stated=True, aliases={"f": "female", "m": "male"}), False,
               "female, male, other or not-stated (optional)"),
    ),
    "targets": (
        Column("year", _year, True, "the year of the 31 March the target is for"),
        Column("band", _band, True, "the band"),
        Column("target_bme_share", _share, True,
               "the BME (global majority) share of the band's headcount aimed for, in percent"),
    ),
}


def template(kind: Kind) -> str:
    """The header row of a format (every column, required ones first), as CSV text."""
    columns = sorted(FORMATS[kind], key=lambda c: not c.required)
    return ",".join(c.name for c in columns) + "\r\n"


@dataclass(frozen=True)
class StaffFile:
    """A valid staff file: records, and the raw ``person_id`` of each in the same order (for the
    storage layer to replace by keyed digests; never kept in clear)."""

    records: tuple[StaffRecord, ...]
    person_ids: tuple[str, ...]


@dataclass(frozen=True)
class RecruitmentFile:
    """A valid recruitment file: records, and each one's raw ``application_id``."""

    records: tuple[Application, ...]
    application_ids: tuple[str, ...]


def parse_staff(text: str, *, snapshot: date) -> StaffFile:
    """Validate a staff snapshot file, or raise `RowsError` listing every problem.

    ``person_id`` must be unique. If the file has a ``bonus_pay`` column, an empty cell means no
    bonus (0); without the column nobody has a bonus figure (None) and bonus measures are not
    computed. An empty ``hourly_pay`` leaves the person out of the pay gaps.
    """
    check_snapshot(snapshot)
    rows, errors, names = _read("staff", text)
    records: list[StaffRecord] = []
    ids: list[str] = []
    first: dict[object, int] = {}
    bonus_column = "bonus_pay" in names
    for line, v in rows:
        if not _unique(first, v["person_id"], line, "person_id", errors):
            continue
        bonus = _float_or_none(v.get("bonus_pay"))
        records.append(StaffRecord(
            ethnicity=str(v["ethnicity"]), band=str(v["band"]), staff_group=str(v["staff_group"]),
            directorate=str(v.get("directorate", "")), clinical=bool(v["clinical"]),
            disability=str(v["disability"]), sex=str(v["sex"]),
            board_voting_member=bool(v["board_voting_member"]),
            entered_formal_disciplinary=bool(v["entered_formal_disciplinary"]),
            entered_formal_capability=bool(v["entered_formal_capability"]),
            accessed_non_mandatory_training=bool(v["accessed_non_mandatory_training"]),
            hourly_pay=_float_or_none(v.get("hourly_pay")),
            bonus_pay=(bonus if bonus is not None else 0.0) if bonus_column else None))
        ids.append(str(v["person_id"]))
    _raise_if(errors)
    return StaffFile(records=tuple(records), person_ids=tuple(ids))


def parse_recruitment(text: str, *, snapshot: date) -> RecruitmentFile:
    """Validate a recruitment file, or raise `RowsError` listing every problem.

    ``application_id`` must be unique; an interviewed applicant must have been shortlisted, and
    so must one appointed to an advertised post (acting-up, secondments, direct appointments and
    redeployment may have no shortlisting); a ``decision_date`` must fall in the year to
    ``snapshot``.
    """
    check_snapshot(snapshot)
    rows, errors, _ = _read("recruitment", text)
    records: list[Application] = []
    ids: list[str] = []
    first: dict[object, int] = {}
    for line, v in rows:
        application = _application(line, v, snapshot, errors)
        if application is not None and _unique(first, v["application_id"], line,
                                               "application_id", errors):
            records.append(application)
            ids.append(str(v["application_id"]))
    _raise_if(errors)
    return RecruitmentFile(records=tuple(records), application_ids=tuple(ids))


MAX_BOARD_MEMBERS: Final = 60


def parse_board(text: str) -> tuple[BoardMember, ...]:
    """Validate a board composition file, or raise `RowsError` listing every problem."""
    rows, errors, _ = _read("board", text)
    if len(rows) > MAX_BOARD_MEMBERS:
        errors.append(RowError(rows[MAX_BOARD_MEMBERS][0], None,
                               f"more than {MAX_BOARD_MEMBERS} board members"))
    members = tuple(BoardMember(
        voting=bool(v["voting"]), executive=bool(v["executive"]), ethnicity=str(v["ethnicity"]),
        disability=str(v["disability"]), sex=str(v.get("sex") or NOT_STATED)) for _, v in rows)
    _raise_if(errors)
    return members


def parse_targets(text: str) -> tuple[Target, ...]:
    """Validate a Model Employer targets file, or raise `RowsError` listing every problem.

    One row per (year, band); the share is a percentage of the band's whole headcount.
    """
    rows, errors, _ = _read("targets", text)
    targets: list[Target] = []
    first: dict[object, int] = {}
    for line, v in rows:
        year, band, share = v["year"], str(v["band"]), v["target_bme_share"]
        if isinstance(year, int) and isinstance(share, float) and _unique(
                first, (year, band), line, "band", errors):
            targets.append(Target(year=year, band=band, share=share))
    _raise_if(errors)
    return tuple(targets)


def _read(kind: Kind, text: str) -> tuple[list[tuple[int, dict[str, object]]], list[RowError],
                                          frozenset[str]]:
    """Every row of the file parsed cell by cell: (line, values) for the rows without a bad
    cell, the problems found so far, and the header's column names. Raises `RowsError` at once
    for a file without a usable header."""
    columns = {c.name: c for c in FORMATS[kind]}
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    try:
        header = next(reader)
    except StopIteration:
        raise RowsError([RowError(1, None, "the file is empty: it needs a header row")]) from None
    except csv.Error as e:
        raise RowsError([RowError(1, None, f"not readable as CSV: {e}")]) from e
    names = [h.strip().lower() for h in header]
    header_errors = _check_header(names, columns)
    if header_errors:
        raise RowsError(header_errors)
    errors: list[RowError] = []
    rows: list[tuple[int, dict[str, object]]] = []
    try:
        for raw in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in raw):
                continue
            if len(rows) + len(errors) >= MAX_ROWS:
                errors.append(RowError(line, None, f"more than {MAX_ROWS:,} rows"))
                break
            if len(raw) != len(names):
                errors.append(RowError(line, None, f"{len(raw)} values for {len(names)} columns"))
                continue
            values: dict[str, object] = {}
            row_ok = True
            for name, cell in zip(names, raw, strict=True):
                try:
                    values[name] = columns[name].parse(cell)
                except _CellError as e:
                    errors.append(RowError(line, name, str(e)))
                    row_ok = False
            if row_ok:
                rows.append((line, values))
    except csv.Error as e:
        errors.append(RowError(reader.line_num, None, f"not readable as CSV: {e}"))
    if not rows and not errors:
        errors.append(RowError(2, None, "the file has a header but no rows"))
    return rows, errors, frozenset(names)


def _check_header(names: list[str], columns: Mapping[str, Column]) -> list[RowError]:
    errors = []
    seen: set[str] = set()
    for name in names:
        if name in seen:
            errors.append(RowError(1, name, "column appears twice"))
        seen.add(name)
    unknown = [n for n in names if n not in columns]
    if unknown:
        errors.append(RowError(1, None, "unknown column(s): " + ", ".join(repr(n) for n in unknown)
                               + "; expected: " + ", ".join(columns)))
    missing = [c.name for c in columns.values() if c.required and c.name not in seen]
    if missing:
        errors.append(RowError(1, None, "missing column(s): " + ", ".join(missing)))
    return errors


def _unique(first: dict[object, int], key: object, line: int, column: str,
            errors: list[RowError]) -> bool:
    if key in first:
        errors.append(RowError(line, column, f"the same value is already on line {first[key]}"))
        return False
    first[key] = line
    return True


def _raise_if(errors: list[RowError]) -> None:
    if errors:
        raise RowsError(sorted(errors, key=lambda e: e.line))


def _float_or_none(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _application(line: int, v: Mapping[str, object], snapshot: date,
                 errors: list[RowError]) -> Application | None:
    shortlisted, interviewed, appointed = (bool(v["shortlisted"]), bool(v["interviewed"]),
                                           bool(v["appointed"]))
    route = str(v["route"])
    decision = v.get("decision_date")
    problems = []
    if interviewed and not shortlisted:
        problems.append(RowError(line, "interviewed", "interviewed but not shortlisted"))
    if appointed and route in ADVERTISED_ROUTES and not shortlisted:
        problems.append(RowError(line, "appointed", f"appointed through an {route} post but not "
                                 "shortlisted"))
    if isinstance(decision, date) and not year_start(snapshot) <= decision <= snapshot:
        problems.append(RowError(line, "decision_date",
                                 f"{decision.isoformat()} is outside the year "
                                 f"{year_start(snapshot).isoformat()} to {snapshot.isoformat()}"))
    if problems:
        errors.extend(problems)
        return None
    return Application(
        vacancy_id=str(v["vacancy_id"]), band=str(v["band"]), ethnicity=str(v["ethnicity"]),
        disability=str(v["disability"]), sex=str(v["sex"]),
        internal_candidate=bool(v["internal_candidate"]), shortlisted=shortlisted,
        interviewed=interviewed, appointed=appointed, route=route,
        panel_diverse=str(v["panel_diverse"]), directorate=str(v.get("directorate") or ""),
        decision_date=decision if isinstance(decision, date) else None)


# --- writing the formats (the synthetic trust, round-trip tests) -----------------------------


def _yn(value: bool) -> str:
    return "yes" if value else "no"


def _amount(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _write(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def staff_csv(records: Sequence[StaffRecord], person_ids: Sequence[str]) -> str:
    """A staff file for ``records`` (the pay columns only if some record has a figure)."""
    pay = any(r.hourly_pay is not None for r in records)
    bonus = any(r.bonus_pay is not None for r in records)
    header = [c.name for c in FORMATS["staff"]
              if (c.name != "hourly_pay" or pay) and (c.name != "bonus_pay" or bonus)]
    return _write(header, ([
        pid, r.ethnicity, r.band, r.staff_group, r.directorate, _yn(r.clinical), r.disability,
        r.sex, _yn(r.board_voting_member), _yn(r.entered_formal_disciplinary),
        _yn(r.entered_formal_capability), _yn(r.accessed_non_mandatory_training),
        *([_amount(r.hourly_pay)] if pay else []), *([_amount(r.bonus_pay)] if bonus else []),
    ] for r, pid in zip(records, person_ids, strict=True)))


def recruitment_csv(records: Sequence[Application], application_ids: Sequence[str]) -> str:
    """A recruitment file for ``records``, every column included."""
    return _write([c.name for c in FORMATS["recruitment"]], ([
        aid, r.vacancy_id, r.band, r.ethnicity, r.disability, r.sex, _yn(r.internal_candidate),
        _yn(r.shortlisted), _yn(r.interviewed), _yn(r.appointed), r.route, r.panel_diverse,
        r.directorate, r.decision_date.isoformat() if r.decision_date else "",
    ] for r, aid in zip(records, application_ids, strict=True)))


def board_csv(members: Sequence[BoardMember]) -> str:
    """A board file for ``members``."""
    return _write([c.name for c in FORMATS["board"]], (
        [_yn(m.voting), _yn(m.executive), m.ethnicity, m.disability, m.sex] for m in members))


def targets_csv(targets: Sequence[Target]) -> str:
    """A Model Employer targets file for ``targets``."""
    return _write([c.name for c in FORMATS["targets"]], (
        [str(t.year), t.band, f"{t.share:g}"] for t in targets))
