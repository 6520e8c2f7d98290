"""The indicators JSON: trust-level figures exact, breakdowns through analysis.disclosure.

A small group hides its own figures (below k), and a figure that would give it away by
subtraction from the exact trust-level total is hidden too (complementary suppression)."""

from __future__ import annotations

import csv
import io
import json

import pytest

from analysis.workforce.report import PeriodData, build_report
from equality import payload
from equality.models import WorkforcePeriod
from tests.analysis.workforce_records import SNAPSHOT, applications, member, people

K = 11


def _payload(data: PeriodData) -> dict[str, object]:
    period = WorkforcePeriod(snapshot=SNAPSHOT, version=1, status="draft", note=None)
    result = payload.workforce_payload(period, build_report(data), k=K, organisation="Test")
    json.dumps(result, allow_nan=False)  # valid JSON: no NaN or infinity anywhere
    return result


@pytest.fixture
def small_trust() -> PeriodData:
    staff = (people(30, band="5", hourly_pay=18.0) + people(15, "asian-indian", band="5",
                                                            hourly_pay=17.0)
             + people(4, band="9", hourly_pay=60.0)  # a band below k
             + people(1, "black-african", band="9", hourly_pay=60.0, sex="male"))
    recruitment = (applications(83, 39, "white-irish", band="5")
                   + applications(157, 23, "black-african", band="5")
                   # Three BME shortlisted at band 9: below k for the band, not for the trust.
                   + applications(12, 2, band="9") + applications(3, 0, "asian-indian", band="9"))
    board = [member("asian-indian"), *(member() for _ in range(9))]
    return PeriodData(SNAPSHOT, staff, recruitment, board)


def test_indicator_entries_have_the_contract_shape(small_trust: PeriodData) -> None:
    data = _payload(small_trust)
    assert (data["period"], data["k"]) == ("2026-03-31", K)
    entries = data["indicators"]
    assert isinstance(entries, list)
    for entry in entries:
        assert set(entry) == {"id", "value", "ci", "numerator", "denominator", "suppressed",
                              "reason", "by"}
    ids = [e["id"] for e in entries]
    for required in ("wres1", "wres2", "wres3", "wres4", "wres9", "wdes1", "wdes2", "wdes3",
                     "wdes10"):
        assert required in ids
    assert all(e["by"] and set(e["by"]) == {"band"} for e in entries if e["id"] == "wres1")


def test_published_example_and_trust_level_exact(small_trust: PeriodData) -> None:
    entries = _payload(small_trust)["indicators"]
    wres2 = [e for e in entries if e["id"] == "wres2"]
    trust = next(e for e in wres2 if e["by"] is None)
    # Trust level adds band 9 (2 of 12 White, 0 of 3 BME) to the published example.
    assert trust["numerator"] == {"group": "white", "count": 41, "total": 95}
    assert trust["denominator"] == {"group": "global-majority", "count": 23, "total": 160}
    assert not trust["suppressed"]
    band_9 = next(e for e in wres2 if e["by"] == {"band": "9"})
    # Three BME shortlisted (below k): the band's figures are hidden.
    assert {k: v for k, v in band_9.items() if k != "reason"} == {
        "id": "wres2", "value": None, "ci": None, "numerator": None, "denominator": None,
        "suppressed": True, "by": {"band": "9"}}
    assert band_9["reason"] in {"below k", "complementary"}
    # Band 5's 157 BME shortlisted, taken from the exact trust total of 160, would give band
    # 9's three away: hidden too.
    band_5 = next(e for e in wres2 if e["by"] == {"band": "5"})
    assert band_5["suppressed"] and band_5["reason"] in ("complementary", "differencing")
    assert band_5["value"] is None and band_5["numerator"] is None


def test_published_example_by_band_when_no_small_group_is_left(small_trust: PeriodData) -> None:
    recruitment = (applications(83, 39, "white-irish", band="5")
                   + applications(157, 23, "black-african", band="5")
                   + applications(20, 5, band="6") + applications(20, 4, "asian-indian", band="6"))
    entries = _payload(PeriodData(SNAPSHOT, small_trust.staff, recruitment))["indicators"]
    band_5 = next(e for e in entries if e["id"] == "wres2" and e["by"] == {"band": "5"})
    assert not band_5["suppressed"]
    assert round(band_5["value"], 2) == 3.21
    assert band_5["ci"][0] < 3.21 < band_5["ci"][1]
    assert band_5["numerator"] == {"group": "white", "count": 39, "total": 83}


def test_groups_below_k_are_hidden_in_every_breakdown(small_trust: PeriodData) -> None:
    data = _payload(small_trust)
    wres1 = {e["by"]["band"]: e for e in data["indicators"] if e["id"] == "wres1"}
    assert wres1["9"]["suppressed"] and wres1["9"]["value"] is None
    assert wres1["9"]["reason"] in ("below k", "differencing")  # one BME person in band 9
    # 15 BME in band 5 from the exact 16 of the trust gives band 9's one away: hidden too.
    assert wres1["5"]["suppressed"] and wres1["5"]["reason"] in ("complementary", "differencing")
    bigger = [*small_trust.staff, *people(12, "black-african", band="9"), *people(12, band="9")]
    shown = {e["by"]["band"]: e for e in _payload(PeriodData(SNAPSHOT, bigger))["indicators"]
             if e["id"] == "wres1"}
    assert shown["5"]["value"] == pytest.approx(100 / 3)
    assert (shown["5"]["numerator"], shown["5"]["denominator"]) == (15, 45)
    assert shown["9"]["value"] == pytest.approx(100 * 13 / 29)
    hidden_funnel = [f for f in data["funnel"] if f["band"] == "9" and f["group"] ==
                     "global-majority"]
    assert hidden_funnel and all(f["applied"] is None and f["suppressed"] for f in hidden_funnel)
    # The board is public office: shown exactly, one BME member of ten.
    wres9 = next(e for e in data["indicators"] if e["id"] == "wres9" and e["by"] is None)
    assert wres9["numerator"] == {"group": "global-majority", "count": 1, "total": 10}
    assert not wres9["suppressed"]
    # Pay gap by sex: one man, below k, so hidden.
    gaps = {g["characteristic"]: g for g in data["pay_gaps"]}
    assert gaps["sex"]["suppressed"] and gaps["sex"]["mean_hourly_gap"] is None
    # By ethnicity: 13 of the 16 BME staff fill the lowest pay quartile (whose size everyone
    # knows), so with exact group sizes the 3 outside it would be pinned: the audit shows the
    # groups' sizes as ranges, and the gap, which needs them, is not shown.
    assert gaps["ethnicity"]["suppressed"] and gaps["ethnicity"]["mean_hourly_gap"] is None


def test_rolling_average_note_until_the_previous_year_is_there(small_trust: PeriodData) -> None:
    definitions = _payload(small_trust)["definitions"]
    assert definitions["wres3"]["rolling_years"] == 2
    assert "single year" in definitions["wres3"]["note"]
    assert definitions["wres2"]["reference_band"] == [0.8, 1.25]
    with_previous = PeriodData(SNAPSHOT, small_trust.staff, small_trust.applications,
                               small_trust.board, previous_staff=small_trust.staff)
    definitions = _payload(with_previous)["definitions"]
    assert definitions["wres3"]["snapshots"] == ["2025-03-31", "2026-03-31"]
    assert "note" not in definitions["wres3"]


@pytest.mark.parametrize("table", payload.TABLES)
def test_every_table_as_csv(small_trust: PeriodData, table: str) -> None:
    text = payload.payload_csv(_payload(small_trust), table)
    reader = csv.DictReader(io.StringIO(text))
    rows = list(reader)
    assert reader.fieldnames
    if table not in ("model_employer", "unadvertised"):  # no targets, nothing unadvertised here
        assert rows
    if table == "indicators":
        assert {"id", "by", "value", "ci_low", "ci_high", "numerator_count"} <= set(rows[0])


def test_without_board_data_the_board_figures_are_null(small_trust: PeriodData) -> None:
    data = _payload(PeriodData(SNAPSHOT, small_trust.staff, small_trust.applications))
    wres9 = next(e for e in data["indicators"] if e["id"] == "wres9" and e["by"] is None)
    assert (wres9["value"], wres9["ci"], wres9["suppressed"]) == (None, None, False)
    assert wres9["numerator"]["total"] == 0
    assert data["board"]["source"] == "none"
    flagged = [*small_trust.staff[:-1], people(1, band="vsm", board_voting_member=True)[0]]
    data = _payload(PeriodData(SNAPSHOT, flagged, small_trust.applications))
    assert data["board"] == {"source": "staff record", "members": 1, "voting": 1,
                             "executive": 1, "non_executive": 0,
                             "by_ethnic_group": {"white": 1}, "by_disability": {"non-disabled": 1}}
    assert _payload(small_trust)["board"]["source"] == "board file"


def test_a_bonus_gap_needs_k_people_receiving_a_bonus_on_each_side() -> None:
    # 15 of 30 White staff and 1 of 15 BME staff (paid alike, so no pay quartile is all BME,
    # which would protect the groups' sizes) received a bonus: the BME mean bonus would be
    # that one person's bonus, so the bonus gaps are hidden; the proportions are not.
    staff = (people(15, hourly_pay=18.0, bonus_pay=100.0) + people(15, hourly_pay=18.0,
                                                                   bonus_pay=0.0)
             + people(1, "asian-indian", hourly_pay=18.0, bonus_pay=50.0)
             + people(14, "asian-indian", hourly_pay=18.0, bonus_pay=0.0))
    gaps = {g["characteristic"]: g for g in _payload(PeriodData(SNAPSHOT, staff))["pay_gaps"]}
    bonus = gaps["ethnicity"]["bonus"]
    assert not bonus["suppressed"]
    assert bonus["proportion_receiving"] == {"white": 50.0, "global-majority": pytest.approx(
        100 / 15, abs=1e-5)}
    assert bonus["gaps_suppressed"] and bonus["gaps_reason"] in ("below k", "complementary")
    assert bonus["mean_gap"] is None and bonus["median_gap"] is None
    # With 11 BME staff receiving one, the gaps are shown.
    more = [*staff[:30], *people(11, "asian-indian", hourly_pay=18.0, bonus_pay=50.0),
            *people(4, "asian-indian", hourly_pay=18.0, bonus_pay=0.0)]
    bonus = {g["characteristic"]: g for g in _payload(PeriodData(SNAPSHOT, more))["pay_gaps"]
             }["ethnicity"]["bonus"]
    assert bonus["mean_gap"] == pytest.approx(50.0)
