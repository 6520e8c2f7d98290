"""The embedding layer: logistic regression per theme on sentence embeddings, with thresholds.

`EmbeddingModel` holds, per theme, a weight vector over the encoder's dimensions, a bias, and two
thresholds: ``embedding`` (the theme is assigned when its probability reaches it) and ``base``
(the threshold for the rules + n-gram score of the same theme; the taxonomy's threshold unless
calibrated). It records which encoder it was trained on (the SHA-256 of the weights and the
precision) and refuses any other: a classifier on one encoder's embeddings means nothing on
another's. Saved as plain JSON that `EmbeddingModel.load` validates and never executes.

`EmbeddingLayer` is an encoder and a model together. Its evidence for a theme is the sentence
that carries it: either the sentence whose tokens add most to the theme's score (the score is a
linear function of the mean of the tokens' states, so it splits exactly over tokens: free, from
the batch's own encoding), or, when asked (`EmbeddingLayer.sentence_scores`), the sentence whose
own embedding scores highest, which encodes every sentence again (for one case on screen).

Training (`train_embedding_model`) is Newton's method on the L2-penalised logistic loss of each
theme (numpy only, deterministic), positives up-weighted by ``(negatives / positives) **
positive_weight``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from analysis.themes.encoder import Encoded, SentenceEncoder, sentence_spans
from analysis.themes.errors import ModelError

FORMAT: Final = "speakup-themes-embedding-model"
VERSION: Final = 1
MAX_MODEL_BYTES: Final = 16 << 20
MAX_EVIDENCE_CHARACTERS: Final = 300
_Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class EmbeddingOptions:
    """Training settings: ``l2`` penalty on the squared weights (the loss is summed over comments),
    ``positive_weight`` as in `analysis.themes.classifier.TrainingOptions`, Newton ``iterations``."""

    l2: float = 3.0
    positive_weight: float = 0.5
    iterations: int = 25


@dataclass(frozen=True)
class Thresholds:
    """Per-theme decision thresholds: ``embedding`` for the layer's probability, ``base`` for the
    rules + n-gram score."""

    embedding: float
    base: float


class EmbeddingModel:
    """Trained per-theme logistic regressions on one encoder's embeddings."""

    def __init__(self, themes: Sequence[str], weights: _Floats, bias: _Floats, *,
                 encoder: Mapping[str, str], thresholds: Mapping[str, Thresholds] | None = None,
                 metadata: dict[str, object] | None = None) -> None:
        self.themes: tuple[str, ...] = tuple(themes)
        if len(set(self.themes)) != len(self.themes) or not self.themes:
            raise ModelError("themes must be distinct and at least one")
        if weights.ndim != 2 or weights.shape[1] != len(self.themes) or bias.shape != (len(self.themes),):
            raise ModelError("weights must be dimensions x themes and bias one per theme")
        if not (np.isfinite(weights).all() and np.isfinite(bias).all()):
            raise ModelError("weights must be finite numbers")
        if not {"sha256", "precision"} <= set(encoder):
            raise ModelError("the model must name its encoder's sha256 and precision")
        self.weights = weights
        self.bias = bias
        self.encoder: dict[str, str] = dict(encoder)
        self.thresholds: dict[str, Thresholds] = dict(thresholds or {})
        for theme, t in self.thresholds.items():
            if theme not in self.themes or not (0 < t.embedding <= 1.01 and 0 < t.base <= 1.01):
                raise ModelError(f"thresholds for {theme!r} must be for a known theme and in (0, 1.01]")
        self.metadata: dict[str, object] = dict(metadata or {})
        self._weights32 = weights.astype(np.float32)

    @property
    def dim(self) -> int:
        """Embedding dimensions the model expects."""
        return int(self.weights.shape[0])

    def threshold(self, theme: str, default_base: float) -> Thresholds:
        """The thresholds of ``theme`` (embedding 0.5 and the given base when not calibrated)."""
        return self.thresholds.get(theme, Thresholds(0.5, default_base))

    def logits(self, embeddings: npt.NDArray[np.floating]) -> _Floats:
        """(comments, themes) logits of unit embeddings."""
        out: _Floats = np.asarray(embeddings, dtype=np.float64) @ self.weights + self.bias
        return out

    def probabilities(self, embeddings: npt.NDArray[np.floating]) -> _Floats:
        """(comments, themes) probabilities."""
        out: _Floats = 1.0 / (1.0 + np.exp(-np.clip(self.logits(embeddings), -500, 500)))
        return out

    def direction(self, theme: str) -> npt.NDArray[np.float32]:
        """The weight vector of ``theme`` (float32, for token contributions)."""
        return np.ascontiguousarray(self._weights32[:, self.themes.index(theme)])

    def with_thresholds(self, thresholds: Mapping[str, Thresholds],
                        calibration: dict[str, object] | None = None) -> EmbeddingModel:
        """The same model with other thresholds (and a note of how they were calibrated)."""
        metadata = dict(self.metadata)
        if calibration is not None:
            metadata["calibration"] = calibration
        return EmbeddingModel(self.themes, self.weights, self.bias, encoder=self.encoder,
                              thresholds=thresholds, metadata=metadata)

    def to_json(self) -> dict[str, object]:
        """The model as a JSON-ready dict."""
        return {
            "format": FORMAT, "version": VERSION, "themes": list(self.themes), "encoder": self.encoder,
            "bias": [round(float(b), 6) for b in self.bias],
            "weights": [[round(float(v), 6) for v in row] for row in self.weights.T],
            "thresholds": {t: {"embedding": round(v.embedding, 4), "base": round(v.base, 4)}
                           for t, v in self.thresholds.items()},
            "metadata": self.metadata,
        }

    def save(self, path: Path | str) -> None:
        """Write the model as JSON to ``path``; ModelError if it cannot be written."""
        file = Path(path)
        try:
            file.write_text(json.dumps(self.to_json(), separators=(",", ":")) + "\n", encoding="utf-8")
        except OSError as e:
            raise ModelError(f"cannot write embedding model {file}: {e.strerror}") from e

    @classmethod
    def from_json(cls, data: object) -> EmbeddingModel:
        """A model from the dict `to_json` made; ModelError for anything else."""
        if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("version") != VERSION:
            raise ModelError(f"not a {FORMAT} version {VERSION} file")
        themes, weights, bias = data.get("themes"), data.get("weights"), data.get("bias")
        encoder = data.get("encoder")
        thresholds, metadata = data.get("thresholds", {}), data.get("metadata", {})
        if not isinstance(themes, list) or not all(isinstance(t, str) for t in themes):
            raise ModelError("themes must be a list of theme ids")
        if not isinstance(encoder, dict) or not all(isinstance(v, str) for v in encoder.values()):
            raise ModelError("encoder must be an object of strings")
        if not isinstance(metadata, dict) or not isinstance(thresholds, dict):
            raise ModelError("thresholds and metadata must be objects")

        def numbers(value: object, what: str) -> list[float]:
            if not isinstance(value, list) or not all(
                    isinstance(v, int | float) and not isinstance(v, bool) for v in value):
                raise ModelError(f"{what} must be a list of numbers")
            return [float(v) for v in value]

        if not isinstance(weights, list) or len(weights) != len(themes):
            raise ModelError("weights must hold one list per theme")
        rows = [numbers(row, "weights") for row in weights]
        if len({len(r) for r in rows}) != 1:
            raise ModelError("every theme's weights must have the same length")
        parsed: dict[str, Thresholds] = {}
        for theme, value in thresholds.items():
            if not isinstance(value, dict):
                raise ModelError(f"thresholds of {theme!r} must be an object")
            embedding, base = numbers([value.get("embedding"), value.get("base")], f"thresholds of {theme!r}")
            parsed[str(theme)] = Thresholds(embedding, base)
        return cls(themes, np.array(rows, dtype=np.float64).T.copy(),
                   np.array(numbers(bias, "bias"), dtype=np.float64), encoder=encoder,
                   thresholds=parsed, metadata=metadata)

    @classmethod
    def load(cls, path: Path | str) -> EmbeddingModel:
        """The model saved at ``path``; ModelError if it is unreadable, too large or malformed."""
        file = Path(path)
        try:
            if file.stat().st_size > MAX_MODEL_BYTES:
                raise ModelError(f"embedding model {file} is larger than {MAX_MODEL_BYTES} bytes")
            data = json.loads(file.read_text(encoding="utf-8"))
        except OSError as e:
            raise ModelError(f"cannot read embedding model {file}: {e.strerror}") from e
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ModelError(f"embedding model {file} is not JSON: {e}") from e
        return cls.from_json(data)


def train_embedding_model(embeddings: npt.NDArray[np.floating], labels: Sequence[Collection[str]],
                          themes: Sequence[str], *, encoder: Mapping[str, str],
                          options: EmbeddingOptions | None = None,
                          weights: Sequence[float] | None = None) -> EmbeddingModel:
    """Per-theme logistic regressions on ``embeddings`` (comments x dimensions) for ``labels``
    (the themes of each comment), each comment's loss scaled by its ``weights`` entry (default
    1). ModelError without a positive and a negative of every theme, or with a weight that is
    not a positive number. Deterministic; thresholds are left uncalibrated (see
    `analysis.themes.calibration`)."""
    options = options or EmbeddingOptions()
    x = np.asarray(embeddings, dtype=np.float64)
    n = x.shape[0]
    if n == 0 or len(labels) != n:
        raise ModelError("need one label set per embedding, and at least one")
    y = np.array([[1.0 if t in lab else 0.0 for t in themes] for lab in labels]).reshape(n, len(themes))
    positives = y.sum(axis=0)
    lacking = [t for t, p in zip(themes, positives, strict=True) if p == 0 or p == n]
    if lacking:
        raise ModelError(f"need positive and negative examples of: {', '.join(lacking)}")
    example_weight = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    if example_weight.shape != (n,) or not (np.isfinite(example_weight).all() and (example_weight > 0).all()):
        raise ModelError("weights must be one positive number per comment")
    weighted_positives = example_weight @ y
    weighted_negatives = example_weight.sum() - weighted_positives
    design = np.hstack([x, np.ones((n, 1))])
    penalty = np.full(design.shape[1], options.l2)
    penalty[-1] = 1e-6  # the bias is (almost) free
    coefficients = np.zeros((x.shape[1], len(themes)))
    bias = np.zeros(len(themes))
    for t in range(len(themes)):
        w_pos = (weighted_negatives[t] / weighted_positives[t]) ** options.positive_weight
        sample = np.where(y[:, t] > 0, w_pos, 1.0) * example_weight
        target = y[:, t]

        def objective(b: _Floats, s: _Floats = sample, yt: _Floats = target) -> float:
            z = design @ b
            return float((s * (np.logaddexp(0.0, z) - yt * z)).sum() + 0.5 * (penalty * b * b).sum())

        beta = np.zeros(design.shape[1])
        beta[-1] = math.log(weighted_positives[t] / weighted_negatives[t])
        current = objective(beta)
        for _ in range(options.iterations):
            p = 1.0 / (1.0 + np.exp(-np.clip(design @ beta, -500, 500)))
            gradient = design.T @ (sample * (p - target)) + penalty * beta
            hessian = (design * (sample * p * (1 - p))[:, None]).T @ design + np.diag(penalty + 1e-9)
            try:
                step = np.linalg.solve(hessian, gradient)
            except np.linalg.LinAlgError:  # only if the ridge cannot make it invertible
                step = np.linalg.lstsq(hessian, gradient, rcond=None)[0]
            size = 1.0
            while size > 1e-4:  # backtracking: Newton's full step can overshoot
                trial = objective(beta - size * step)
                if trial <= current:
                    break
                size /= 2
            else:
                break
            beta -= size * step
            improvement, current = current - trial, trial
            if improvement < 1e-10 * max(1.0, abs(current)):
                break
        coefficients[:, t] = beta[:-1]
        bias[t] = beta[-1]
    metadata: dict[str, object] = {
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"), "examples": n,
        "positives": {t: int(p) for t, p in zip(themes, positives, strict=True)},
        "options": {"l2": options.l2, "positive_weight": options.positive_weight},
    }
    return EmbeddingModel(themes, coefficients, bias, encoder=encoder, metadata=metadata)


@dataclass(frozen=True)
class EmbeddingScores:
    """One text's probability per theme (the best window's) and its encoding, for evidence."""

    probabilities: dict[str, float]
    encoded: Encoded
    best_window: dict[str, int] = field(default_factory=dict)


class EmbeddingLayer:
    """An encoder and a classifier trained on its embeddings. Thread-safe."""

    def __init__(self, encoder: SentenceEncoder, model: EmbeddingModel) -> None:
        trained_on = (model.encoder.get("sha256"), model.encoder.get("precision"))
        if trained_on != (encoder.sha256, encoder.precision) or model.dim != encoder.dim:
            raise ModelError(
                f"the embedding model was trained on encoder {trained_on[0]} ({trained_on[1]}), not on "
                f"{encoder.sha256} ({encoder.precision}): train one for this encoder "
                "(speakup themes train-embeddings)")
        self.encoder = encoder
        self.model = model

    def scores(self, texts: Sequence[str]) -> list[EmbeddingScores]:
        """Scores of each text; a text of several windows takes each theme's best window."""
        found: list[EmbeddingScores] = []
        if not texts:
            return found
        encoded = self.encoder.encode_texts(texts)
        flat = np.stack([w.embedding for e in encoded for w in e.windows])
        probabilities = self.model.probabilities(flat)
        row = 0
        for item in encoded:
            block = probabilities[row:row + len(item.windows)]
            row += len(item.windows)
            best = block.argmax(axis=0)
            found.append(EmbeddingScores(
                {t: float(block[best[i], i]) for i, t in enumerate(self.model.themes)}, item,
                {t: int(best[i]) for i, t in enumerate(self.model.themes)}))
        return found

    def carrying_sentence(self, text: str, scores: EmbeddingScores, theme: str) -> str:
        """The sentence of ``text`` whose tokens add most to ``theme``'s score (from the encoding
        already made); the whole text, shortened, if it has no sentence."""
        window = scores.encoded.windows[scores.best_window.get(theme, 0)]
        shares = window.contributions(self.model.direction(theme))
        spans = sentence_spans(text)
        if not spans:
            return _shorten(text)
        totals = [0.0] * len(spans)
        k = 0
        for (start, end), share in zip(window.spans, shares, strict=True):
            if end <= start:
                continue  # a special token: in no sentence
            while k + 1 < len(spans) and start >= spans[k][1]:
                k += 1
            while k > 0 and start < spans[k][0]:
                k -= 1
            totals[k] += float(share)
        best = max(range(len(spans)), key=lambda i: totals[i])
        return _shorten(text[spans[best][0]:spans[best][1]])

    def sentence_scores(self, text: str, theme: str) -> list[tuple[str, float]]:
        """Each sentence of ``text`` with ``theme``'s probability when encoded on its own, highest
        first (encodes every sentence: for one text on screen, not for a batch)."""
        sentences = [text[s:e] for s, e in sentence_spans(text)]
        if not sentences:
            return []
        column = self.model.themes.index(theme)
        probabilities = self.model.probabilities(self.encoder.encode(sentences))[:, column]
        ranked = sorted(zip(sentences, probabilities, strict=True), key=lambda p: -p[1])
        return [(_shorten(s), float(p)) for s, p in ranked]


def _shorten(text: str) -> str:
    """``text`` with runs of white space as one space, cut at a word before the length limit."""
    flat = " ".join(text.split())
    if len(flat) <= MAX_EVIDENCE_CHARACTERS:
        return flat
    return flat[:MAX_EVIDENCE_CHARACTERS].rsplit(" ", 1)[0]
