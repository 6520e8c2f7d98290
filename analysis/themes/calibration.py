"""Out-of-fold scores of the engine's layers, and per-theme thresholds fitted to them.

`out_of_fold_scores` scores every labelled comment with n-gram and embedding models trained
without the comment's *group* (its source: no source's comments in both training and scoring;
see `analysis.themes.evaluation.group_folds`). The rules are used as they are, so on comments the
taxonomy was written from the base scores are in-sample and too good: there, fit only the
embedding thresholds. `fit_thresholds` then picks, per theme, the thresholds that maximise F1 of
"base score >= base threshold or embedding probability >= embedding threshold" on those scores.
`score_layers` scores comments with models as they are (for calibrating shipped models on a
development set they were not trained on).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from analysis.themes.classifier import TrainingOptions, train
from analysis.themes.embedding import (
    EmbeddingLayer,
    EmbeddingModel,
    EmbeddingOptions,
    Thresholds,
    train_embedding_model,
)
from analysis.themes.encoder import SentenceEncoder
from analysis.themes.engine import ThemeEngine
from analysis.themes.errors import ThemeError
from analysis.themes.evaluation import group_folds
from analysis.themes.labelled import LabelledExample

_Floats = npt.NDArray[np.float64]
NEVER: Final = 1.01
EMBEDDING_GRID: Final = (*(round(0.2 + 0.025 * i, 3) for i in range(32)), NEVER)
BASE_GRID: Final = tuple(round(0.3 + 0.05 * i, 2) for i in range(13))


@dataclass(frozen=True)
class LayerScores:
    """Per comment and theme: base score (rules and n-gram noisy-or), embedding probability, label."""

    themes: tuple[str, ...]
    base: _Floats
    embedding: _Floats
    labels: _Floats

    def predictions(self, thresholds: dict[str, Thresholds], default_base: float) -> list[set[str]]:
        """The themes each comment gets under ``thresholds``."""
        found: list[set[str]] = [set() for _ in range(self.labels.shape[0])]
        for t, theme in enumerate(self.themes):
            limit = thresholds.get(theme, Thresholds(NEVER, default_base))
            hit = (self.base[:, t] >= limit.base) | (self.embedding[:, t] >= limit.embedding)
            for i in np.flatnonzero(hit):
                found[i].add(theme)
        return found


def _labels(examples: Sequence[LabelledExample], themes: Sequence[str]) -> _Floats:
    return np.array([[1.0 if t in e.themes else 0.0 for t in themes] for e in examples]).reshape(
        len(examples), len(themes))


def _base(engine: ThemeEngine, examples: Sequence[LabelledExample], themes: Sequence[str]) -> _Floats:
    out = np.zeros((len(examples), len(themes)))
    for i, example in enumerate(examples):
        analysis = engine.analyse(example.text)
        if analysis is None:
            continue
        for theme, (rule, model) in engine.base_scores(analysis).items():
            if theme in themes:
                out[i, themes.index(theme)] = 1.0 - (1.0 - rule) * (1.0 - model)
    return out


def embed(encoder: SentenceEncoder, examples: Sequence[LabelledExample]) -> _Floats:
    """The embedding of each comment's first window (texts within the limit: the whole text)."""
    out: _Floats = encoder.encode([e.text for e in examples]).astype(np.float64)
    return out


def _embedding_probabilities(model: EmbeddingModel, examples: Sequence[LabelledExample],
                             engine: ThemeEngine, encoder: SentenceEncoder,
                             themes: Sequence[str]) -> _Floats:
    """The engine's embedding probabilities (best window; 0 for blank or non-English text, and
    for themes the rules found only denied or negated, as the engine does)."""
    layer = EmbeddingLayer(encoder, model)
    out = np.zeros((len(examples), len(themes)))
    analyses = [engine.analyse(e.text) for e in examples]
    english = [i for i, a in enumerate(analyses) if a is not None]
    for i, scores in zip(english, layer.scores([examples[i].text for i in english]), strict=True):
        analysis = analyses[i]
        ruled_out = engine.matcher.ruled_out(analysis) if analysis is not None else set()
        out[i] = [0.0 if t in ruled_out else scores.probabilities.get(t, 0.0) for t in themes]
    return out


def score_layers(engine: ThemeEngine, examples: Sequence[LabelledExample]) -> LayerScores:
    """Every layer's scores with the engine's models as they are (no training)."""
    if engine.embeddings is None:
        raise ThemeError("the engine has no embedding layer to calibrate")
    themes = engine.taxonomy.theme_ids
    return LayerScores(themes, _base(engine, examples, themes),
                       _embedding_probabilities(engine.embeddings.model, examples, engine,
                                                engine.embeddings.encoder, themes),
                       _labels(examples, themes))


def out_of_fold_scores(engine: ThemeEngine, examples: Sequence[LabelledExample], encoder: SentenceEncoder,
                       *, groups: Sequence[str], folds: int = 5, with_ngram_model: bool = True,
                       ngram_options: TrainingOptions | None = None,
                       embedding_options: EmbeddingOptions | None = None,
                       extra: Sequence[LabelledExample] = (),
                       extra_vectors: _Floats | None = None, weight: float = 1.0) -> LayerScores:
    """Every comment scored by n-gram and embedding models trained on the other folds (whole
    groups per fold) plus every ``extra`` comment (training only, never scored: written
    comments beside a real corpus); the engine's rules as they are. ``with_ngram_model`` False:
    rules only. In training each of ``examples`` counts ``weight`` times as much as an ``extra``
    comment."""
    themes = engine.taxonomy.theme_ids
    fold_of = group_folds(groups, folds)
    vectors = embed(encoder, examples)
    if extra_vectors is None:
        extra_vectors = embed(encoder, extra) if extra else np.zeros((0, vectors.shape[1]))
    english = np.array([engine.analyse(e.text) is not None for e in examples])
    base = np.zeros((len(examples), len(themes)))
    embedding = np.zeros((len(examples), len(themes)))
    for fold in range(folds):
        train_ids = [i for i in range(len(examples)) if fold_of[i] != fold]
        test_ids = [i for i in range(len(examples)) if fold_of[i] == fold]
        if not test_ids:
            continue
        training = [examples[i] for i in train_ids] + list(extra)
        weights = [weight] * len(train_ids) + [1.0] * len(extra)
        ngram = (train(training, matcher=engine.matcher, options=ngram_options or TrainingOptions(),
                       weights=weights) if with_ngram_model else None)
        classifier = train_embedding_model(np.vstack([vectors[train_ids], extra_vectors]),
                                           [e.themes for e in training], themes,
                                           encoder=encoder.identity, options=embedding_options,
                                           weights=weights)
        fold_engine = engine.with_model(ngram)
        held = [examples[i] for i in test_ids]
        base[test_ids] = _base(fold_engine, held, themes)
        embedding[test_ids] = _embedding_probabilities(classifier, held, engine, encoder, themes)
    embedding[~english] = 0.0
    return LayerScores(themes, base, embedding, _labels(examples, themes))


def _f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def fit_thresholds(scores: LayerScores, *, default_base: float,
                   calibrate_base: bool = False) -> dict[str, Thresholds]:
    """Per theme, the embedding threshold (and, with ``calibrate_base``, the base threshold) from
    `EMBEDDING_GRID` (`BASE_GRID`) that maximise the theme's F1; ties go to the higher embedding
    threshold (fewer false alarms), then to the base threshold nearest ``default_base``."""
    found: dict[str, Thresholds] = {}
    base_grid = BASE_GRID if calibrate_base else (default_base,)
    for t, theme in enumerate(scores.themes):
        gold = scores.labels[:, t] > 0
        best: tuple[float, float, float, float, float] | None = None
        for b in base_grid:
            by_base = scores.base[:, t] >= b
            for e in EMBEDDING_GRID:
                hit = by_base | (scores.embedding[:, t] >= e)
                tp = int((hit & gold).sum())
                f1 = _f1(tp, int((hit & ~gold).sum()), int((~hit & gold).sum()))
                key = (f1, e, -abs(b - default_base), b, e)
                if best is None or key[:3] > best[:3]:
                    best = key
        assert best is not None  # noqa: S101 - the grids are not empty
        found[theme] = Thresholds(best[4], best[3])
    return found


@dataclass(frozen=True)
class CrossValidation:
    """Out-of-fold predictions of the whole engine, with thresholds calibrated inside each fold."""

    predictions: list[set[str]]
    base_only: list[set[str]]
    embedding_only: list[set[str]]
    thresholds: list[dict[str, Thresholds]]


def cross_validate_engine(engine: ThemeEngine, examples: Sequence[LabelledExample], encoder: SentenceEncoder,
                          *, groups: Sequence[str], folds: int = 5, calibrate_base: bool = False,
                          with_ngram_model: bool = True, ngram_options: TrainingOptions | None = None,
                          embedding_options: EmbeddingOptions | None = None,
                          extra: Sequence[LabelledExample] = (), weight: float = 1.0) -> CrossValidation:
    """Nested cross-validation of rules + n-grams + embeddings: for each fold (whole groups), the
    thresholds are fitted on out-of-fold scores of the other folds (an inner cross-validation
    with the same grouping), the models trained on all of them, and the fold scored once.
    Also returns what the base layers alone (taxonomy threshold) and the embedding layer alone
    (its fitted threshold) would have assigned. ``extra`` comments are in every training set and
    never scored; each of ``examples`` counts ``weight`` times as much as one of them."""
    themes = engine.taxonomy.theme_ids
    tau = engine.taxonomy.threshold
    fold_of = group_folds(groups, folds)
    vectors = embed(encoder, examples)
    extra_vectors = embed(encoder, extra) if extra else np.zeros((0, vectors.shape[1]))
    predictions: list[set[str]] = [set() for _ in examples]
    base_only: list[set[str]] = [set() for _ in examples]
    embedding_only: list[set[str]] = [set() for _ in examples]
    fitted: list[dict[str, Thresholds]] = []
    for fold in range(folds):
        inside = [i for i in range(len(examples)) if fold_of[i] != fold]
        outside = [i for i in range(len(examples)) if fold_of[i] == fold]
        training = [examples[i] for i in inside]
        inner_groups = [groups[i] for i in inside]
        inner_folds = min(folds, len(set(inner_groups)))
        inner = out_of_fold_scores(engine, training, encoder, groups=inner_groups, folds=inner_folds,
                                   with_ngram_model=with_ngram_model, ngram_options=ngram_options,
                                   embedding_options=embedding_options, extra=extra,
                                   extra_vectors=extra_vectors, weight=weight)
        thresholds = fit_thresholds(inner, default_base=tau, calibrate_base=calibrate_base)
        alone = fit_thresholds(LayerScores(themes, np.zeros_like(inner.base), inner.embedding, inner.labels),
                               default_base=tau)
        fitted.append(thresholds)
        everything = training + list(extra)
        weights = [weight] * len(training) + [1.0] * len(extra)
        ngram = (train(everything, matcher=engine.matcher, options=ngram_options or TrainingOptions(),
                       weights=weights) if with_ngram_model else None)
        classifier = train_embedding_model(np.vstack([vectors[inside], extra_vectors]),
                                           [e.themes for e in everything], themes,
                                           encoder=encoder.identity, options=embedding_options,
                                           weights=weights)
        held = [examples[i] for i in outside]
        scores = LayerScores(themes, _base(engine.with_model(ngram), held, themes),
                             _embedding_probabilities(classifier, held, engine, encoder, themes),
                             _labels(held, themes))
        combined, base, embedding = (
            scores.predictions(thresholds, tau), scores.predictions({}, tau),
            scores.predictions({t: Thresholds(v.embedding, NEVER) for t, v in alone.items()}, tau))
        for k, i in enumerate(outside):
            predictions[i], base_only[i], embedding_only[i] = combined[k], base[k], embedding[k]
    return CrossValidation(predictions, base_only, embedding_only, fitted)
