"""``speakup themes``: theme analysis of free text from the command line (no app, no database).

Commands (the ``tag`` output format is a contract used by automated checks; keep it stable):

``tag INPUT [--format jsonl|csv]``
    INPUT is a CSV file with columns ``id`` and ``text`` (other columns are ignored), or ``-`` for
    standard input. Rows are read, tagged and written one at a time, in input order, so memory
    stays flat however long the input. JSONL: one object per row,
    ``{"id": ..., "themes": [{"id": ..., "score": 0.93, "evidence": ["..."]}], "tone": -0.42}``
    (themes highest score first; score in [0, 1] with 3 decimals; tone in [-1, 1]). CSV: header
    ``id,themes,tone``; ``themes`` is ``theme:score`` pairs joined by ``|`` (empty for none).
    Empty or non-English text gets an empty theme list and tone 0.
``evaluate LABELLED``
    Per-theme precision, recall and F1, micro and macro F1 and a confusion summary, for each
    split of a labelled CSV (``id,text,themes[,split]``).
``train LABELLED... --output MODEL.json``
    Retrain the supervised layer on every row outside the ``heldout*`` splits and print the
    held-out figures before (current model) and after (new model).
``emerging INPUT``, ``redact INPUT``, ``list``
    Recurring phrases the taxonomy misses; redacted texts as CSV; the themes and descriptions.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import click

from analysis import AnalysisError
from analysis.themes.classifier import ThemeModel, TrainingOptions, train
from analysis.themes.emerging import emerging_phrases, read_background
from analysis.themes.engine import Tagged, ThemeEngine
from analysis.themes.evaluation import describe_model, evaluate_engine, format_comparison, format_report
from analysis.themes.labelled import HELDOUT, LabelledExample, allow_large_fields, read_labelled
from analysis.themes.redaction import redact

_PATH = click.Path(dir_okay=False, allow_dash=True)
_EXISTING = click.Path(dir_okay=False, exists=True)


def _engine(taxonomy: str | None, model: str | None, no_model: bool, with_tone: bool = True) -> ThemeEngine:
    try:
        return ThemeEngine.default(taxonomy=taxonomy, model=model, with_model=not no_model,
                                   with_tone=with_tone)
    except AnalysisError as e:
        raise click.ClickException(str(e)) from e


@contextmanager
def _open_csv(path: str) -> Iterator[TextIO]:
    """The CSV at ``path`` (``-``: standard input) as UTF-8 text (a byte-order mark is skipped)."""
    allow_large_fields()
    if path == "-":
        stream = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", newline="", errors="replace")
        try:
            yield stream
        finally:
            stream.detach()
        return
    try:
        with Path(path).open(encoding="utf-8-sig", newline="", errors="replace") as file:
            yield file
    except OSError as e:
        raise click.ClickException(f"cannot read {path}: {e.strerror}") from e


@contextmanager
def _utf8_stdout() -> Iterator[TextIO]:
    """Standard output as buffered UTF-8 text whatever the locale (left open afterwards)."""
    sys.stdout.flush()
    stream = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="\n")
    try:
        yield stream
        stream.flush()
    finally:
        stream.detach()


def _rows(stream: TextIO, source: str) -> Iterator[tuple[str, str]]:
    """``(id, text)`` per CSV row, lazily; ClickException if a column is missing or the CSV breaks."""
    reader = csv.DictReader(stream)
    fields = reader.fieldnames or []
    missing = [c for c in ("id", "text") if c not in fields]
    if missing:
        raise click.ClickException(
            f"{source}: the CSV needs columns id and text (missing {', '.join(missing)})"
        )
    try:
        for row in reader:
            yield row.get("id") or "", row.get("text") or ""
    except csv.Error as e:
        raise click.ClickException(f"{source} line {reader.line_num}: {e}") from e


def _jsonl(row_id: str, tagged: Tagged) -> str:
    themes = [{"id": h.theme, "score": round(h.score, 3), "evidence": list(h.evidence)}
              for h in tagged.themes]
    return json.dumps({"id": row_id, "themes": themes, "tone": round(tagged.tone, 3)}, ensure_ascii=False)


@click.group("themes")
def themes() -> None:
    """Theme analysis of concerns and survey comments (taxonomy in config/themes/)."""


@themes.command("tag")
@click.argument("input_path", metavar="INPUT", type=_PATH)
@click.option("--format", "output_format", type=click.Choice(["jsonl", "csv"]), default="jsonl",
              show_default=True, help="jsonl: one JSON object per row; csv: id,themes,tone.")
@click.option("--taxonomy", type=_EXISTING, help="Taxonomy TOML (default config/themes/taxonomy.toml).")
@click.option("--model", type=_EXISTING, help="Supervised model JSON (default config/themes/model.json).")
@click.option("--no-model", is_flag=True, help="Rules only, no supervised layer.")
def tag_command(input_path: str, output_format: str, taxonomy: str | None, model: str | None,
                no_model: bool) -> None:
    """Tag each row of INPUT (CSV with id,text; - for standard input) with themes and tone."""
    engine = _engine(taxonomy, model, no_model)
    try:
        with _open_csv(input_path) as stream, _utf8_stdout() as out:
            results = engine.tag_rows(_rows(stream, input_path))
            if output_format == "jsonl":
                for row_id, tagged in results:
                    out.write(_jsonl(row_id, tagged) + "\n")
            else:
                writer = csv.writer(out, lineterminator="\n")
                writer.writerow(["id", "themes", "tone"])
                for row_id, tagged in results:
                    pairs = "|".join(f"{h.theme}:{h.score:.3f}" for h in tagged.themes)
                    writer.writerow([row_id, pairs, f"{tagged.tone:.3f}"])
    except BrokenPipeError:
        # The reader went away (e.g. piped into head): stop quietly.
        sys.stderr.close()


def _labelled(paths: tuple[str, ...], engine: ThemeEngine) -> list[LabelledExample]:
    examples: list[LabelledExample] = []
    try:
        for path in paths:
            examples.extend(read_labelled(path, known_themes=engine.taxonomy.theme_ids))
    except AnalysisError as e:
        raise click.ClickException(str(e)) from e
    return examples


@themes.command("evaluate")
@click.argument("labelled", type=_EXISTING)
@click.option("--split", "only_split", help="Only rows of this split (e.g. heldout).")
@click.option("--taxonomy", type=_EXISTING, help="Taxonomy TOML (default config/themes/taxonomy.toml).")
@click.option("--model", type=_EXISTING, help="Supervised model JSON (default config/themes/model.json).")
@click.option("--no-model", is_flag=True, help="Rules only, no supervised layer.")
def evaluate_command(labelled: str, only_split: str | None, taxonomy: str | None, model: str | None,
                     no_model: bool) -> None:
    """Precision, recall and F1 per theme on LABELLED (CSV id,text,themes[,split]), per split."""
    engine = _engine(taxonomy, model, no_model, with_tone=False)
    examples = _labelled((labelled,), engine)
    splits = sorted({e.split for e in examples}, key=lambda s: (s != "dev", s != HELDOUT, s))
    if only_split is not None:
        if only_split not in splits:
            raise click.ClickException(f"no rows in split {only_split!r} (splits: {', '.join(splits)})")
        splits = [only_split]
    click.echo(describe_model(engine.model))
    for split in splits:
        rows = [e for e in examples if e.split == split]
        click.echo("")
        title = f"{labelled}: split {split} ({len(rows)} comments)"
        click.echo(format_report(evaluate_engine(engine, rows), title))


@themes.command("train")
@click.argument("labelled", nargs=-1, required=True, type=_EXISTING)
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="Where to write MODEL.json.")
@click.option("--taxonomy", type=_EXISTING, help="Taxonomy TOML (default config/themes/taxonomy.toml).")
@click.option("--model", type=_EXISTING,
              help="The model to compare against (default config/themes/model.json).")
@click.option("--l2", type=click.FloatRange(min=0.0), default=TrainingOptions.l2, show_default=True,
              help="L2 penalty on the weights (with --adapt: on their distance from the model's).")
@click.option("--min-count", type=click.IntRange(min=1), default=TrainingOptions.min_count, show_default=True,
              help="Drop features seen in fewer training comments.")
@click.option("--adapt", is_flag=True,
              help="Start from the --model's weights and stay close to them: a trust's few "
                   "hundred labels adjust the shipped model instead of replacing it.")
def train_command(labelled: tuple[str, ...], output: str, taxonomy: str | None, model: str | None,
                  l2: float, min_count: int, adapt: bool) -> None:
    """Retrain the supervised layer on LABELLED files (rows outside any heldout* split) and print
    held-out figures before and after."""
    before = _engine(taxonomy, model, False, with_tone=False)
    examples = _labelled(labelled, before)
    # Every held-out split ("heldout", "heldout2", ...) stays out of training.
    training = [e for e in examples if not e.split.startswith(HELDOUT)]
    heldout = [e for e in examples if e.split.startswith(HELDOUT)]
    try:
        options = TrainingOptions(l2=l2, min_count=min_count)
        prior = before.model if adapt else None
        if adapt and prior is None:
            raise click.ClickException("--adapt needs a model to start from (--model MODEL.json).")
        new_model = train(training, matcher=before.matcher, options=options, prior=prior)
        new_model.save(output)
    except AnalysisError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"Trained on {len(training)} comments; wrote {output}.")
    if not heldout:
        click.echo("No held-out rows (split column 'heldout'): nothing to compare on.")
        return
    after = before.with_model(ThemeModel.load(output))
    old, new = evaluate_engine(before, heldout), evaluate_engine(after, heldout)
    click.echo(f"before: {describe_model(before.model)}")
    click.echo(f"after:  {describe_model(after.model)}")
    click.echo("")
    click.echo(format_comparison(old, new, f"Held-out comments ({len(heldout)}): before and after"))
    click.echo("")
    click.echo(format_report(new, "After retraining, held-out comments"))


@themes.command("emerging")
@click.argument("input_path", metavar="INPUT", type=_PATH)
@click.option("--top", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--min-comments", type=click.IntRange(min=1), default=3, show_default=True,
              help="A phrase must occur in at least this many comments.")
@click.option("--background", type=_EXISTING, help="Background corpus, one document per line.")
@click.option("--taxonomy", type=_EXISTING, help="Taxonomy TOML (default config/themes/taxonomy.toml).")
def emerging_command(input_path: str, top: int, min_comments: int, background: str | None,
                     taxonomy: str | None) -> None:
    """Recurring phrases in INPUT (CSV id,text) that no theme covers, most distinctive first."""
    engine = _engine(taxonomy, None, True, with_tone=False)
    try:
        documents = read_background(background)
        with _open_csv(input_path) as stream:
            found = emerging_phrases(_rows(stream, input_path), matcher=engine.matcher, background=documents,
                                     min_comments=min_comments, top=top)
    except AnalysisError as e:
        raise click.ClickException(str(e)) from e
    if not found:
        click.echo("No recurring phrase outside the taxonomy.")
        return
    click.echo(f"{'phrase':<32} comments  keyness  examples")
    for phrase in found:
        examples = ", ".join(phrase.examples)
        click.echo(f"{phrase.phrase:<32} {phrase.comments:8d} {phrase.keyness:8.1f}  {examples}")


@themes.command("redact")
@click.argument("input_path", metavar="INPUT", type=_PATH)
def redact_command(input_path: str) -> None:
    """INPUT (CSV id,text) as CSV id,text with names, contacts, places, dates and numbers redacted."""
    with _open_csv(input_path) as stream, _utf8_stdout() as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["id", "text"])
        for row_id, text in _rows(stream, input_path):
            writer.writerow([row_id, redact(text)])


@themes.command("list")
@click.option("--taxonomy", type=_EXISTING, help="Taxonomy TOML (default config/themes/taxonomy.toml).")
def list_command(taxonomy: str | None) -> None:
    """The themes of the taxonomy, with their descriptions."""
    engine = _engine(taxonomy, None, True, with_tone=False)
    for theme in engine.taxonomy.themes:
        click.echo(f"{theme.id}  ({theme.label})")
        click.echo(f"    {theme.description}")
