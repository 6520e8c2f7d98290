"""How well themes are assigned: per-theme precision, recall and F1, and what gets confused.

Every theme is a separate yes/no decision per comment. For theme t: true positives (assigned and
labelled), false positives (assigned, not labelled), false negatives (labelled, not assigned).
Precision = tp / (tp + fp), recall = tp / (tp + fn), F1 their harmonic mean; an undefined ratio
(0 / 0) counts as 0, except that a theme with no labels and no assignments is left out of the
macro average. Micro figures pool the counts of all themes; macro F1 is the mean of per-theme F1.

The false-alarm rate is the share of comments labelled with no theme that got at least one.
`bootstrap` gives percentile 95% intervals by resampling comments, or whole sources when the
comments name them (comments from one report or forum thread are not independent).
`agreement` scores one labelling of the same comments against another (the ceiling an engine
can be expected to reach). `group_folds` splits groups (sources) into cross-validation folds so
that no group is in two.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from analysis.themes.classifier import ThemeModel, TrainingOptions, train
from analysis.themes.embedding import EmbeddingScores
from analysis.themes.engine import BATCH, ThemeEngine
from analysis.themes.errors import ThemeError
from analysis.themes.labelled import LabelledExample

NOTHING = "(nothing)"
NO_THEME = "(no theme)"


@dataclass(frozen=True)
class ThemeCounts:
    """Decisions on one theme over a set of comments."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def support(self) -> int:
        """Comments labelled with the theme."""
        return self.tp + self.fn

    @property
    def precision(self) -> float:
        """tp / (tp + fp), 0.0 when nothing was assigned."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        """tp / (tp + fn), 0.0 when nothing was labelled."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall (0.0 when both are 0)."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(frozen=True)
class Evaluation:
    """Results over a set of labelled comments.

    ``missed``: per theme, when it was labelled but not assigned, which unlabelled themes were
    assigned instead (`NOTHING` if none). ``false_alarms``: per theme, when it was assigned but
    not labelled, what the comment was labelled with (`NO_THEME` if nothing).
    """

    themes: tuple[str, ...]
    counts: dict[str, ThemeCounts]
    comments: int
    exact: int
    missed: dict[str, Counter[str]] = field(default_factory=dict)
    false_alarms: dict[str, Counter[str]] = field(default_factory=dict)
    no_theme: int = 0
    """Comments labelled with no theme."""
    no_theme_flagged: int = 0
    """Of those, comments that got at least one theme."""

    @property
    def false_alarm_rate(self) -> float:
        """Share of the no-theme comments that got a theme (0.0 when there are none)."""
        return self.no_theme_flagged / self.no_theme if self.no_theme else 0.0

    @property
    def micro(self) -> ThemeCounts:
        """Counts pooled over all themes."""
        return ThemeCounts(sum(c.tp for c in self.counts.values()), sum(c.fp for c in self.counts.values()),
                           sum(c.fn for c in self.counts.values()))

    @property
    def micro_f1(self) -> float:
        """F1 of the pooled counts."""
        return self.micro.f1

    @property
    def macro_f1(self) -> float:
        """Mean per-theme F1 over themes labelled or assigned at least once (0.0 if none)."""
        used = [c.f1 for c in self.counts.values() if c.tp + c.fp + c.fn]
        return sum(used) / len(used) if used else 0.0


def evaluate(predict: Callable[[str], Collection[str]], examples: Iterable[LabelledExample],
             themes: Sequence[str]) -> Evaluation:
    """Score ``predict`` (text -> assigned theme ids) against the labels of ``examples``.

    Only the given ``themes`` are scored; labels and predictions of other themes are ignored.
    """
    return evaluate_predictions(((e, predict(e.text)) for e in examples), themes)


def evaluate_predictions(pairs: Iterable[tuple[LabelledExample, Collection[str]]],
                         themes: Sequence[str]) -> Evaluation:
    """Score ``(example, assigned theme ids)`` pairs against the examples' labels (see `evaluate`)."""
    theme_set = set(themes)
    tally = {t: [0, 0, 0] for t in themes}
    missed: dict[str, Counter[str]] = {t: Counter() for t in themes}
    false_alarms: dict[str, Counter[str]] = {t: Counter() for t in themes}
    comments = exact = no_theme = flagged = 0
    for example, assigned in pairs:
        gold = set(example.themes) & theme_set
        predicted = set(assigned) & theme_set
        comments += 1
        exact += gold == predicted
        if not example.themes:
            no_theme += 1
            flagged += bool(predicted)
        spurious = predicted - gold
        for theme in themes:
            if theme in gold and theme in predicted:
                tally[theme][0] += 1
            elif theme in predicted:
                tally[theme][1] += 1
                false_alarms[theme].update(sorted(gold) or [NO_THEME])
            elif theme in gold:
                tally[theme][2] += 1
                missed[theme].update(sorted(spurious) or [NOTHING])
    counts = {t: ThemeCounts(*tally[t]) for t in themes}
    return Evaluation(tuple(themes), counts, comments, exact, missed, false_alarms, no_theme, flagged)


def evaluate_engine(engine: ThemeEngine, examples: Iterable[LabelledExample]) -> Evaluation:
    """`evaluate` with the themes ``engine`` assigns, over the engine's taxonomy."""
    return evaluate(lambda text: [h.theme for h in engine.themes(text)], examples, engine.taxonomy.theme_ids)


def evaluate_models(engine: ThemeEngine, models: Sequence[ThemeModel | None],
                    examples: Sequence[LabelledExample]) -> list[Evaluation]:
    """`evaluate_engine` of ``engine`` with each of ``models`` as its n-gram layer, on the same
    ``examples``: each text is analysed and encoded once (the rules and the embedding layer are
    the same for every model), so comparing a model before and after retraining on a few
    hundred comments costs one encoding."""
    analyses = [engine.analyse(e.text) for e in examples]
    english = [i for i, a in enumerate(analyses) if a is not None]
    embedded: dict[int, EmbeddingScores] = {}
    if engine.embeddings is not None:
        for start in range(0, len(english), BATCH):
            chunk = english[start:start + BATCH]
            embedded.update(zip(chunk, engine.embeddings.scores([examples[i].text for i in chunk]),
                                strict=True))
    results: list[Evaluation] = []
    for model in models:
        variant = engine.with_model(model)
        pairs = [(e, [h.theme for h in variant.hits(e.text, a, embedded.get(i))] if a is not None else [])
                 for i, (e, a) in enumerate(zip(examples, analyses, strict=True))]
        results.append(evaluate_predictions(pairs, engine.taxonomy.theme_ids))
    return results


def group_folds(groups: Sequence[str], folds: int) -> list[int]:
    """The fold (0 to ``folds - 1``) of each item, keeping each group's items in one fold.

    Groups go largest first (ties in the order of their names' SHA-256) to the fold with the
    fewest items so far: folds of similar size, the same on every run. ThemeError with fewer
    groups than folds or fewer than two folds.
    """
    sizes = Counter(groups)
    if folds < 2 or len(sizes) < folds:
        raise ThemeError(f"{folds}-fold cross-validation needs at least {max(folds, 2)} groups "
                         f"(sources), not {len(sizes)}")
    order = sorted(sizes, key=lambda g: (-sizes[g], hashlib.sha256(g.encode("utf-8")).hexdigest()))
    filled = [0] * folds
    fold_of: dict[str, int] = {}
    for group in order:
        fold = min(range(folds), key=lambda f: (filled[f], f))
        fold_of[group] = fold
        filled[fold] += sizes[group]
    return [fold_of[g] for g in groups]


def groups_of(examples: Sequence[LabelledExample], by: str = "source") -> list[str]:
    """Each example's group for cross-validation and bootstrap: ``source`` (its source, or its
    id when it names none), ``split`` or ``id``."""
    if by == "source":
        return [e.source or e.id for e in examples]
    if by == "split":
        return [e.split for e in examples]
    if by == "id":
        return [e.id for e in examples]
    raise ThemeError(f"unknown grouping {by!r} (source, split or id)")


def cross_validate(engine: ThemeEngine, examples: Sequence[LabelledExample], *, folds: int = 5,
                   options: TrainingOptions | None = None, groups: Sequence[str] | None = None) -> Evaluation:
    """Evaluate ``engine``'s rules with an n-gram model trained without the comment being scored.

    Without ``groups`` example i falls in fold ``i % folds``; with them, whole groups (sources)
    fall in one fold (`group_folds`). Each fold is scored by a model trained on the others.
    Rules tuned on the same comments still make this optimistic for the rule layer.
    """
    if folds < 2 or len(examples) < folds:
        raise ThemeError("cross-validation needs at least two folds and one example per fold")
    fold_of = group_folds(groups, folds) if groups is not None else [i % folds for i in range(len(examples))]
    predictions: dict[int, list[str]] = {}
    for fold in range(folds):
        training = [e for i, e in enumerate(examples) if fold_of[i] != fold]
        model = train(training, matcher=engine.matcher, options=options or TrainingOptions())
        fold_engine = engine.with_model(model)
        for i, example in enumerate(examples):
            if fold_of[i] == fold:
                predictions[i] = [h.theme for h in fold_engine.themes(example.text)]
    return evaluate_predictions(((e, predictions[i]) for i, e in enumerate(examples)),
                                engine.taxonomy.theme_ids)


@dataclass(frozen=True)
class Interval:
    """An estimate and its percentile bootstrap interval."""

    estimate: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.estimate:.3f} [{self.low:.3f}, {self.high:.3f}]"


@dataclass(frozen=True)
class Bootstrap:
    """95% intervals of macro F1, each theme's F1 and the false-alarm rate; ``unit`` says what
    was resampled (``comments`` or ``sources``)."""

    macro_f1: Interval
    per_theme: dict[str, Interval]
    false_alarm_rate: Interval | None
    resamples: int
    unit: str


def bootstrap(pairs: Sequence[tuple[LabelledExample, Collection[str]]], themes: Sequence[str], *,
              resamples: int = 1000, seed: int = 0, groups: Sequence[str] | None = None,
              level: float = 0.95) -> Bootstrap:
    """Percentile bootstrap intervals for ``(example, assigned themes)`` pairs.

    Without ``groups`` comments are resampled with replacement; with them, whole groups (all the
    comments of a source together). Macro F1 in a resample averages the themes labelled or
    assigned in it, as `Evaluation.macro_f1` does. Deterministic for a given ``seed``.
    """
    if not pairs or resamples < 1:
        raise ThemeError("a bootstrap needs comments and at least one resample")
    theme_set = list(themes)
    n, t = len(pairs), len(theme_set)
    tp, fp, fn = np.zeros((n, t)), np.zeros((n, t)), np.zeros((n, t))
    empty, flagged = np.zeros(n), np.zeros(n)
    for i, (example, assigned) in enumerate(pairs):
        gold, predicted = set(example.themes), set(assigned)
        for j, theme in enumerate(theme_set):
            tp[i, j] = theme in gold and theme in predicted
            fp[i, j] = theme in predicted and theme not in gold
            fn[i, j] = theme in gold and theme not in predicted
        empty[i] = not example.themes
        flagged[i] = not example.themes and bool(predicted & set(theme_set))
    names = list(groups) if groups is not None else [str(i) for i in range(n)]
    unique = sorted(set(names))
    index = {g: k for k, g in enumerate(unique)}
    member = np.array([index[g] for g in names])
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(unique), size=(resamples, len(unique)))
    group_weights = np.stack([np.bincount(d, minlength=len(unique)) for d in draws]).astype(np.float64)
    weights = group_weights[:, member]  # resamples x comments: times each comment is drawn

    def f1(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a, b, c = w @ tp, w @ fp, w @ fn
        per = np.divide(2 * a, 2 * a + b + c, out=np.zeros_like(a), where=(2 * a + b + c) > 0)
        used = (a + b + c) > 0
        macro = np.divide((per * used).sum(axis=-1), used.sum(axis=-1),
                          out=np.zeros(per.shape[:-1]), where=used.sum(axis=-1) > 0)
        return per, macro

    per, macro = f1(weights)
    per0, macro0 = f1(np.ones((1, n)))
    tail = (1 - level) / 2 * 100

    def interval(estimate: float, values: np.ndarray) -> Interval:
        low, high = np.percentile(values, [tail, 100 - tail])
        return Interval(float(estimate), float(low), float(high))

    alarm: Interval | None = None
    if empty.sum() > 0:
        totals = weights @ empty
        rates = np.divide(weights @ flagged, totals, out=np.zeros_like(totals), where=totals > 0)
        alarm = interval(float(flagged.sum() / empty.sum()), rates[totals > 0])
    return Bootstrap(interval(float(macro0[0]), macro),
                     {theme: interval(float(per0[0, j]), per[:, j]) for j, theme in enumerate(theme_set)},
                     alarm, resamples, "sources" if groups is not None else "comments")


def agreement(first: Sequence[LabelledExample], second: Sequence[LabelledExample],
              themes: Sequence[str]) -> Evaluation:
    """The second labelling scored against the first on the comments both label (matched by id):
    its macro F1 is the labellings' agreement. ThemeError if they share no id."""
    by_id = {e.id: e for e in second}
    pairs = [(e, by_id[e.id].themes) for e in first if e.id in by_id]
    if not pairs:
        raise ThemeError("the two labellings share no comment id")
    return evaluate_predictions(pairs, themes)


def format_bootstrap(result: Bootstrap) -> str:
    """The intervals as plain text, one theme per line."""
    width = max([len(t) for t in result.per_theme] + [10])
    lines = [f"95% bootstrap intervals ({result.resamples} resamples of {result.unit}):",
             f"  {'macro F1':<{width}}  {result.macro_f1}"]
    lines += [f"  {theme:<{width}}  {interval}" for theme, interval in result.per_theme.items()]
    if result.false_alarm_rate is not None:
        lines.append(f"  {'false alarms on no-theme comments':<{width}}  {result.false_alarm_rate}")
    return "\n".join(lines)


def format_report(evaluation: Evaluation, title: str = "") -> str:
    """A plain-text report: per-theme table, micro and macro figures, and a confusion summary."""
    width = max([len(t) for t in evaluation.themes] + [10])
    lines: list[str] = []
    if title:
        lines += [title, "=" * len(title)]
    lines.append(f"{'theme':<{width}}  support   tp   fp   fn  precision  recall     f1")
    for theme in evaluation.themes:
        c = evaluation.counts[theme]
        lines.append(f"{theme:<{width}}  {c.support:7d} {c.tp:4d} {c.fp:4d} {c.fn:4d}  "
                     f"{c.precision:9.3f}  {c.recall:6.3f}  {c.f1:5.3f}")
    micro = evaluation.micro
    lines.append(f"{'micro':<{width}}  {micro.support:7d} {micro.tp:4d} {micro.fp:4d} {micro.fn:4d}  "
                 f"{micro.precision:9.3f}  {micro.recall:6.3f}  {micro.f1:5.3f}")
    lines.append(f"macro F1 {evaluation.macro_f1:.3f}   micro F1 {evaluation.micro_f1:.3f}   "
                 f"comments {evaluation.comments}   all themes right {evaluation.exact}")
    if evaluation.no_theme:
        lines.append(f"false alarms on no-theme comments: {evaluation.no_theme_flagged} of "
                     f"{evaluation.no_theme} ({evaluation.false_alarm_rate:.1%})")
    lines.append("")
    for title, table, count in (
        ("Missed (labelled, not assigned) -> what was assigned instead:", evaluation.missed, "fn"),
        ("False alarms (assigned, not labelled) -> what the comment was labelled:",
         evaluation.false_alarms, "fp"),
    ):
        lines.append(title)
        rows = [f"  {theme} ({getattr(evaluation.counts[theme], count)}): "
                + ", ".join(f"{other} {n}" for other, n in table[theme].most_common())
                for theme in evaluation.themes if table.get(theme)]
        lines.extend(rows or ["  none"])
    pairs: Counter[tuple[str, str]] = Counter()
    for theme, counter in evaluation.missed.items():
        for other, n in counter.items():
            if other != NOTHING:
                pairs[(theme, other)] += n
    if pairs:
        lines.append("Most confused (labelled -> assigned instead): "
                     + "; ".join(f"{a} -> {b} ({n})" for (a, b), n in pairs.most_common(5)))
    return "\n".join(lines)


def format_comparison(before: Evaluation, after: Evaluation, title: str = "") -> str:
    """Per-theme F1 (and micro/macro) before and after, side by side, with the change."""
    width = max([len(t) for t in after.themes] + [10])
    lines: list[str] = []
    if title:
        lines += [title, "=" * len(title)]
    lines.append(f"{'theme':<{width}}  F1 before  F1 after  change")
    for theme in after.themes:
        old = before.counts[theme].f1 if theme in before.counts else 0.0
        new = after.counts[theme].f1
        lines.append(f"{theme:<{width}}  {old:9.3f}  {new:8.3f}  {new - old:+6.3f}")
    lines.append(f"{'micro F1':<{width}}  {before.micro_f1:9.3f}  {after.micro_f1:8.3f}  "
                 f"{after.micro_f1 - before.micro_f1:+6.3f}")
    lines.append(f"{'macro F1':<{width}}  {before.macro_f1:9.3f}  {after.macro_f1:8.3f}  "
                 f"{after.macro_f1 - before.macro_f1:+6.3f}")
    return "\n".join(lines)


def describe_model(model: ThemeModel | None) -> str:
    """One line saying which supervised model is in use."""
    if model is None:
        return "supervised layer: none (rules only)"
    examples = model.metadata.get("examples", "?")
    trained = model.metadata.get("trained_at", "?")
    return f"supervised layer: {len(model.vocabulary)} features, trained on {examples} comments at {trained}"
