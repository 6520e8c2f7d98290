"""Reference embeddings from sentence-transformers (torch), for the encoder's known-answer test.

Run with a throwaway interpreter that has torch and sentence-transformers (never the app's):
``python bench/encoder_reference.py MODEL_FOLDER > tests/data/encoder_reference.json``, where
MODEL_FOLDER is the pinned package's folder (``.venv/bin/python -c "from
analysis.themes.encoder import pinned_folder; print(pinned_folder())"``). Writes the texts, the
sentence-transformers version and each text's embedding (6 decimals) as JSON.
"""

from __future__ import annotations

import json
import sys

TEXTS = [
    "Jobs go to the manager's friends.",
    "I was called names by a patient and nobody did anything.",
    "The car park is full every morning",
    "We are short staffed on every night shift; patients wait hours for pain relief!",
    "Nepotism.",
    "I've applied for band 6 five times and someone with less experience gets it every time. "
    "When I asked for feedback I was told to keep my head down.",
    "Café staff don't get breaks — it's 12-hour shifts with no cover.",
]


def main() -> int:
    import sentence_transformers
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(1)
    model = SentenceTransformer(sys.argv[1], device="cpu")
    embeddings = model.encode(TEXTS, batch_size=4)
    print(json.dumps({
        "sentence_transformers": sentence_transformers.__version__,
        "torch": torch.__version__,
        "texts": TEXTS,
        "embeddings": [[round(float(v), 6) for v in row] for row in embeddings],
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
