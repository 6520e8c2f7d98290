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
    Per-theme precision, recall and F1, micro and macro F1, false alarms on no-theme rows and a
    confusion summary, with bootstrap 95% intervals, for each split of a labelled CSV
    (``id,text,themes[,split][,source]``); ``--cross-validate``: nested cross-validation by
    source of the whole engine (rows of a source never in both training and scoring);
    ``--against OTHER.csv``: agreement of a second labelling with the first.
``train LABELLED... --output MODEL.json``
    Retrain the supervised n-gram layer on every row outside the ``heldout*`` splits and print
    the held-out figures before (current model) and after (new model).
``train-embeddings LABELLED... --output EMBEDDING_MODEL.json``
    Train the embedding layer's classifier on every row outside the ``heldout*`` splits, with
    thresholds calibrated by cross-validation by source.
``calibrate LABELLED... --output EMBEDDING_MODEL.json``
    Refit the per-theme thresholds of the current models on development rows they were not
    trained on (no retraining).

The embedding layer follows the settings ``SPEAKUP_THEME_ENCODER``,
``SPEAKUP_THEME_ENCODER_SHA256`` and ``SPEAKUP_THEME_EMBEDDING_MODEL`` (`config.settings`), or
the ``--encoder``, ``--encoder-sha256``, ``--embedding-model`` and ``--no-embeddings`` options.
``emerging INPUT``, ``redact INPUT``, ``list``
    Recurring phrases the taxonomy misses; redacted texts as CSV; the themes and descriptions.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TextIO

import click

from analysis import AnalysisError
from analysis.themes.calibration import (
    cross_validate_engine,
    embed,
    fit_thresholds,
    out_of_fold_scores,
    score_layers,
)
from analysis.themes.classifier import ThemeModel, TrainingOptions, train
from analysis.themes.embedding import EmbeddingOptions, train_embedding_model
from analysis.themes.emerging import emerging_phrases, read_background
from analysis.themes.encoder import SentenceEncoder, load_encoder
from analysis.themes.engine import BATCH, Tagged, ThemeEngine
from analysis.themes.evaluation import (
    agreement,
    bootstrap,
    describe_model,
    evaluate_engine,
    evaluate_predictions,
    format_bootstrap,
    format_comparison,
    format_report,
    groups_of,
)
from analysis.themes.labelled import HELDOUT, LabelledExample, allow_large_fields, read_labelled
from analysis.themes.redaction import redact
from config.settings import SettingsError, theme_encoder_settings

_PATH = click.Path(dir_okay=False, allow_dash=True)
_EXISTING = click.Path(dir_okay=False, exists=True)


@dataclass(frozen=True)
class _EncoderChoice:
    """The embedding layer chosen by options, else by the environment's settings."""

    enabled: bool
    folder: str | None
    sha256: str | None
    classifier: str | None


def _encoder_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options that choose the embedding layer (default: the settings in the environment)."""
    for option in reversed([
        click.option("--no-embeddings", is_flag=True, help="No embedding layer (rules and n-grams only)."),
        click.option("--encoder", type=click.Path(file_okay=False, exists=True),
                     help="Sentence-transformers model folder (default: SPEAKUP_THEME_ENCODER, else "
                          "the pinned all-MiniLM-L6-v2)."),
        click.option("--encoder-sha256", help="SHA-256 of the folder's model.safetensors."),
        click.option("--embedding-model", type=_EXISTING,
                     help="Embedding classifier JSON (default: SPEAKUP_THEME_EMBEDDING_MODEL, else "
                          "config/themes/embedding_model.json)."),
    ]):
        command = option(command)
    return command


def _encoder_choice(no_embeddings: bool, encoder: str | None, encoder_sha256: str | None,
                    embedding_model: str | None) -> _EncoderChoice:
    try:
        configured = theme_encoder_settings(os.environ)
    except SettingsError as e:
        raise click.ClickException(str(e)) from e
    folder = encoder or (str(configured.folder) if configured.folder else None)
    sha256 = encoder_sha256 or (configured.sha256 if not encoder else None)
    classifier = embedding_model or (str(configured.classifier) if configured.classifier else None)
    return _EncoderChoice(configured.enabled and not no_embeddings, folder, sha256, classifier)


def _engine(taxonomy: str | None, model: str | None, no_model: bool, with_tone: bool = True,
            choice: _EncoderChoice | None = None) -> ThemeEngine:
    choice = choice or _EncoderChoice(False, None, None, None)
    try:
        return ThemeEngine.default(taxonomy=taxonomy, model=model, with_model=not no_model,
                                   with_tone=with_tone, with_embeddings=choice.enabled,
                                   encoder=choice.folder, encoder_sha256=choice.sha256,
                                   embedding_model=choice.classifier)
    except AnalysisError as e:
        raise click.ClickException(str(e)) from e


def _encoder(engine: ThemeEngine, choice: _EncoderChoice, precision: str = "int8") -> SentenceEncoder:
    """The engine's encoder, or the chosen one when the engine has no embedding layer yet."""
    if engine.embeddings is not None:
        return engine.embeddings.encoder
    try:
        return load_encoder(choice.folder, sha256=choice.sha256,
                            precision="float32" if precision == "float32" else "int8")
    except AnalysisError as e:
        raise click.ClickException(str(e)) from e


class _CountingReader(io.RawIOBase):
    """A binary file that counts the bytes read from it (for the progress bar)."""

    def __init__(self, raw: BinaryIO) -> None:
        super().__init__()
        self._raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        buffer[:len(data)] = data
        self.count += len(data)
        return len(data)


class _Progress:
    """A progress bar on standard error when it is a terminal (rows, rate and, for a file, the
    share read); silent otherwise. Redrawn at most five times a second."""

    def __init__(self, total_bytes: int | None, counter: _CountingReader | None) -> None:
        self._on = sys.stderr.isatty()
        self._total = total_bytes
        self._counter = counter
        self._rows = 0
        self._start = self._shown = time.monotonic()

    def step(self) -> None:
        self._rows += 1
        now = time.monotonic()
        if self._on and now - self._shown >= 0.2:
            self._shown = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        rate = self._rows / max(now - self._start, 1e-9)
        text = f"{self._rows:,} rows  {rate:,.0f} rows/s"
        if self._total and self._counter is not None:
            share = min(self._counter.count / self._total, 1.0)
            filled = int(share * 30)
            text = f"[{'#' * filled}{'.' * (30 - filled)}] {share:4.0%}  " + text
        sys.stderr.write("\r" + text)
        sys.stderr.flush()

    def close(self) -> None:
        if self._on:
            self._draw(time.monotonic())
            sys.stderr.write("\n")
            sys.stderr.flush()


@contextmanager
def _open_csv(path: str, progress: bool = False) -> Iterator[TextIO]:
    """The CSV at ``path`` (``-``: standard input) as UTF-8 text (a byte-order mark is skipped).
    With ``progress``, the stream has a ``progress`` attribute (`_Progress`)."""
    allow_large_fields()
    if path == "-":
        stream = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", newline="", errors="replace")
        if progress:
            stream.progress = _Progress(None, None)  # type: ignore[attr-defined]
        try:
            yield stream
        finally:
            stream.detach()
        return
    try:
        with Path(path).open("rb") as raw:
            counter = _CountingReader(raw)
            with io.TextIOWrapper(io.BufferedReader(counter), encoding="utf-8-sig", newline="",
                                  errors="replace") as file:
                if progress:
                    file.progress = _Progress(os.fstat(raw.fileno()).st_size, counter)  # type: ignore[attr-defined]
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
@click.option("--batch-size", type=click.IntRange(min=1), default=BATCH, show_default=True,
              help="Rows read ahead and encoded together by the embedding layer.")
@_encoder_options
def tag_command(input_path: str, output_format: str, taxonomy: str | None, model: str | None,
                no_model: bool, batch_size: int, no_embeddings: bool, encoder: str | None,
                encoder_sha256: str | None, embedding_model: str | None) -> None:
    """Tag each row of INPUT (CSV with id,text; - for standard input) with themes and tone.

    Rows are read and written a batch at a time (memory stays flat); on a terminal a progress
    bar is drawn on standard error."""
    engine = _engine(taxonomy, model, no_model,
                     choice=_encoder_choice(no_embeddings, encoder, encoder_sha256, embedding_model))
    try:
        with _open_csv(input_path, progress=True) as stream, _utf8_stdout() as out:
            progress: _Progress = stream.progress  # type: ignore[attr-defined]
            results = engine.tag_rows(_rows(stream, input_path), batch=batch_size)
            if output_format == "jsonl":
                for row_id, tagged in results:
                    out.write(_jsonl(row_id, tagged) + "\n")
                    progress.step()
            else:
                writer = csv.writer(out, lineterminator="\n")
                writer.writerow(["id", "themes", "tone"])
                for row_id, tagged in results:
                    pairs = "|".join(f"{h.theme}:{h.score:.3f}" for h in tagged.themes)
                    writer.writerow([row_id, pairs, f"{tagged.tone:.3f}"])
                    progress.step()
            progress.close()
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
@click.option("--split", "only_splits", multiple=True, help="Only rows of this split (repeatable).")
@click.option("--pooled", is_flag=True, help="One report for all chosen rows instead of one per split.")
@click.option("--bootstrap", "resamples", type=click.IntRange(min=0), default=1000, show_default=True,
              help="Bootstrap resamples for 95% intervals (0: none); by source when rows name one.")
@click.option("--cross-validate", "cross", is_flag=True,
              help="Nested cross-validation of the whole engine on the chosen rows (models and "
                   "thresholds trained without the rows' sources) instead of the current models.")
@click.option("--folds", type=click.IntRange(min=2), default=5, show_default=True)
@click.option("--group-by", type=click.Choice(["source", "split", "id"]), default="source",
              show_default=True, help="What cross-validation folds and bootstrap resamples keep together.")
@click.option("--bootstrap-by", type=click.Choice(["source", "split", "id"]),
              help="What bootstrap resamples keep together, if not --group-by (id: single comments).")
@click.option("--calibrate-base", is_flag=True,
              help="With --cross-validate: also fit the rules + n-gram thresholds (only on text the "
                   "taxonomy was not written from).")
@click.option("--extra-training", "extra_files", multiple=True, type=_EXISTING,
              help="With --cross-validate: labelled rows (outside heldout* splits) added to every "
                   "fold's training and never scored, e.g. the written comments beside a real corpus.")
@click.option("--weight", type=click.FloatRange(min=0.0, min_open=True), default=1.0, show_default=True,
              help="With --cross-validate: how much each LABELLED row counts in training against one "
                   "--extra-training row (real text is worth several written comments).")
@click.option("--against", type=_EXISTING,
              help="A second labelling of the same ids: print its agreement with LABELLED instead.")
@click.option("--taxonomy", type=_EXISTING, help="Taxonomy TOML (default config/themes/taxonomy.toml).")
@click.option("--model", type=_EXISTING, help="Supervised model JSON (default config/themes/model.json).")
@click.option("--no-model", is_flag=True, help="Rules only, no supervised layer.")
@_encoder_options
def evaluate_command(labelled: str, only_splits: tuple[str, ...], pooled: bool, resamples: int, cross: bool,
                     folds: int, group_by: str, bootstrap_by: str | None, calibrate_base: bool,
                     extra_files: tuple[str, ...], weight: float, against: str | None,
                     taxonomy: str | None, model: str | None, no_model: bool, no_embeddings: bool,
                     encoder: str | None, encoder_sha256: str | None, embedding_model: str | None) -> None:
    """Precision, recall, F1 and false alarms per theme on LABELLED (CSV id,text,themes[,split]
    [,source]), per split, with bootstrap 95% intervals."""
    choice = _encoder_choice(no_embeddings, encoder, encoder_sha256, embedding_model)
    engine = _engine(taxonomy, model, no_model, with_tone=False, choice=choice)
    examples = _labelled((labelled,), engine)
    splits = sorted({e.split for e in examples}, key=lambda s: (s != "dev", s != HELDOUT, s))
    if only_splits:
        unknown = [s for s in only_splits if s not in splits]
        if unknown:
            raise click.ClickException(
                f"no rows in split(s) {', '.join(unknown)} (splits: {', '.join(splits)})")
        splits = [s for s in splits if s in only_splits]
    themes = engine.taxonomy.theme_ids
    groups_by = group_by if any(e.source for e in examples) or group_by != "source" else "id"
    resample_by = bootstrap_by or groups_by
    if against is not None:
        second = _labelled((against,), engine)
        chosen = [e for e in examples if e.split in splits]
        try:
            result = agreement(chosen, second, themes)
        except AnalysisError as e:
            raise click.ClickException(str(e)) from e
        click.echo(format_report(result, f"Agreement: {against} scored against {labelled} "
                                         f"({result.comments} shared comments)"))
        by_id = {e.id: e for e in second}
        pairs = [(e, by_id[e.id].themes) for e in chosen if e.id in by_id]
        _print_bootstrap(pairs, themes, resamples,
                         groups_of([p[0] for p in pairs], resample_by) if resample_by != "id" else None)
        return
    sets = [(f"splits {', '.join(splits)}", [e for e in examples if e.split in splits])] if pooled or cross \
        else [(f"split {s}", [e for e in examples if e.split == s]) for s in splits]
    if cross:
        rows = sets[0][1]
        if engine.embeddings is None and not choice.enabled:
            raise click.ClickException("--cross-validate evaluates the engine with its embedding layer; "
                                       "drop --no-embeddings (or use `train --cross-validate`)")
        groups = groups_of(rows, groups_by)
        click.echo(f"Nested {folds}-fold cross-validation by {groups_by} on {len(rows)} comments "
                   f"({len(set(groups))} groups); rules are used as they are.")
        try:
            extra = _development(_labelled(extra_files, engine)) if extra_files else []
            nested = cross_validate_engine(engine, rows, _encoder(engine, choice), groups=groups, folds=folds,
                                           calibrate_base=calibrate_base, with_ngram_model=not no_model,
                                           extra=extra, weight=weight)
        except AnalysisError as e:
            raise click.ClickException(str(e)) from e
        for title, assigned in (("rules + n-grams + embeddings (thresholds fitted inside each fold)",
                                 nested.predictions),
                                ("rules + n-grams alone", nested.base_only),
                                ("embeddings alone (own thresholds fitted inside each fold)",
                                 nested.embedding_only)):
            scored: list[tuple[LabelledExample, Collection[str]]] = list(zip(rows, assigned, strict=True))
            click.echo("")
            click.echo(format_report(evaluate_predictions(scored, themes), f"{labelled}: {title}"))
            _print_bootstrap(scored, themes, resamples,
                             groups_of(rows, resample_by) if resample_by != "id" else None)
        return
    click.echo(describe_model(engine.model))
    click.echo(_describe_embeddings(engine))
    for name, rows in sets:
        click.echo("")
        tagged_rows: list[tuple[LabelledExample, Collection[str]]] = [
            (e, [h.theme for h in hits]) for e, hits in
            zip(rows, (tagged.themes for _id, tagged in engine.tag_rows((e.id, e.text) for e in rows)),
                strict=True)]
        click.echo(format_report(evaluate_predictions(tagged_rows, themes),
                                 f"{labelled}: {name} ({len(rows)} comments)"))
        _print_bootstrap(tagged_rows, themes, resamples,
                         groups_of(rows, resample_by) if resample_by != "id" else None)


def _print_bootstrap(pairs: Sequence[tuple[LabelledExample, Any]], themes: Sequence[str], resamples: int,
                     groups: Sequence[str] | None) -> None:
    if resamples and pairs:
        click.echo("")
        click.echo(format_bootstrap(bootstrap(pairs, themes, resamples=resamples, groups=groups)))


def _describe_embeddings(engine: ThemeEngine) -> str:
    if engine.embeddings is None:
        return "embedding layer: none"
    layer = engine.embeddings
    examples = layer.model.metadata.get("examples", "?")
    return (f"embedding layer: {layer.encoder.name} ({layer.encoder.precision}, weights "
            f"{layer.encoder.sha256[:12]}...), classifier trained on {examples} comments")


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
@click.option("--extra-training", "extra_files", multiple=True, type=_EXISTING,
              help="More labelled rows to train on (outside heldout* splits), counted once each "
                   "against --weight for the LABELLED rows; never used for the held-out figures.")
@click.option("--weight", type=click.FloatRange(min=0.0, min_open=True), default=1.0, show_default=True,
              help="How much each LABELLED row counts in training against one --extra-training row.")
def train_command(labelled: tuple[str, ...], output: str, taxonomy: str | None, model: str | None,
                  l2: float, min_count: int, adapt: bool, extra_files: tuple[str, ...],
                  weight: float) -> None:
    """Retrain the supervised layer on LABELLED files (rows outside any heldout* split) and print
    held-out figures before and after."""
    before = _engine(taxonomy, model, False, with_tone=False)
    examples = _labelled(labelled, before)
    extra = _development(_labelled(extra_files, before)) if extra_files else []
    # Every held-out split ("heldout", "heldout2", ...) stays out of training.
    training = [e for e in examples if not e.split.startswith(HELDOUT)]
    heldout = [e for e in examples if e.split.startswith(HELDOUT)]
    try:
        options = TrainingOptions(l2=l2, min_count=min_count)
        prior = before.model if adapt else None
        if adapt and prior is None:
            raise click.ClickException("--adapt needs a model to start from (--model MODEL.json).")
        new_model = train(training + extra, matcher=before.matcher, options=options, prior=prior,
                          weights=[weight] * len(training) + [1.0] * len(extra))
        new_model.save(output)
    except AnalysisError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"Trained on {len(training) + len(extra)} comments; wrote {output}.")
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


def _development(examples: list[LabelledExample]) -> list[LabelledExample]:
    """Rows outside every ``heldout*`` split: nothing frozen is trained or calibrated on."""
    return [e for e in examples if not e.split.startswith(HELDOUT)]


@themes.command("train-embeddings")
@click.argument("labelled", nargs=-1, required=True, type=_EXISTING)
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="Where to write the JSON.")
@click.option("--precision", type=click.Choice(["int8", "float32"]), default="int8", show_default=True,
              help="Encoder precision the classifier is trained on (and will be served with).")
@click.option("--l2", type=click.FloatRange(min=0.0, min_open=True), default=EmbeddingOptions.l2,
              show_default=True)
@click.option("--positive-weight", type=click.FloatRange(min=0.0), default=EmbeddingOptions.positive_weight,
              show_default=True)
@click.option("--folds", type=click.IntRange(min=2), default=5, show_default=True,
              help="Cross-validation folds for calibrating the thresholds.")
@click.option("--group-by", type=click.Choice(["source", "split", "id"]), default="source", show_default=True)
@click.option("--calibrate-base", is_flag=True,
              help="Also fit the rules + n-gram thresholds (only on text the taxonomy was not written from).")
@click.option("--extra-training", "extra_files", multiple=True, type=_EXISTING,
              help="Labelled rows (outside heldout* splits) trained on but not used to calibrate the "
                   "thresholds, e.g. the written comments beside a real corpus.")
@click.option("--weight", type=click.FloatRange(min=0.0, min_open=True), default=1.0, show_default=True,
              help="How much each LABELLED row counts in training against one --extra-training row.")
@click.option("--taxonomy", type=_EXISTING, help="Taxonomy TOML (default config/themes/taxonomy.toml).")
@click.option("--model", type=_EXISTING, help="Supervised model JSON (default config/themes/model.json).")
@_encoder_options
def train_embeddings_command(labelled: tuple[str, ...], output: str, precision: str, l2: float,
                             positive_weight: float, folds: int, group_by: str, calibrate_base: bool,
                             extra_files: tuple[str, ...], weight: float, taxonomy: str | None,
                             model: str | None, no_embeddings: bool, encoder: str | None,
                             encoder_sha256: str | None, embedding_model: str | None) -> None:
    """Train the embedding classifier on LABELLED rows outside any heldout* split; thresholds
    calibrated on out-of-fold scores (folds by source, n-gram models retrained per fold)."""
    choice = _encoder_choice(False, encoder, encoder_sha256, None)
    engine = _engine(taxonomy, model, False, with_tone=False)
    examples = _development(_labelled(labelled, engine))
    extra = _development(_labelled(extra_files, engine)) if extra_files else []
    sentence_encoder = _encoder(engine, choice, precision)
    options = EmbeddingOptions(l2=l2, positive_weight=positive_weight)
    themes = engine.taxonomy.theme_ids
    groups_by = group_by if any(e.source for e in examples) or group_by != "source" else "id"
    groups = groups_of(examples, groups_by)
    tau = engine.taxonomy.threshold
    try:
        scores = out_of_fold_scores(engine, examples, sentence_encoder, groups=groups, folds=folds,
                                    with_ngram_model=engine.model is not None, embedding_options=options,
                                    extra=extra, weight=weight)
        thresholds = fit_thresholds(scores, default_base=tau, calibrate_base=calibrate_base)
        everything = examples + extra
        trained = train_embedding_model(embed(sentence_encoder, everything),
                                        [e.themes for e in everything], themes,
                                        encoder=sentence_encoder.identity, options=options,
                                        weights=[weight] * len(examples) + [1.0] * len(extra))
        trained.metadata["files"] = [Path(p).name for p in (*labelled, *extra_files)]
        result = trained.with_thresholds(thresholds, {
            "how": f"out-of-fold scores, {folds} folds by {groups_by}", "comments": len(examples),
            "extra_training_comments": len(extra), "weight": weight,
            "base_thresholds_fitted": calibrate_base})
        result.save(output)
    except AnalysisError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"Trained on {len(examples) + len(extra)} comments; thresholds calibrated on "
               f"{len(examples)} ({len(set(groups))} groups by {groups_by}); wrote {output}.")
    click.echo("Thresholds (embedding / base): " + ", ".join(
        f"{t} {v.embedding:.3f}/{v.base:.2f}" for t, v in thresholds.items()))
    pairs = list(zip(examples, scores.predictions(thresholds, tau), strict=True))
    click.echo("")
    click.echo(format_report(evaluate_predictions(pairs, themes),
                             "Out-of-fold, with the thresholds fitted on these same scores (optimistic; "
                             "evaluate --cross-validate is the honest figure)"))


@themes.command("calibrate")
@click.argument("labelled", nargs=-1, required=True, type=_EXISTING)
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="Where to write the JSON.")
@click.option("--calibrate-base", is_flag=True, help="Also fit the rules + n-gram thresholds.")
@click.option("--taxonomy", type=_EXISTING, help="Taxonomy TOML (default config/themes/taxonomy.toml).")
@click.option("--model", type=_EXISTING, help="Supervised model JSON (default config/themes/model.json).")
@_encoder_options
def calibrate_command(labelled: tuple[str, ...], output: str, calibrate_base: bool, taxonomy: str | None,
                      model: str | None, no_embeddings: bool, encoder: str | None, encoder_sha256: str | None,
                      embedding_model: str | None) -> None:
    """Refit the current embedding model's per-theme thresholds on LABELLED rows outside any
    heldout* split, scored by the current models as they are: use rows none of them was trained
    on (a development set of real text)."""
    choice = _encoder_choice(False, encoder, encoder_sha256, embedding_model)
    engine = _engine(taxonomy, model, False, with_tone=False, choice=choice)
    if engine.embeddings is None:
        raise click.ClickException("no embedding model to calibrate (--embedding-model)")
    examples = _development(_labelled(labelled, engine))
    tau = engine.taxonomy.threshold
    try:
        scores = score_layers(engine, examples)
        thresholds = fit_thresholds(scores, default_base=tau, calibrate_base=calibrate_base)
        engine.embeddings.model.with_thresholds(thresholds, {
            "how": "scored as trained, no retraining", "comments": len(examples),
            "files": [Path(p).name for p in labelled], "base_thresholds_fitted": calibrate_base,
        }).save(output)
    except AnalysisError as e:
        raise click.ClickException(str(e)) from e
    themes = engine.taxonomy.theme_ids
    before = evaluate_predictions(list(zip(examples, scores.predictions(
        {t: engine.embeddings.model.threshold(t, tau) for t in themes}, tau), strict=True)), themes)
    after = evaluate_predictions(list(zip(examples, scores.predictions(thresholds, tau), strict=True)),
                                 themes)
    click.echo(f"Calibrated on {len(examples)} comments; wrote {output}.")
    click.echo(format_comparison(before, after, "On the calibration rows (in-sample for the thresholds)"))


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
