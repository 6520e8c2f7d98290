"""The theme engine: rules and the supervised layer combined, with evidence and tone.

For every theme the engine has two scores in [0, 1]: the rule score (noisy-or of the pattern
matches, see `RuleMatcher.match`) and the supervised model's probability (trained on n-grams
alone by default; ``TrainingOptions.rule_features`` would also give it the rule scores). The
theme's score is their noisy-or, ``1 - (1 - rules) * (1 - model)``, and the theme is assigned
when it reaches the taxonomy's ``threshold``: the model can add a theme the rules missed but
cannot remove one the rules found (edit the taxonomy for that). Evidence lists the text of the
rule matches and, when the rules alone would not have assigned the theme, the words that pushed
the model's probability up most. Tone is computed separately and never used for themes.

Empty, whitespace-only and non-English comments get no themes and tone 0.0.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from analysis.themes.classifier import ThemeModel
from analysis.themes.matcher import RuleMatcher
from analysis.themes.taxonomy import CONFIG_DIR, Taxonomy, load_taxonomy
from analysis.themes.tone import ToneAnalyser

DEFAULT_MODEL: Final = CONFIG_DIR / "model.json"
_MAX_EVIDENCE: Final = 6


@dataclass(frozen=True)
class ThemeHit:
    """An assigned theme: its id, score in [0, 1], and the words that triggered it.

    ``rule_score`` and ``model_score`` are the two parts the score combines (for explanations).
    """

    theme: str
    score: float
    evidence: tuple[str, ...]
    rule_score: float = 0.0
    model_score: float = 0.0


@dataclass(frozen=True)
class Tagged:
    """The analysis of one comment: assigned themes (highest score first) and tone in [-1, 1].

    ``english`` is False for empty or non-English text (which has no themes and tone 0.0).
    """

    themes: tuple[ThemeHit, ...]
    tone: float
    english: bool


class ThemeEngine:
    """Tags comments with themes. Reusable; not thread-safe (it memoises stems); one per worker."""

    def __init__(self, taxonomy: Taxonomy, *, model: ThemeModel | None = None,
                 tone: ToneAnalyser | None = None) -> None:
        self.taxonomy = taxonomy
        self.matcher = RuleMatcher(taxonomy)
        self.model = model
        self.tone = tone
        known = set(taxonomy.theme_ids)
        self._model_themes = tuple(t for t in model.themes if t in known) if model else ()
        self._order = {t: i for i, t in enumerate(taxonomy.theme_ids)}

    @classmethod
    def default(cls, *, taxonomy: Path | str | None = None, model: Path | str | None = None,
                with_model: bool = True, with_tone: bool = True) -> ThemeEngine:
        """The engine from the configuration files: the taxonomy (default
        ``config/themes/taxonomy.toml``), the model (default ``config/themes/model.json`` if it
        exists; rules only otherwise, or when ``with_model`` is False) and the corrected VADER tone.
        """
        loaded_model: ThemeModel | None = None
        if with_model:
            if model is not None:
                loaded_model = ThemeModel.load(model)
            elif DEFAULT_MODEL.is_file():
                loaded_model = ThemeModel.load(DEFAULT_MODEL)
        return cls(load_taxonomy(taxonomy), model=loaded_model,
                   tone=ToneAnalyser.default() if with_tone else None)

    def with_model(self, model: ThemeModel | None) -> ThemeEngine:
        """The same engine (taxonomy and tone) with another supervised model (or none)."""
        return ThemeEngine(self.taxonomy, model=model, tone=self.tone)

    def themes(self, text: str | None) -> tuple[ThemeHit, ...]:
        """The themes assigned to ``text``, highest score first (ties in taxonomy order)."""
        return self._themes(text or "")[0]

    def _themes(self, text: str) -> tuple[tuple[ThemeHit, ...], bool]:
        if not text.strip():
            return (), False
        analysis = self.matcher.analyse(text)
        if not analysis.english:
            return (), False
        rules = self.matcher.match(analysis)
        threshold = self.taxonomy.threshold
        rule_scores = {theme: hits.score for theme, hits in rules.items()}
        model_scores = self.model.score(analysis, rule_scores) if self.model is not None else None
        probabilities = model_scores.probabilities if model_scores is not None else {}
        hits: list[ThemeHit] = []
        for theme in self.taxonomy.theme_ids:
            rule_hits = rules.get(theme)
            rule = rule_hits.score if rule_hits is not None else 0.0
            model = probabilities.get(theme, 0.0) if theme in self._model_themes else 0.0
            score = 1.0 - (1.0 - rule) * (1.0 - model)
            if score < threshold:
                continue
            evidence = list(rule_hits.evidence) if rule_hits is not None else []
            if self.model is not None and model_scores is not None and (rule < threshold or not evidence):
                for part in self.model.evidence(analysis, model_scores, theme):
                    if not any(part in e for e in evidence):
                        evidence.append(part)
            hits.append(ThemeHit(theme, round(score, 4), tuple(evidence[:_MAX_EVIDENCE]),
                                 round(rule, 4), round(model, 4)))
        hits.sort(key=lambda h: (-h.score, self._order[h.theme]))
        return tuple(hits), True

    def tag(self, text: str | None) -> Tagged:
        """Themes and tone of one comment (tone 0.0 when the engine has no tone analyser)."""
        value = text or ""
        found, english = self._themes(value)
        tone = self.tone.score(value) if english and self.tone is not None else 0.0
        return Tagged(found, round(tone, 4), english)

    def tag_rows(self, rows: Iterable[tuple[str, str | None]]) -> Iterator[tuple[str, Tagged]]:
        """``(id, Tagged)`` for each ``(id, text)``, lazily and in input order.

        Rows are pulled from ``rows`` one at a time as results are consumed, so a generator of a
        million rows is never held in memory.
        """
        for row_id, text in rows:
            yield row_id, self.tag(text)
