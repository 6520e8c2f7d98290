"""The theme engine as the app uses it: one per thread, with the newest retrained model.

The taxonomy and the tone lexicon come from ``config/themes/``; the supervised n-gram layer is
the newest model guardians retrained (stored sealed in ``theme_models``), or the one shipped in
``config/themes/model.json`` until there is one; the embedding layer is the one
``settings.theme_encoder`` names (its encoder loaded once per process and shared by threads),
with evidence sentences scored on their own (cases are tagged one at a time). Retrained models
and consented quote extracts are sealed under keys derived from the staff server secret, which
is not in the database.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from analysis.themes.classifier import ThemeModel
from analysis.themes.engine import DEFAULT_MODEL, ThemeEngine
from analysis.themes.labelled import LabelledExample, read_labelled
from config.settings import Settings
from core.encryption import derive_subkey, open_sealed, seal
from speakup.models import ThemeModel as StoredModel

_MODEL_CONTEXT = b"speakup/theme-model"
REAL_CORPUS: Final = Path(__file__).resolve().parent.parent / "tests" / "data" / "real_staff_text.csv"
"""What UK health staff said in public, labelled (tests/data/README.md): retraining learns from
its ``dev_real`` rows and is checked on its frozen ``heldout_real`` rows."""
REAL_DEVELOPMENT: Final = "dev_real"
REAL_HELDOUT: Final = "heldout_real"
_local = threading.local()


def model_key(settings: Settings) -> bytes:
    return derive_subkey(settings.staff_secret, "theme-model")


def quote_key(settings: Settings) -> bytes:
    """The key consented, redacted quote extracts of concerns are sealed under."""
    return derive_subkey(settings.staff_secret, "concern-quotes")


def seal_model(model: ThemeModel, settings: Settings) -> bytes:
    return seal(model_key(settings), json.dumps(model.to_json()).encode(), context=_MODEL_CONTEXT)


def open_model(blob: bytes, settings: Settings) -> ThemeModel:
    return ThemeModel.from_json(json.loads(open_sealed(model_key(settings), blob,
                                                       context=_MODEL_CONTEXT)))


def _base(settings: Settings) -> ThemeEngine:
    encoder = settings.theme_encoder
    cached: tuple[object, ThemeEngine] | None = getattr(_local, "base", None)
    if cached is not None and cached[0] == encoder:
        return cached[1]
    base = ThemeEngine.default(
        with_embeddings=encoder.enabled, encoder=encoder.folder, encoder_sha256=encoder.sha256,
        embedding_model=encoder.classifier, sentence_evidence=True)
    _local.base = (encoder, base)
    return base


def real_corpus(themes: tuple[str, ...]) -> tuple[list[LabelledExample], list[LabelledExample]]:
    """The real-text corpus's development rows and frozen held-out rows, labelled with
    ``themes`` only (`analysis.themes.ThemeError` if the file is missing or malformed)."""
    rows = read_labelled(REAL_CORPUS, known_themes=themes)
    return ([e for e in rows if e.split == REAL_DEVELOPMENT], [e for e in rows if e.split == REAL_HELDOUT])


def shipped_model() -> ThemeModel | None:
    """The model shipped with the app (``config/themes/model.json``), which retraining adapts."""
    return ThemeModel.load(DEFAULT_MODEL) if DEFAULT_MODEL.is_file() else None


def engine(db: Session, settings: Settings) -> ThemeEngine:
    """This thread's engine, with the newest stored model (checked on every call: one query)."""
    newest = db.scalar(select(StoredModel.id).order_by(StoredModel.id.desc()).limit(1))
    # Keyed by database too: one process may serve (or test) more than one.
    key = (str(db.get_bind().url), newest, settings.theme_encoder)
    cached: tuple[object, ThemeEngine] | None = getattr(_local, "engine", None)
    if cached is not None and cached[0] == key:
        return cached[1]
    if newest is None:
        current = _base(settings)
    else:
        row = db.get(StoredModel, newest)
        assert row is not None  # noqa: S101 - just selected by id
        current = _base(settings).with_model(open_model(row.model_sealed, settings))
    _local.engine = (key, current)
    return current
