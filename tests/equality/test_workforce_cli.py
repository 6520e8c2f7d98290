"""``speakup workforce``: templates, import (all or nothing), versions, indicators, on each
database backend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from analysis.workforce import formats, synthetic
from config.settings import Settings
from core.audit import AuditEvent
from core.db import Database
from core.encryption import derive_subkey, keyed_digest
from equality import payload
from equality.models import WorkforceApplication, WorkforcePeriod, WorkforceStaff
from tests.analysis.test_workforce_formats import RECRUITMENT_HEADER, STAFF_HEADER

PERIOD = "2026-03-31"


@pytest.fixture(scope="module")
def trust() -> synthetic.SyntheticTrust:
    return synthetic.generate(seed=7, staff=400, applications=1_200)


@pytest.fixture
def files(trust: synthetic.SyntheticTrust, tmp_path: Path) -> dict[str, Path]:
    return synthetic.write_csvs(trust, tmp_path / "csv")


@pytest.fixture
def cli(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


def run(cli: FlaskCliRunner, *args: str, ok: bool = True) -> str:
    result = cli.invoke(args=["workforce", *args])
    assert (result.exit_code == 0) is ok, result.output
    return result.output


def count(database: Database, model: type[WorkforceStaff] | type[WorkforceApplication]) -> int:
    with database.session() as db:
        return db.scalar(select(func.count()).select_from(model)) or 0


def test_templates(cli: FlaskCliRunner) -> None:
    assert run(cli, "template", "staff").strip() == STAFF_HEADER
    assert run(cli, "template", "recruitment").strip() == RECRUITMENT_HEADER
    run(cli, "template", "payroll", ok=False)


def test_import_and_indicators(cli: FlaskCliRunner, files: dict[str, Path],
                               trust: synthetic.SyntheticTrust, database: Database,
                               settings: Settings) -> None:
    out = run(cli, "import", "staff", str(files["staff"]), "--period", PERIOD)
    assert "Imported 400 staff row(s) into 2026-03-31 version 1 (draft)." in out
    run(cli, "import", "recruitment", str(files["recruitment"]), "--period", PERIOD)
    run(cli, "import", "board", str(files["board"]), "--period", PERIOD)
    run(cli, "import", "targets", str(files["targets"]))
    data = json.loads(run(cli, "indicators", "--period", PERIOD))
    assert (data["period"], data["k"], data["version"], data["status"]) == (
        PERIOD, settings.min_cell_size, 1, "draft")
    trust_level = {e["id"]: e for e in data["indicators"] if e["by"] is None}
    assert set(trust_level) == {"wres2", "wres3", "wres4", "wres9", "wdes2", "wdes3", "wdes10"}
    shortlisted = [a for a in trust.applications if a.shortlisted]
    white = [a for a in shortlisted if a.ethnicity.startswith("white-")]
    assert trust_level["wres2"]["numerator"] == {
        "group": "white", "count": sum(a.appointed for a in white), "total": len(white)}
    assert [e["by"]["band"] for e in data["indicators"] if e["id"] == "wres1"]
    assert data["model_employer"] and data["funnel"] and data["routes"] and data["pay_gaps"]
    assert all(set(u) == {"vacancy_id", "band", "directorate", "route", "quarter"}
               for u in data["unadvertised"])
    assert "single year" in data["definitions"]["wres3"]["note"]
    # The previous year's snapshot turns WRES 3 into the two-year rolling average.
    run(cli, "import", "staff", str(files["previous_staff"]), "--period", "2025-03-31")
    data = json.loads(run(cli, "indicators", "--period", PERIOD))
    assert data["definitions"]["wres3"]["snapshots"] == ["2025-03-31", PERIOD]
    wres3 = next(e for e in data["indicators"] if e["id"] == "wres3")
    assert wres3["numerator"]["total"] + wres3["denominator"]["total"] > 400
    text = run(cli, "indicators", "--period", PERIOD, "--format", "csv")
    assert text.splitlines()[0] == ",".join(payload.INDICATOR_COLUMNS)
    assert len(text.splitlines()) == len(data["indicators"]) + 1
    funnel = run(cli, "indicators", "--period", PERIOD, "--format", "csv", "--table", "funnel")
    assert funnel.splitlines()[0].startswith("dimension,group,band,applied")
    # Identifiers are stored only as keyed digests.
    key = derive_subkey(settings.staff_secret, "workforce-person-id")
    with database.session() as db:
        keys = set(db.scalars(select(WorkforceStaff.person_key)))
    assert keyed_digest(key, trust.person_ids[0]) in keys
    if database.is_sqlite:
        raw = Path(database.url.removeprefix("sqlite:///")).read_bytes()
        assert trust.person_ids[0].encode() not in raw
        assert trust.application_ids[0].encode() not in raw


def test_a_bad_file_imports_nothing_and_names_every_bad_line(
        cli: FlaskCliRunner, files: dict[str, Path], tmp_path: Path, database: Database) -> None:
    lines = files["staff"].read_text().splitlines()
    lines[3] = lines[3].replace(",no,", ",perhaps,", 1)
    lines[7] = lines[7].split(",", 1)[0] + ",martian" + "," + lines[7].split(",", 2)[2]
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n")
    result = cli.invoke(args=["workforce", "import", "staff", str(bad), "--period", PERIOD])
    assert result.exit_code == 1
    assert f"{bad}:4:" in result.output and f"{bad}:8: ethnicity:" in result.output
    assert "nothing was imported" in result.output
    assert count(database, WorkforceStaff) == 0
    with database.session() as db:
        assert db.scalar(select(func.count()).select_from(WorkforcePeriod)) == 0
    run(cli, "import", "staff", str(files["staff"]), "--period", "2026-04-05", ok=False)
    run(cli, "import", "staff", str(files["staff"]), ok=False)  # no period


def test_reimport_replaces_then_publication_needs_a_correction_with_a_note(
        cli: FlaskCliRunner, files: dict[str, Path], trust: synthetic.SyntheticTrust,
        tmp_path: Path, database: Database) -> None:
    run(cli, "import", "staff", str(files["staff"]), "--period", PERIOD)
    run(cli, "import", "recruitment", str(files["recruitment"]), "--period", PERIOD)
    smaller = tmp_path / "smaller.csv"
    smaller.write_text(formats.staff_csv(trust.staff[:300], trust.person_ids[:300]))
    run(cli, "import", "staff", str(smaller), "--period", PERIOD)
    assert count(database, WorkforceStaff) == 300
    assert "Published 2026-03-31 version 1." in run(cli, "publish", "--period", PERIOD)
    refused = run(cli, "import", "staff", str(files["staff"]), "--period", PERIOD, ok=False)
    assert "note" in refused
    out = run(cli, "import", "staff", str(files["staff"]), "--period", PERIOD,
              "--note", "Bank staff removed from the snapshot")
    assert "version 2 (draft): a new version correcting the published one." in out
    # Version 1 is kept; version 2 copied the recruitment data and took the new staff file.
    assert count(database, WorkforceStaff) == 300 + 400
    assert count(database, WorkforceApplication) == 2 * 1_200
    latest = json.loads(run(cli, "indicators", "--period", PERIOD))
    assert (latest["version"], latest["status"], latest["note"]) == (
        2, "draft", "Bank staff removed from the snapshot")
    first = json.loads(run(cli, "indicators", "--period", PERIOD, "--version", "1"))
    assert first["status"] == "published"
    run(cli, "publish", "--period", PERIOD)
    listed = run(cli, "periods").splitlines()
    assert listed == ["2026-03-31\tv2\tpublished\tBank staff removed from the snapshot",
                      "2026-03-31\tv1\tsuperseded\t"]
    run(cli, "publish", "--period", PERIOD, ok=False)  # nothing new to publish
    with database.session() as db:
        actions = list(db.scalars(select(AuditEvent.action).where(
            AuditEvent.action.like("workforce.%"))))
    assert actions.count("workforce.publish") == 2
    assert actions.count("workforce.import") == 4


def test_unknown_period_and_demo(cli: FlaskCliRunner) -> None:
    assert "No workforce data" in run(cli, "indicators", "--period", PERIOD, ok=False)
    assert "Imported a synthetic trust" in run(cli, "demo")
    assert "nothing imported" in run(cli, "demo")
    data = json.loads(run(cli, "indicators", "--period", PERIOD))
    assert len(data["definitions"]["wres3"]["snapshots"]) == 2
