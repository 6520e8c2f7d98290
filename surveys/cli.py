"""``speakup survey ...``: templates, import, invitation codes, waves and results.

The command-line contract (used by automated checks) is kept stable:
``survey template NAME``, ``survey import DEFINITION.toml RESPONSES.csv`` and
``survey results SURVEY_ID --by DIM[,DIM2] [--question QID] [--where DIM=VALUE]
[--format json|csv]``.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import click
from flask.cli import AppGroup

from analysis.disclosure import DisclosureError
from core.web import database, settings
from equality.charts import Labels
from surveys import definition as definitions
from surveys import results, services

survey_group = AppGroup("survey", help="Pulse surveys.")


def _fail(message: str) -> None:
    raise click.ClickException(message)


@survey_group.command("template", with_appcontext=False)
@click.argument("name")
def template(name: str) -> None:
    """Print a built-in survey definition (e.g. equality-pulse) to start from."""
    try:
        click.echo(definitions.template_text(name), nl=False)
    except KeyError:
        _fail(f"No template {name!r}. Templates: {', '.join(definitions.template_names())}")


@survey_group.command("import")
@click.argument("definition_file", type=click.Path(exists=True, dir_okay=False))
@click.argument("responses_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--wave", "wave_label", default="Imported",
              help="Wave for rows without a 'wave' column (default: Imported).")
def import_(definition_file: str, responses_file: str, wave_label: str) -> None:
    """Create or update a survey from DEFINITION_FILE and import RESPONSES_FILE (CSV).

    Columns are question ids, answers are option ids ('|' between choices of a multiple-choice
    question). If any row is invalid, each is reported by line number and nothing is imported.
    """
    try:
        definition_text = Path(definition_file).read_text(encoding="utf-8")
        csv_text = Path(responses_file).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        _fail(f"cannot read the files: {e}")
    with database().session() as db:
        try:
            survey = services.save_survey(db, definition_text=definition_text,
                                          settings=settings(), actor="cli")
            count = services.import_responses(db, survey=survey, csv_text=csv_text,
                                              wave_label=wave_label, settings=settings(),
                                              actor="cli")
        except definitions.DefinitionError as e:
            _fail(f"{definition_file}: {e}")
        except services.ImportRowsError as e:
            db.rollback()
            for error in e.errors:
                click.echo(f"{responses_file}:{error.line}: {error.message}", err=True)
            _fail(str(e))
        slug, survey_id = survey.slug, survey.id
    click.echo(f"Imported {count} response(s) into survey {slug} (id {survey_id}).")


@survey_group.command("codes")
@click.argument("survey_key")
@click.option("--wave", "wave_label", required=True, help="The wave the codes are for.")
@click.option("--count", type=click.IntRange(1, 100_000), required=True)
def codes(survey_key: str, wave_label: str, count: int) -> None:
    """Print COUNT single-use invitation codes as CSV, for a mail merge (shown once)."""
    with database().session() as db:
        try:
            survey = services.find_survey(db, survey_key)
            new = services.generate_codes(db, wave_=services.wave(db, survey, wave_label),
                                          count=count, actor="cli", settings=settings())
        except services.SurveyError as e:
            _fail(str(e))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["code"])
    writer.writerows([c] for c in new)
    click.echo(out.getvalue(), nl=False)


@survey_group.command("open")
@click.argument("survey_key")
@click.option("--wave", "wave_label", required=True)
@click.option("--open-link", is_flag=True, help="Also allow answers through an open link.")
def open_(survey_key: str, wave_label: str, open_link: bool) -> None:
    """Open a wave for answers."""
    with database().session() as db:
        try:
            survey = services.find_survey(db, survey_key)
            opened = services.open_wave(db, wave_=services.wave(db, survey, wave_label),
                                        open_link=open_link, actor="cli")
        except services.SurveyError as e:
            _fail(str(e))
        link = opened.open_link
    click.echo(f"Wave {wave_label!r} is open." + (f" Open link: /survey/link/{link}" if link
                                                    else ""))


@survey_group.command("close")
@click.argument("survey_key")
@click.option("--wave", "wave_label", required=True)
def close(survey_key: str, wave_label: str) -> None:
    """Close a wave: no more answers."""
    with database().session() as db:
        try:
            survey = services.find_survey(db, survey_key)
            services.close_wave(db, wave_=services.wave(db, survey, wave_label), actor="cli",
                                settings=settings())
        except services.SurveyError as e:
            _fail(str(e))
    click.echo(f"Wave {wave_label!r} is closed.")


def _parse_where(values: tuple[str, ...]) -> dict[str, str]:
    where = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            _fail(f"--where takes DIM=VALUE, not {item!r}")
        where[key.strip()] = value.strip()
    return where


@survey_group.command("results")
@click.argument("survey_key")
@click.option("--by", "by", default="", help="Up to two dimensions, comma-separated.")
@click.option("--question", "question_ids", multiple=True, help="Question id (repeatable).")
@click.option("--where", "where", multiple=True, help="A filter, DIM=VALUE (directorate).")
@click.option("--wave", "wave_label", default=None,
              help="Wave (default: the latest closed one), unless --by includes wave.")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json")
def results_(survey_key: str, by: str, question_ids: tuple[str, ...], where: tuple[str, ...],
             wave_label: str | None, fmt: str) -> None:
    """Disclosure-controlled results: nothing below the minimum cell size, ever."""
    dims = [d.strip() for d in by.split(",") if d.strip()]
    with database().session() as db:
        try:
            survey = services.find_survey(db, survey_key)
            answered = results.question_results(
                db, survey=survey, settings=settings(), by=dims, where=_parse_where(where),
                question_ids=list(question_ids) or None, wave_label=wave_label)
            db.commit()  # each wave's audited release is kept (core.release_store)
        except (services.SurveyError, DisclosureError) as e:
            _fail(str(e))
        if fmt == "json":
            text = json.dumps(results.results_payload(survey.slug, answered,
                                                      settings().min_cell_size), indent=2) + "\n"
        else:
            labels = Labels(services.definition_of(survey, settings()),
                            tuple(w.label for w in results.released_waves(survey)))
            text = results.results_csv(answered, labels, settings().min_cell_size)
    click.echo(text, nl=False)

