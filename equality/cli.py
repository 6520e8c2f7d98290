"""``speakup workforce ...``: templates, import, indicators, publication, synthetic data.

The command-line contract (used by automated checks) is kept stable:
``workforce template staff|recruitment``, ``workforce import staff|recruitment FILE.csv
--period 2026-03-31`` and ``workforce indicators --period 2026-03-31 [--format json|csv]``.
The ``board`` and ``targets`` kinds, ``publish``, ``periods``, ``generate`` and ``demo`` are
additions.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import cast

import click
from flask.cli import AppGroup

from analysis.workforce import formats, synthetic
from analysis.workforce.formats import KINDS
from core.web import database, settings
from equality import payload, services

workforce_group = AppGroup("workforce", help="Workforce equality data (WRES, WDES, recruitment).")

_PERIOD_HELP = "The period's 31 March snapshot date, YYYY-MM-DD (e.g. 2026-03-31)."


def _fail(message: str) -> None:
    raise click.ClickException(message)


def _snapshot(value: datetime | None) -> date | None:
    if value is None:
        return None
    day = value.date()
    if (day.month, day.day) != (3, 31):
        _fail(f"A reporting period is a 31 March snapshot; {day.isoformat()} is not one.")
    return day


@workforce_group.command("template")
@click.argument("kind", type=click.Choice(KINDS))
def template(kind: str) -> None:
    """Print the header row of a CSV format (staff, recruitment, board or targets)."""
    click.echo(formats.template(cast(formats.Kind, kind)), nl=False)


@workforce_group.command("import")
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--period", type=click.DateTime(["%Y-%m-%d"]), help=_PERIOD_HELP)
@click.option("--note", default=None,
              help="What a correction changes (required once the period is published).")
def import_(kind: str, csv_file: str, period: datetime | None, note: str | None) -> None:
    """Import CSV_FILE (staff, recruitment and board need --period; targets do not).

    Every row is checked first: if any is invalid, each problem is listed by line and nothing
    is imported. Importing into a draft period replaces that kind of data; after publication an
    import with --note makes a new draft version (a correction).
    """
    snapshot = _snapshot(period)
    try:
        text = Path(csv_file).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        _fail(f"cannot read {csv_file} as UTF-8 text: {e}")
    with database().session() as db:
        try:
            result = services.import_file(db, kind=kind, csv_text=text, snapshot=snapshot,
                                          settings=settings(), actor="cli", note=note)
        except services.ImportRowsError as e:
            db.rollback()
            for error in e.errors:
                column = f" {error.column}:" if error.column else ""
                click.echo(f"{csv_file}:{error.line}:{column} {error.message}", err=True)
            _fail(str(e))
        except services.WorkforceDataError as e:
            db.rollback()
            _fail(str(e))
    if result.snapshot is None:
        click.echo(f"Imported {result.rows:,} Model Employer target(s).")
    else:
        click.echo(f"Imported {result.rows:,} {kind} row(s) into {result.snapshot.isoformat()} "
                   f"version {result.version} ({result.status})"
                   + (": a new version correcting the published one." if result.correction
                      else "."))


@workforce_group.command("indicators")
@click.option("--period", type=click.DateTime(["%Y-%m-%d"]), required=True, help=_PERIOD_HELP)
@click.option("--version", "version", type=click.IntRange(1), default=None,
              help="A version of the period (default: the latest).")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json")
@click.option("--table", type=click.Choice(payload.TABLES), default="indicators",
              help="With --format csv: which section to print (default: indicators).")
def indicators(period: datetime, version: int | None, fmt: str, table: str) -> None:
    """WRES 1-4 and 9, WDES 1-3 and 10, funnel, routes and pay gaps for a period.

    Trust-level figures are exact; breakdowns below trust level hide groups smaller than the
    minimum cell size.
    """
    snapshot = _snapshot(period)
    if snapshot is None:
        return
    with database().session() as db:
        try:
            found, report = services.period_report(db, snapshot=snapshot, version=version)
        except services.WorkforceDataError as e:
            _fail(str(e))
        data = payload.workforce_payload(found, report, k=settings().min_cell_size,
                                         organisation=settings().organisation.name)
    if fmt == "json":
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(payload.payload_csv(data, table), nl=False)


@workforce_group.command("publish")
@click.option("--period", type=click.DateTime(["%Y-%m-%d"]), required=True, help=_PERIOD_HELP)
def publish(period: datetime) -> None:
    """Publish the period's latest version: later imports need a note and make a correction."""
    snapshot = _snapshot(period)
    if snapshot is None:
        return
    with database().session() as db:
        try:
            published = services.publish(db, snapshot=snapshot, actor="cli")
        except services.WorkforceDataError as e:
            _fail(str(e))
        version = published.version
    click.echo(f"Published {snapshot.isoformat()} version {version}.")


@workforce_group.command("periods")
def periods() -> None:
    """List every version of every period (snapshot, version, status, note)."""
    with database().session() as db:
        for p in services.list_periods(db):
            click.echo(f"{p.snapshot.isoformat()}\tv{p.version}\t{p.status}\t{p.note or ''}")


@workforce_group.command("generate")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--period", type=click.DateTime(["%Y-%m-%d"]), default="2026-03-31",
              help=_PERIOD_HELP)
@click.option("--seed", type=int, default=2026, show_default=True)
@click.option("--staff", "staff_count", type=click.IntRange(50, 200_000), default=5_000,
              show_default=True)
@click.option("--applications", type=click.IntRange(50, 500_000), default=20_000,
              show_default=True)
def generate(directory: str, period: datetime, seed: int, staff_count: int,
             applications: int) -> None:
    """Write the CSV files of a made-up trust (with a built-in disparity) into DIRECTORY."""
    snapshot = _snapshot(period)
    if snapshot is None:
        return
    trust = synthetic.generate(seed=seed, snapshot=snapshot, staff=staff_count,
                               applications=applications)
    for name, path in synthetic.write_csvs(trust, Path(directory)).items():
        click.echo(f"{name}: {path}")


@workforce_group.command("demo")
@click.option("--period", type=click.DateTime(["%Y-%m-%d"]), default="2026-03-31",
              help=_PERIOD_HELP)
def demo(period: datetime) -> None:
    """Import a synthetic trust (development only): the previous year published, the period
    itself as a draft, and the Model Employer targets. Does nothing if the period exists."""
    snapshot = _snapshot(period)
    if snapshot is None:
        return
    if settings().env == "production":
        _fail("The demo data is for development only.")
    trust = synthetic.generate(snapshot=snapshot)
    previous = date(snapshot.year - 1, 3, 31)
    with database().session() as db:
        if services.list_periods(db):
            click.echo("Workforce data already exists; nothing imported.")
            return
        steps = (
            ("staff", previous, formats.staff_csv(trust.previous_staff, trust.previous_person_ids)),
            ("board", previous, formats.board_csv(trust.board)),
            ("staff", snapshot, formats.staff_csv(trust.staff, trust.person_ids)),
            ("recruitment", snapshot, formats.recruitment_csv(trust.applications,
                                                              trust.application_ids)),
            ("board", snapshot, formats.board_csv(trust.board)),
        )
        for kind, day, text in steps:
            services.import_file(db, kind=kind, csv_text=text, snapshot=day, settings=settings(),
                                 actor="demo")
        services.import_file(db, kind="targets", csv_text=formats.targets_csv(trust.targets),
                             snapshot=None, settings=settings(), actor="demo")
        services.publish(db, snapshot=previous, actor="demo")
    click.echo(f"Imported a synthetic trust: {previous.isoformat()} (published) and "
               f"{snapshot.isoformat()} (draft).")
