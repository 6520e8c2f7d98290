"""How well themes are assigned: per-theme precision, recall and F1, and what gets confused.

Every theme is a separate yes/no decision per comment. For theme t: true positives (assigned and
labelled), false positives (assigned, not labelled), false negatives (labelled, not assigned).
Precision = tp / (tp + fp), recall = tp / (tp + fn), F1 their harmonic mean; an undefined ratio
(0 / 0) counts as 0, except that a theme with no labels and no assignments is left out of the
macro average. Micro figures pool the counts of all themes; macro F1 is the mean of per-theme F1.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field

from analysis.themes.classifier import ThemeModel, TrainingOptions, train
from analysis.themes.engine import ThemeEngine
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
    comments = exact = 0
    for example, assigned in pairs:
        gold = set(example.themes) & theme_set
        predicted = set(assigned) & theme_set
        comments += 1
        exact += gold == predicted
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
    return Evaluation(tuple(themes), counts, comments, exact, missed, false_alarms)


def evaluate_engine(engine: ThemeEngine, examples: Iterable[LabelledExample]) -> Evaluation:
    """`evaluate` with the themes ``engine`` assigns, over the engine's taxonomy."""
    return evaluate(lambda text: [h.theme for h in engine.themes(text)], examples, engine.taxonomy.theme_ids)


def cross_validate(engine: ThemeEngine, examples: Sequence[LabelledExample], *, folds: int = 5,
                   options: TrainingOptions | None = None) -> Evaluation:
    """Evaluate ``engine``'s rules with a model trained without the comment being scored.

    Example i falls in fold ``i % folds``; each fold is scored by a model trained on the others.
    Rules tuned on the same comments still make this optimistic for the rule layer.
    """
    if folds < 2 or len(examples) < folds:
        raise ThemeError("cross-validation needs at least two folds and one example per fold")
    predictions: dict[int, list[str]] = {}
    for fold in range(folds):
        training = [e for i, e in enumerate(examples) if i % folds != fold]
        model = train(training, matcher=engine.matcher, options=options or TrainingOptions())
        fold_engine = engine.with_model(model)
        for i, example in enumerate(examples):
            if i % folds == fold:
                predictions[i] = [h.theme for h in fold_engine.themes(example.text)]
    return evaluate_predictions(((e, predictions[i]) for i, e in enumerate(examples)),
                                engine.taxonomy.theme_ids)


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
