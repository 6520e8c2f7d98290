"""The embedding layer: the encoder (known answers from sentence-transformers, backends, SHA-256
check, long texts), the classifier (training, files, encoder identity), how the engine combines
it with the rules (thresholds, evidence sentences), calibration, and the evaluation tools
(source folds, bootstrap intervals, false alarms, agreement)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from analysis.themes.calibration import LayerScores, fit_thresholds
from analysis.themes.embedding import (
    EmbeddingLayer,
    EmbeddingModel,
    EmbeddingOptions,
    Thresholds,
    train_embedding_model,
)
from analysis.themes.encoder import (
    PINNED_SHA256,
    SentenceEncoder,
    load_encoder,
    pinned_folder,
    sentence_spans,
)
from analysis.themes.engine import ThemeEngine, rescale
from analysis.themes.errors import EncoderError, ModelError, ThemeError
from analysis.themes.evaluation import agreement, bootstrap, evaluate_predictions, group_folds
from analysis.themes.labelled import LabelledExample, read_labelled
from analysis.themes.taxonomy import load_taxonomy
from config.settings import SettingsError, theme_encoder_settings

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "tests" / "data" / "encoder_reference.json"
LABELLED = ROOT / "tests" / "data" / "themes_labelled.csv"
REAL = ROOT / "tests" / "data" / "real_staff_text.csv"
THEMES = load_taxonomy().theme_ids


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return load_encoder()


@pytest.fixture(scope="module")
def exact() -> SentenceEncoder:
    return load_encoder(precision="float32")


@pytest.fixture(scope="module")
def reference() -> dict[str, list]:
    data: dict[str, list] = json.loads(REFERENCE.read_text(encoding="utf-8"))
    return data


# --- the encoder -------------------------------------------------------------------------------


def test_float32_backends_give_sentence_transformers_embeddings(exact: SentenceEncoder,
                                                                 reference: dict[str, list]) -> None:
    """tests/data/encoder_reference.json was written by sentence-transformers with torch
    (bench/encoder_reference.py): the numpy forward pass and the float32 graph reproduce it."""
    expected = np.array(reference["embeddings"], dtype=np.float32)
    numpy_backend = load_encoder(precision="float32", backend="numpy")
    for encoded in (exact.encode(reference["texts"]), numpy_backend.encode(reference["texts"])):
        assert encoded.shape == expected.shape == (len(reference["texts"]), 384)
        assert np.abs(encoded - expected).max() < 1e-5


def test_int8_embeddings_stay_close_to_float32(encoder: SentenceEncoder, exact: SentenceEncoder,
                                               reference: dict[str, list]) -> None:
    quantised, full = encoder.encode(reference["texts"]), exact.encode(reference["texts"])
    cosines = (quantised * full).sum(axis=1)
    assert cosines.min() > 0.97
    assert np.allclose(np.linalg.norm(quantised, axis=1), 1.0, atol=1e-5)
    # Different texts stay different: the nearest float32 embedding is the text's own.
    assert list((quantised @ full.T).argmax(axis=1)) == list(range(len(full)))


def test_the_pinned_weights_are_checked_and_other_folders_need_a_digest(tmp_path: Path) -> None:
    folder = pinned_folder()
    with pytest.raises(EncoderError, match="SHA-256"):
        load_encoder(folder)
    with pytest.raises(EncoderError, match="not the expected"):
        load_encoder(folder, sha256="0" * 64)
    # A copy whose weights were altered is refused even with the pinned digest.
    copy = tmp_path / "model"
    shutil.copytree(folder, copy)
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(EncoderError, match="refusing"):
        load_encoder(copy, sha256=PINNED_SHA256)
    with pytest.raises(EncoderError, match=r"model\.safetensors"):
        load_encoder(tmp_path, sha256=PINNED_SHA256)


def test_a_copied_folder_with_its_digest_loads_like_the_pinned_one(tmp_path: Path,
                                                                   encoder: SentenceEncoder) -> None:
    copy = tmp_path / "trust-model"
    shutil.copytree(pinned_folder(), copy)
    other = load_encoder(copy, sha256=PINNED_SHA256.upper())
    assert other.identity["sha256"] == encoder.identity["sha256"] and other.name == "trust-model"
    assert np.abs(other.encode(["Nepotism."]) - encoder.encode(["Nepotism."])).max() < 1e-6


def test_folders_saved_by_newer_sentence_transformers_load(tmp_path: Path, encoder: SentenceEncoder) -> None:
    """sentence-transformers 5+ (what training/finetune_encoder.py saves with) writes
    ``pooling_mode`` and keeps the token limit in the tokenizer's configuration."""
    copy = tmp_path / "fine-tuned"
    shutil.copytree(pinned_folder(), copy)
    (copy / "1_Pooling" / "config.json").write_text(json.dumps(
        {"embedding_dimension": 384, "pooling_mode": "mean", "include_prompt": True}))
    (copy / "sentence_bert_config.json").write_text(json.dumps({"transformer_task": "feature-extraction"}))
    tokenizer_config = json.loads((copy / "tokenizer_config.json").read_text())
    (copy / "tokenizer_config.json").write_text(json.dumps({**tokenizer_config, "model_max_length": 256}))
    newer = load_encoder(copy, sha256=PINNED_SHA256)
    assert newer.config.max_tokens == 256 and newer.config.pooling == "mean"
    assert np.abs(newer.encode(["Nepotism."]) - encoder.encode(["Nepotism."])).max() < 1e-6


def test_long_texts_are_encoded_in_windows_of_whole_sentences(encoder: SentenceEncoder) -> None:
    sentence = "The band six post went to the manager's friend without an interview. "
    text = sentence * 40  # about 600 word pieces: three windows of MiniLM's 256
    (encoded,) = encoder.encode_texts([text])
    assert len(encoded.windows) >= 3
    starts = [s for s, _e in sentence_spans(text)]
    seen: list[tuple[int, int]] = []
    for window in encoded.windows:
        assert len(window.spans) <= encoder.config.max_tokens
        words = [span for span in window.spans if span[1] > span[0]]
        assert words[0][0] in starts  # each window starts at a sentence
        seen.extend(words)
    assert seen == sorted(seen) and len(seen) == len(set(seen))
    assert seen[-1][1] == len(text.rstrip())


def test_token_contributions_add_up_to_the_linear_score(encoder: SentenceEncoder) -> None:
    (encoded,) = encoder.encode_texts(["Nobody listens. I was shouted at in front of patients."])
    window = encoded.windows[0]
    direction = np.random.default_rng(1).normal(size=encoder.dim).astype(np.float32)
    assert float(window.contributions(direction).sum()) == pytest.approx(
        float(direction @ window.embedding), abs=1e-4)


def test_sentence_spans() -> None:
    text = "First one.  Second one?! \"Third,\" she said.\nFourth without a stop"
    assert [text[s:e] for s, e in sentence_spans(text)] == [
        "First one.", "Second one?!", '"Third," she said.', "Fourth without a stop"]
    assert sentence_spans("   ") == []


# --- the classifier and its file ----------------------------------------------------------------


def _toy(seed: int = 0) -> tuple[np.ndarray, list[frozenset[str]]]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(200, 8))
    labels = [frozenset({"a"} if row[0] > 0.3 else set()) | ({"b"} if row[1] < -0.3 else set()) for row in x]
    return x / np.linalg.norm(x, axis=1, keepdims=True), labels


def test_training_learns_and_is_deterministic() -> None:
    x, labels = _toy()
    identity = {"sha256": "f" * 64, "precision": "int8"}
    first = train_embedding_model(x, labels, ["a", "b"], encoder=identity, options=EmbeddingOptions(l2=0.1))
    second = train_embedding_model(x, labels, ["a", "b"], encoder=identity, options=EmbeddingOptions(l2=0.1))
    assert np.array_equal(first.weights, second.weights)
    test_x, test_labels = _toy(seed=1)
    predicted = first.probabilities(test_x) >= 0.5
    gold = np.array([[t in lab for t in ("a", "b")] for lab in test_labels])
    assert (predicted == gold).mean() > 0.9
    with pytest.raises(ModelError, match="positive and negative"):
        train_embedding_model(x, [frozenset({"a"})] * len(x), ["a"], encoder=identity)


def test_model_files_round_trip_and_bad_ones_are_refused(tmp_path: Path) -> None:
    x, labels = _toy()
    model = train_embedding_model(x, labels, ["a", "b"], encoder={"sha256": "f" * 64, "precision": "int8"})
    model = model.with_thresholds({"a": Thresholds(0.7, 0.5)}, {"how": "test"})
    path = tmp_path / "embedding.json"
    model.save(path)
    loaded = EmbeddingModel.load(path)
    assert np.allclose(loaded.probabilities(x), model.probabilities(x), atol=1e-5)
    assert loaded.threshold("a", 0.5) == Thresholds(0.7, 0.5)
    assert loaded.threshold("b", 0.4) == Thresholds(0.5, 0.4)
    assert loaded.metadata["calibration"] == {"how": "test"}
    for content in ['{"format": "other"}', "not json",
                    path.read_text().replace('"precision":"int8"', '"size":"big"'),
                    path.read_text().replace('"embedding":0.7', '"embedding":7')]:
        path.write_text(content)
        with pytest.raises(ModelError):
            EmbeddingModel.load(path)


def test_a_classifier_is_refused_on_another_encoder(encoder: SentenceEncoder, exact: SentenceEncoder) -> None:
    shipped = ThemeEngine.default(with_tone=False).embeddings
    assert shipped is not None and shipped.model.encoder["sha256"] == PINNED_SHA256
    with pytest.raises(ModelError, match="trained on encoder"):
        EmbeddingLayer(exact, shipped.model)  # float32, but trained on int8 embeddings


# --- the engine ---------------------------------------------------------------------------------


def _one_theme_model(encoder: SentenceEncoder, theme: str, example: str, threshold: float) -> EmbeddingModel:
    """A classifier that gives ``theme`` to text close to ``example`` and nothing else."""
    direction = encoder.encode([example])[0].astype(np.float64)
    weights = np.zeros((encoder.dim, len(THEMES)))
    weights[:, THEMES.index(theme)] = 60 * direction
    bias = np.full(len(THEMES), -60.0)
    bias[THEMES.index(theme)] = -28.0  # cosine 0.5 with the example: p 0.88
    return EmbeddingModel(THEMES, weights, bias, encoder=encoder.identity,
                          thresholds={theme: Thresholds(threshold, 0.5)})


@pytest.mark.parametrize("sentence_evidence", [False, True])
def test_a_theme_only_the_embeddings_find_has_its_sentence_as_evidence(encoder: SentenceEncoder,
                                                                       sentence_evidence: bool) -> None:
    model = _one_theme_model(encoder, "patient_safety", "The lifts in the east wing are out of order again.",
                             0.6)
    engine = ThemeEngine.default(with_model=False, with_tone=False, with_embeddings=False)
    engine = ThemeEngine(engine.taxonomy, embeddings=EmbeddingLayer(encoder, model),
                         sentence_evidence=sentence_evidence)
    text = ("The canteen closes at six. Our lifts in the east wing have been out of order for weeks now. "
            "The car park is full.")
    hits = {h.theme: h for h in engine.themes(text)}
    assert set(hits) == {"patient_safety"}
    hit = hits["patient_safety"]
    assert hit.rule_score == 0 and hit.embedding_score >= 0.6 and hit.score >= engine.taxonomy.threshold
    assert hit.evidence[0] == "Our lifts in the east wing have been out of order for weeks now."
    assert engine.themes("The canteen closes at six.") == ()
    # The same layer with the theme's threshold out of reach assigns nothing.
    never = EmbeddingLayer(encoder, model.with_thresholds({"patient_safety": Thresholds(1.01, 0.5)}))
    assert engine.with_embeddings(never).themes(text) == ()


def test_a_comment_gets_the_same_themes_alone_or_in_a_batch() -> None:
    engine = ThemeEngine.default(with_tone=False)
    rows = [e for e in read_labelled(LABELLED) if e.split == "dev6"][:40]
    batched = [tagged.themes for _id, tagged in engine.tag_rows(((e.id, e.text) for e in rows), batch=16)]
    assert batched == [engine.themes(e.text) for e in rows]
    backwards = engine.tag_rows(((e.id, e.text) for e in rows[::-1]), batch=7)
    assert batched == [t.themes for _id, t in backwards][::-1]


def test_rescale_maps_the_threshold_to_the_target() -> None:
    assert rescale(0.9, 0.9, 0.5) == pytest.approx(0.5)
    assert rescale(0.45, 0.9, 0.5) == pytest.approx(0.25)
    assert rescale(1.0, 0.9, 0.5) == pytest.approx(1.0)
    assert rescale(0.99, 1.01, 0.5) < 0.5


def test_the_shipped_embedding_model_was_trained_on_development_rows_only() -> None:
    """Trained on the written development rows and the real corpus's dev_real rows (weighted
    up), calibrated on dev_real alone: no heldout* row of either file."""
    written = [e for e in read_labelled(LABELLED) if not e.split.startswith("heldout")]
    real = [e for e in read_labelled(REAL) if e.split == "dev_real"]
    layer = ThemeEngine.default(with_tone=False).embeddings
    assert layer is not None
    training = written + real
    assert layer.model.metadata["examples"] == len(training)
    assert layer.model.metadata["positives"] == {
        t: sum(t in e.themes for e in training) for t in layer.model.themes}
    assert set(layer.model.thresholds) == set(THEMES)
    calibration = layer.model.metadata["calibration"]
    assert isinstance(calibration, dict) and calibration["comments"] == len(real)
    assert calibration["extra_training_comments"] == len(written)


def test_training_weights_count_a_comment_several_times() -> None:
    """A comment of weight 3 trains the same model as the comment three times over."""
    x, labels = _toy()
    identity = {"sha256": "f" * 64, "precision": "int8"}
    weighted = train_embedding_model(x, labels, ["a", "b"], encoder=identity,
                                     weights=[3.0] * 20 + [1.0] * (len(x) - 20))
    repeated = train_embedding_model(np.vstack([x[:20], x[:20], x]), labels[:20] * 2 + labels, ["a", "b"],
                                     encoder=identity)
    assert np.allclose(weighted.weights, repeated.weights, atol=1e-6)
    with pytest.raises(ModelError, match="weights"):
        train_embedding_model(x, labels, ["a", "b"], encoder=identity, weights=[0.0] * len(x))


# --- calibration and evaluation ------------------------------------------------------------------


def test_thresholds_are_fitted_per_theme() -> None:
    labels = np.array([[1.0], [1.0], [0.0], [0.0], [1.0], [0.0]])
    base = np.array([[0.9], [0.1], [0.1], [0.6], [0.1], [0.1]])
    embedding = np.array([[0.3], [0.8], [0.7], [0.2], [0.85], [0.1]])
    scores = LayerScores(("t",), base, embedding, labels)
    fixed = fit_thresholds(scores, default_base=0.5)["t"]
    assert fixed.base == 0.5 and 0.7 < fixed.embedding <= 0.8  # just above the negative at 0.7
    free = fit_thresholds(scores, default_base=0.5, calibrate_base=True)["t"]
    assert 0.6 < free.base <= 0.9  # the negative at 0.6 is left out
    assert scores.predictions({"t": free}, 0.5) == [{"t"}, {"t"}, set(), set(), {"t"}, set()]


def test_group_folds_keep_sources_together() -> None:
    groups = ["a"] * 10 + ["b"] * 7 + ["c"] * 5 + ["d"] * 5 + ["e"] * 3 + ["f"]
    folds = group_folds(groups, 3)
    assert folds == group_folds(groups, 3)
    for group in set(groups):
        assert len({f for f, g in zip(folds, groups, strict=True) if g == group}) == 1
    sizes = [folds.count(f) for f in range(3)]
    assert max(sizes) - min(sizes) <= 3
    with pytest.raises(ThemeError):
        group_folds(["a", "a", "b"], 3)


def _examples(n: int) -> list[LabelledExample]:
    rng = np.random.default_rng(3)
    return [LabelledExample(f"r{i}", "x", frozenset({"t"} if rng.random() < 0.5 else set()), "dev",
                            f"s{i // 4}") for i in range(n)]


def test_bootstrap_intervals_false_alarms_and_agreement() -> None:
    rows = _examples(400)
    rng = np.random.default_rng(4)
    # A predictor right 85% of the time.
    predicted = [set(e.themes) if rng.random() < 0.85 else ({"t"} - set(e.themes)) for e in rows]
    pairs = list(zip(rows, predicted, strict=True))
    evaluation = evaluate_predictions(pairs, ["t"])
    result = bootstrap(pairs, ["t"], resamples=500, seed=1, groups=[e.source for e in rows])
    assert result.macro_f1.estimate == pytest.approx(evaluation.macro_f1)
    assert result.macro_f1.low < result.macro_f1.estimate < result.macro_f1.high
    assert 0.05 < result.macro_f1.high - result.macro_f1.low < 0.2
    assert result.unit == "sources" and result.per_theme["t"] == result.macro_f1
    assert bootstrap(pairs, ["t"], resamples=500, seed=1, groups=[e.source for e in rows]) == result
    wider = bootstrap(pairs[:40], ["t"], resamples=500, seed=1)
    assert wider.macro_f1.high - wider.macro_f1.low > result.macro_f1.high - result.macro_f1.low
    empty = [e for e in rows if not e.themes]
    assert evaluation.no_theme == len(empty)
    assert evaluation.no_theme_flagged == sum(1 for e, p in pairs if not e.themes and p)
    assert result.false_alarm_rate is not None
    assert result.false_alarm_rate.estimate == pytest.approx(evaluation.false_alarm_rate)
    assert agreement(rows, rows, ["t"]).macro_f1 == 1.0
    second = [LabelledExample(e.id, e.text, frozenset(p), e.split) for e, p in pairs]
    assert agreement(rows, second, ["t"]).macro_f1 == pytest.approx(evaluation.macro_f1)
    with pytest.raises(ThemeError):
        agreement(rows, [LabelledExample("other", "x", frozenset())], ["t"])


# --- settings -----------------------------------------------------------------------------------


def test_encoder_settings() -> None:
    assert theme_encoder_settings({}).enabled and theme_encoder_settings({}).folder is None
    assert not theme_encoder_settings({"SPEAKUP_THEME_ENCODER": "off"}).enabled
    with pytest.raises(SettingsError, match="SHA256"):
        theme_encoder_settings({"SPEAKUP_THEME_ENCODER": "/models/ours"})
    chosen = theme_encoder_settings({"SPEAKUP_THEME_ENCODER": "/models/ours",
                                     "SPEAKUP_THEME_ENCODER_SHA256": "AB" * 32,
                                     "SPEAKUP_THEME_EMBEDDING_MODEL": "/models/ours.json"})
    assert chosen.folder == Path("/models/ours") and chosen.sha256 == "ab" * 32
    assert chosen.classifier == Path("/models/ours.json")
