"""The theme engine: rules, the supervised n-gram layer and the embedding layer, with evidence and tone.

For every theme the engine has up to three scores in [0, 1]: the rule score (noisy-or of the
pattern matches, see `RuleMatcher.match`), the n-gram model's probability (`ThemeModel`), and the
embedding layer's probability (`EmbeddingLayer`: logistic regression on a sentence embedding).
The first two combine by noisy-or into the *base* score, ``1 - (1 - rules) * (1 - model)``. A
theme is assigned when its base score reaches its base threshold, or its embedding probability
reaches its embedding threshold (both per theme, calibrated on a development set and stored in
the embedding model; without an embedding layer the base threshold is the taxonomy's
``threshold`` and the engine is the rules + n-gram engine alone). The score shown is the larger
of the two, each rescaled piecewise-linearly so that its own threshold maps to the taxonomy's:
a theme is assigned exactly when its score reaches the taxonomy's ``threshold``.

The n-gram and embedding layers can add a theme the rules missed but cannot remove one the
rules found (edit the taxonomy for that). The embedding layer sees a comment's topic better than
its polarity, so it may not add a theme the rules read as absent (patterns found only denied,
negated or imagined, "I have never been bullied", or a theme's ``absent`` patterns, "I feel
safe to speak up": `RuleMatcher.ruled_out`); its probability counts as 0 there.

Evidence lists the text of the rule matches and, when the base score alone would not have
assigned the theme, the words that pushed the n-gram model's probability up most; for a theme
only the embedding layer found, the sentence that carries it (see `analysis.themes.embedding`).
Tone is computed separately, never used for themes.

Empty, whitespace-only and non-English comments get no themes and tone 0.0.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Final

from analysis.themes.classifier import ThemeModel
from analysis.themes.embedding import EmbeddingLayer, EmbeddingModel, EmbeddingScores
from analysis.themes.encoder import Precision, load_encoder
from analysis.themes.matcher import Analysis, RuleMatcher
from analysis.themes.taxonomy import CONFIG_DIR, Taxonomy, load_taxonomy
from analysis.themes.tone import ToneAnalyser

DEFAULT_MODEL: Final = CONFIG_DIR / "model.json"
DEFAULT_EMBEDDING_MODEL: Final = CONFIG_DIR / "embedding_model.json"
BATCH: Final = 64
"""Rows `ThemeEngine.tag_rows` reads ahead, to encode them together."""
_MAX_EVIDENCE: Final = 6


@dataclass(frozen=True)
class ThemeHit:
    """An assigned theme: its id, score in [0, 1], and the words that triggered it.

    ``rule_score``, ``model_score`` and ``embedding_score`` are the parts the score combines
    (for explanations).
    """

    theme: str
    score: float
    evidence: tuple[str, ...]
    rule_score: float = 0.0
    model_score: float = 0.0
    embedding_score: float = 0.0


@dataclass(frozen=True)
class Tagged:
    """The analysis of one comment: assigned themes (highest score first) and tone in [-1, 1].

    ``english`` is False for empty or non-English text (which has no themes and tone 0.0).
    """

    themes: tuple[ThemeHit, ...]
    tone: float
    english: bool


def rescale(value: float, threshold: float, target: float) -> float:
    """``value`` mapped piecewise-linearly so that ``threshold`` becomes ``target`` (0 and 1 stay)."""
    if threshold >= 1.0:
        return value * target
    if value < threshold:
        return value * target / threshold
    return target + (value - threshold) * (1.0 - target) / (1.0 - threshold)


class ThemeEngine:
    """Tags comments with themes. Reusable; not thread-safe (it memoises stems); one per worker.

    With ``sentence_evidence`` the embedding layer's evidence is found by encoding each sentence
    on its own (a few milliseconds more per comment: for a case on screen); otherwise it is the
    sentence whose tokens add most to the theme's score in the comment's own encoding.
    """

    def __init__(self, taxonomy: Taxonomy, *, model: ThemeModel | None = None,
                 tone: ToneAnalyser | None = None, embeddings: EmbeddingLayer | None = None,
                 sentence_evidence: bool = False) -> None:
        self.taxonomy = taxonomy
        self.matcher = RuleMatcher(taxonomy)
        self.model = model
        self.tone = tone
        self.embeddings = embeddings
        self.sentence_evidence = sentence_evidence
        known = set(taxonomy.theme_ids)
        self._model_themes = tuple(t for t in model.themes if t in known) if model else ()
        self._order = {t: i for i, t in enumerate(taxonomy.theme_ids)}
        tau = taxonomy.threshold
        emb = embeddings.model if embeddings is not None else None
        self.thresholds = {
            t: (emb.threshold(t, tau).base, emb.threshold(t, tau).embedding)
            if emb is not None and t in emb.themes else (tau, 1.01)
            for t in taxonomy.theme_ids
        }
        """Per theme ``(base threshold, embedding threshold)``; 1.01 means never."""

    @classmethod
    def default(cls, *, taxonomy: Path | str | None = None, model: Path | str | None = None,
                with_model: bool = True, with_tone: bool = True, with_embeddings: bool = True,
                encoder: Path | str | None = None, encoder_sha256: str | None = None,
                embedding_model: Path | str | None = None, sentence_evidence: bool = False) -> ThemeEngine:
        """The engine from the configuration files: the taxonomy (default
        ``config/themes/taxonomy.toml``), the n-gram model (default ``config/themes/model.json``
        if it exists; none when ``with_model`` is False), the embedding layer (the classifier in
        ``embedding_model``, default ``config/themes/embedding_model.json`` if it exists, on the
        sentence-transformers folder ``encoder`` checked against ``encoder_sha256``, default the
        pinned all-MiniLM-L6-v2 package; none when ``with_embeddings`` is False) and the corrected
        VADER tone. Raises the `analysis.themes.ThemeError` of whatever cannot be loaded.
        """
        loaded_model: ThemeModel | None = None
        if with_model:
            if model is not None:
                loaded_model = ThemeModel.load(model)
            elif DEFAULT_MODEL.is_file():
                loaded_model = ThemeModel.load(DEFAULT_MODEL)
        layer: EmbeddingLayer | None = None
        if with_embeddings:
            classifier_file = Path(embedding_model) if embedding_model is not None else (
                DEFAULT_EMBEDDING_MODEL if DEFAULT_EMBEDDING_MODEL.is_file() else None)
            if classifier_file is not None:
                classifier = EmbeddingModel.load(classifier_file)
                precision: Precision = (
                    "float32" if classifier.encoder.get("precision") == "float32" else "int8")
                layer = EmbeddingLayer(load_encoder(encoder, sha256=encoder_sha256, precision=precision),
                                       classifier)
        return cls(load_taxonomy(taxonomy), model=loaded_model,
                   tone=ToneAnalyser.default() if with_tone else None, embeddings=layer,
                   sentence_evidence=sentence_evidence)

    def with_model(self, model: ThemeModel | None) -> ThemeEngine:
        """The same engine (taxonomy, tone, embedding layer) with another n-gram model (or none)."""
        return ThemeEngine(self.taxonomy, model=model, tone=self.tone, embeddings=self.embeddings,
                           sentence_evidence=self.sentence_evidence)

    def with_embeddings(self, embeddings: EmbeddingLayer | None) -> ThemeEngine:
        """The same engine with another embedding layer (or none)."""
        return ThemeEngine(self.taxonomy, model=self.model, tone=self.tone, embeddings=embeddings,
                           sentence_evidence=self.sentence_evidence)

    def themes(self, text: str | None) -> tuple[ThemeHit, ...]:
        """The themes assigned to ``text``, highest score first (ties in taxonomy order)."""
        return self._tag_batch([text or ""], with_tone=False)[0].themes

    def analyse(self, text: str) -> Analysis | None:
        """The rule layer's analysis of ``text``; None for blank or non-English text."""
        if not text.strip():
            return None
        analysis = self.matcher.analyse(text)
        return analysis if analysis.english else None

    def base_scores(self, analysis: Analysis) -> dict[str, tuple[float, float]]:
        """Per theme with a non-zero score: ``(rule score, n-gram model probability)``."""
        rules = self.matcher.match(analysis)
        model_scores = (self.model.score(analysis, {t: h.score for t, h in rules.items()})
                        if self.model is not None else None)
        found: dict[str, tuple[float, float]] = {}
        for theme in self.taxonomy.theme_ids:
            rule = rules[theme].score if theme in rules else 0.0
            model = (model_scores.probabilities.get(theme, 0.0)
                     if model_scores is not None and theme in self._model_themes else 0.0)
            if rule or model:
                found[theme] = (rule, model)
        return found

    def hits(self, text: str, analysis: Analysis, embedded: EmbeddingScores | None) -> tuple[ThemeHit, ...]:
        """The themes of ``text`` from its rule analysis and its embedding layer's scores (None
        without an embedding layer), highest score first: for scoring one encoding with several
        n-gram models (`analysis.themes.evaluation.evaluate_models`)."""
        rules = self.matcher.match(analysis)
        tau = self.taxonomy.threshold
        model_scores = (self.model.score(analysis, {t: h.score for t, h in rules.items()})
                        if self.model is not None else None)
        probabilities = model_scores.probabilities if model_scores is not None else {}
        ruled_out: set[str] | None = None  # found only when the embedding layer would assign a theme
        hits: list[ThemeHit] = []
        for theme in self.taxonomy.theme_ids:
            rule_hits = rules.get(theme)
            rule = rule_hits.score if rule_hits is not None else 0.0
            model = probabilities.get(theme, 0.0) if theme in self._model_themes else 0.0
            base = 1.0 - (1.0 - rule) * (1.0 - model)
            emb = embedded.probabilities.get(theme, 0.0) if embedded is not None else 0.0
            base_threshold, emb_threshold = self.thresholds[theme]
            if emb >= emb_threshold:
                if ruled_out is None:
                    ruled_out = self.matcher.ruled_out(analysis)
                if theme in ruled_out:
                    emb = 0.0
            by_base, by_embedding = base >= base_threshold, emb >= emb_threshold
            if not (by_base or by_embedding):
                continue
            score = max(rescale(base, base_threshold, tau), rescale(emb, emb_threshold, tau), tau)
            evidence = list(rule_hits.evidence) if rule_hits is not None else []
            if not by_base and embedded is not None and self.embeddings is not None:
                sentence = self._sentence(text, embedded, theme)
                evidence = [sentence, *(e for e in evidence if e not in sentence.lower())]
            elif model_scores is not None and self.model is not None and (
                    rule < base_threshold or not evidence):
                for part in self.model.evidence(analysis, model_scores, theme):
                    if not any(part in e for e in evidence):
                        evidence.append(part)
            hits.append(ThemeHit(theme, round(min(score, 1.0), 4), tuple(evidence[:_MAX_EVIDENCE]),
                                 round(rule, 4), round(model, 4), round(emb, 4)))
        hits.sort(key=lambda h: (-h.score, self._order[h.theme]))
        return tuple(hits)

    def _sentence(self, text: str, embedded: EmbeddingScores, theme: str) -> str:
        assert self.embeddings is not None  # noqa: S101 - only called with an embedding layer
        if self.sentence_evidence:
            ranked = self.embeddings.sentence_scores(text, theme)
            if ranked:
                return ranked[0][0]
        return self.embeddings.carrying_sentence(text, embedded, theme)

    def _tag_batch(self, texts: Sequence[str], *, with_tone: bool = True) -> list[Tagged]:
        analyses = [self.analyse(text) for text in texts]
        english = [i for i, a in enumerate(analyses) if a is not None]
        embedded: dict[int, EmbeddingScores] = {}
        if self.embeddings is not None and english:
            embedded = dict(zip(english, self.embeddings.scores([texts[i] for i in english]), strict=True))
        tagged: list[Tagged] = []
        for i, (text, analysis) in enumerate(zip(texts, analyses, strict=True)):
            if analysis is None:
                tagged.append(Tagged((), 0.0, False))
                continue
            tone = self.tone.score(text) if with_tone and self.tone is not None else 0.0
            tagged.append(Tagged(self.hits(text, analysis, embedded.get(i)), round(tone, 4), True))
        return tagged

    def tag(self, text: str | None) -> Tagged:
        """Themes and tone of one comment (tone 0.0 when the engine has no tone analyser)."""
        return self._tag_batch([text or ""])[0]

    def tag_rows(self, rows: Iterable[tuple[str, str | None]], *,
                 batch: int = BATCH) -> Iterator[tuple[str, Tagged]]:
        """``(id, Tagged)`` for each ``(id, text)``, lazily and in input order.

        Rows are pulled from ``rows`` ``batch`` at a time (one at a time without an embedding
        layer), encoded together and yielded, so at most one batch is held: a generator of a
        million rows is never held in memory.
        """
        size = max(1, batch) if self.embeddings is not None else 1
        iterator = iter(rows)
        while chunk := list(islice(iterator, size)):
            results = self._tag_batch([text or "" for _id, text in chunk])
            for (row_id, _text), tagged in zip(chunk, results, strict=True):
                yield row_id, tagged
