"""The workforce CSV formats: every kind of bad row is reported by line, and nothing passes."""

from __future__ import annotations

from datetime import date

import pytest

from analysis.workforce import WorkforceError, formats
from analysis.workforce.formats import RowsError
from tests.analysis.workforce_records import SNAPSHOT

STAFF_HEADER = ("person_id,ethnicity,band,staff_group,directorate,clinical,disability,sex,"
                "board_voting_member,entered_formal_disciplinary,entered_formal_capability,"
                "accessed_non_mandatory_training,hourly_pay,bonus_pay")
GOOD_STAFF = "E1,white-british,5,nursing-midwifery,medicine,yes,no,female,no,no,no,yes,18.66,"
RECRUITMENT_HEADER = ("application_id,vacancy_id,band,ethnicity,disability,sex,"
                      "internal_candidate,shortlisted,interviewed,appointed,route,panel_diverse,"
                      "directorate,decision_date")
GOOD_APPLICATION = ("A1,VAC-1,6,asian-indian,no,female,no,yes,yes,yes,advertised-external,yes,"
                    "surgery,2025-11-15")


def staff_errors(*rows: str, header: str = STAFF_HEADER) -> list[tuple[int, str | None, str]]:
    with pytest.raises(RowsError) as caught:
        formats.parse_staff("\n".join([header, *rows]) + "\n", snapshot=SNAPSHOT)
    return [(e.line, e.column, e.message) for e in caught.value.errors]


def recruitment_errors(*rows: str) -> list[tuple[int, str | None, str]]:
    with pytest.raises(RowsError) as caught:
        formats.parse_recruitment("\n".join([RECRUITMENT_HEADER, *rows]) + "\n",
                                  snapshot=SNAPSHOT)
    return [(e.line, e.column, e.message) for e in caught.value.errors]


def with_cell(row: str, index: int, value: str) -> str:
    cells = row.split(",")
    cells[index] = value
    return ",".join(cells)


def test_templates_are_the_header_rows() -> None:
    assert formats.template("staff").strip() == STAFF_HEADER
    assert formats.template("recruitment").strip() == RECRUITMENT_HEADER
    assert formats.template("board").strip() == "voting,executive,ethnicity,disability,sex"
    assert formats.template("targets").strip() == "year,band,target_bme_share"


def test_a_good_staff_file_and_accepted_spellings() -> None:
    text = "\ufeff" + "\n".join([
        STAFF_HEADER, GOOD_STAFF, "",
        "E2,Prefer-Not,Band 8A,Administrative and Clerical,,No,Not-Stated,Male,Y,N,N,N,,",
        "E3,black-african,VSM,admin-clerical,corporate,no,yes,f,yes,no,no,no,\"£1,000.00\",500",
    ]) + "\n"
    parsed = formats.parse_staff(text, snapshot=SNAPSHOT)
    assert parsed.person_ids == ("E1", "E2", "E3")
    first, second, third = parsed.records
    assert (first.hourly_pay, first.bonus_pay) == (18.66, 0.0)  # empty bonus with the column: none
    assert (second.ethnicity, second.band, second.staff_group, second.disability) == (
        "not-stated", "8a", "admin-clerical", "not-stated")
    assert second.hourly_pay is None and second.board_voting_member
    assert (third.band, third.sex, third.hourly_pay, third.bonus_pay) == ("vsm", "female",
                                                                          1000.0, 500.0)


def test_without_a_bonus_column_nobody_has_a_bonus_figure() -> None:
    header = STAFF_HEADER.removesuffix(",bonus_pay")
    parsed = formats.parse_staff(f"{header}\n{GOOD_STAFF.removesuffix(',')}\n", snapshot=SNAPSHOT)
    assert parsed.records[0].bonus_pay is None


@pytest.mark.parametrize(("index", "value", "column", "reason"), [
    (0, "", "person_id", "missing"),
    (1, "martian", "ethnicity", "not an ONS 2021 ethnicity code"),
    (1, "", "ethnicity", "missing"),
    (2, "10", "band", "not a band"),
    (2, "", "band", "missing"),
    (3, "doctors", "staff_group", "not a staff group"),
    (4, "=HYPERLINK(1)", "directorate", "must not start with"),
    (4, "x" * 81, "directorate", "longer than 80"),
    (5, "maybe", "clinical", "write yes or no"),
    (5, "", "clinical", "missing"),
    (6, "sometimes", "disability", "not one of"),
    (7, "x", "sex", "not one of"),
    (8, "1", "board_voting_member", "yes or no"),
    (9, "true", "entered_formal_disciplinary", "yes or no"),
    (10, "?", "entered_formal_capability", "yes or no"),
    (11, "often", "accessed_non_mandatory_training", "yes or no"),
    (12, "lots", "hourly_pay", "not an amount"),
    (12, "-1", "hourly_pay", "zero or more"),
    (12, "1866", "hourly_pay", "pounds, not pence"),
    (12, "nan", "hourly_pay", "zero or more"),
    (13, "1e12", "bonus_pay", "pounds, not pence"),
])
def test_each_bad_staff_cell(index: int, value: str, column: str, reason: str) -> None:
    errors = staff_errors(GOOD_STAFF, with_cell(GOOD_STAFF, index, value))
    assert len(errors) == 1
    line, bad_column, message = errors[0]
    assert (line, bad_column) == (3, column)
    assert reason in message


def test_every_bad_row_is_reported_with_its_line() -> None:
    errors = staff_errors(
        GOOD_STAFF,
        with_cell(with_cell(GOOD_STAFF.replace("E1", "E2"), 2, "11"), 5, "perhaps"),
        GOOD_STAFF.replace("E1", "E3") + ",extra",
        GOOD_STAFF,  # the same person again
        "E4,white-irish",
    )
    assert [(line, column) for line, column, _ in errors] == [
        (3, "band"), (3, "clinical"), (4, None), (5, "person_id"), (6, None)]
    assert "already on line 2" in errors[3][2]
    assert "2 values for 14 columns" in errors[4][2]


@pytest.mark.parametrize(("text", "reason"), [
    ("", "empty"),
    (STAFF_HEADER + "\n", "no rows"),
    (STAFF_HEADER.replace("clinical", "clinicall") + "\n" + GOOD_STAFF, "unknown column"),
    (STAFF_HEADER.replace(",sex", "") + "\n" + GOOD_STAFF, "missing column(s): sex"),
    (STAFF_HEADER + ",band\n" + GOOD_STAFF + ",5", "appears twice"),
])
def test_bad_files(text: str, reason: str) -> None:
    with pytest.raises(RowsError) as caught:
        formats.parse_staff(text, snapshot=SNAPSHOT)
    assert any(reason in e.message for e in caught.value.errors), caught.value.errors


def test_a_period_is_a_31_march_snapshot() -> None:
    with pytest.raises(WorkforceError, match="31 March"):
        formats.parse_staff(f"{STAFF_HEADER}\n{GOOD_STAFF}\n", snapshot=date(2026, 4, 5))


def test_a_good_recruitment_file() -> None:
    text = "\n".join([
        RECRUITMENT_HEADER, GOOD_APPLICATION,
        "A2,VAC-2,8b,white-british,not-stated,male,yes,no,no,yes,acting-up,,,",
    ]) + "\n"
    parsed = formats.parse_recruitment(text, snapshot=SNAPSHOT)
    assert parsed.application_ids == ("A1", "A2")
    assert parsed.records[0].decision_date == date(2025, 11, 15)
    acting_up = parsed.records[1]
    assert (acting_up.appointed, acting_up.shortlisted, acting_up.panel_diverse,
            acting_up.decision_date) == (True, False, "unknown", None)


@pytest.mark.parametrize(("row", "column", "reason"), [
    (with_cell(GOOD_APPLICATION, 1, ""), "vacancy_id", "missing"),
    (with_cell(GOOD_APPLICATION, 2, "8e"), "band", "not a band"),
    (with_cell(GOOD_APPLICATION, 3, "british"), "ethnicity", "ONS 2021"),
    (with_cell(GOOD_APPLICATION, 6, "x"), "internal_candidate", "yes or no"),
    (with_cell(GOOD_APPLICATION, 10, "headhunted"), "route", "not one of"),
    (with_cell(GOOD_APPLICATION, 11, "mostly"), "panel_diverse", "not one of"),
    (with_cell(GOOD_APPLICATION, 13, "15/11/2025"), "decision_date", "YYYY-MM-DD"),
    (with_cell(GOOD_APPLICATION, 13, "2026-04-01"), "decision_date", "outside the year"),
    (with_cell(GOOD_APPLICATION, 13, "2025-03-31"), "decision_date", "outside the year"),
    (with_cell(with_cell(GOOD_APPLICATION, 7, "no"), 9, "no"), "interviewed",
     "interviewed but not shortlisted"),
    (with_cell(with_cell(GOOD_APPLICATION, 7, "no"), 8, "no"), "appointed",
     "not shortlisted"),
    (GOOD_APPLICATION.replace("VAC-1", "VAC-9"), "application_id", "already on line 2"),
])
def test_each_bad_recruitment_row(row: str, column: str, reason: str) -> None:
    errors = recruitment_errors(GOOD_APPLICATION, row)
    assert [(line, bad) for line, bad, _ in errors] == [(3, column)]
    assert reason in errors[0][2]


def test_board_file() -> None:
    members = formats.parse_board("voting,executive,ethnicity,disability\nyes,no,other-arab,no\n"
                                  "no,yes,not-stated,yes\n")
    assert [(m.voting, m.executive, m.ethnicity, m.sex) for m in members] == [
        (True, False, "other-arab", "not-stated"), (False, True, "not-stated", "not-stated")]
    with pytest.raises(RowsError) as caught:
        formats.parse_board("voting,executive,ethnicity,disability\n"
                            + "yes,no,white-british,no\n" * 61)
    assert caught.value.errors[-1].message == "more than 60 board members"
    with pytest.raises(RowsError):
        formats.parse_board("voting,executive,ethnicity,disability\nyes,maybe,white-british,no\n")


def test_targets_file() -> None:
    targets = formats.parse_targets("year,band,target_bme_share\n2027,8a,25%\n2027,Band 9,12.5\n")
    assert [(t.year, t.band, t.share) for t in targets] == [(2027, "8a", 25.0), (2027, "9", 12.5)]
    with pytest.raises(RowsError) as caught:
        formats.parse_targets("year,band,target_bme_share\n2027,8a,25\n2027,8a,26\n27,8b,10\n"
                              "2027,8c,101\n")
    assert [(e.line, e.column) for e in caught.value.errors] == [
        (3, "band"), (4, "year"), (5, "target_bme_share")]


def test_written_files_read_back_the_same() -> None:
    from analysis.workforce import synthetic

    trust = synthetic.generate(staff=300, applications=600, seed=5)
    staff = formats.parse_staff(formats.staff_csv(trust.staff, trust.person_ids),
                                snapshot=trust.snapshot)
    assert staff.records == trust.staff
    assert staff.person_ids == trust.person_ids
    recruitment = formats.parse_recruitment(
        formats.recruitment_csv(trust.applications, trust.application_ids),
        snapshot=trust.snapshot)
    assert recruitment.records == trust.applications
    assert formats.parse_board(formats.board_csv(trust.board)) == trust.board
    assert formats.parse_targets(formats.targets_csv(trust.targets)) == trust.targets
