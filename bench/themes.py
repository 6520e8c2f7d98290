"""Benchmark: theme tagging throughput and memory, beside NLTK's VADER and sentence-transformers (not a test).

1. Generates N synthetic staff comments (default 20,000; seeded) by recombining phrase
   fragments: 1 to 4 sentences each, mixing theme paraphrases, negated and hedged mentions,
   neutral workplace sentences and some typos. Comments are generated lazily and never held.
2. Runs each pass in its own subprocess pinned to one CPU core, over the same N comments:
   * ``generate``: generating the comments only (subtracted from the others as overhead);
   * ``nltk-vader``: NLTK's VADER ``polarity_scores`` with the stock lexicon (the baseline of
     rounds 1-4);
   * ``rules``: the rule layer alone (tokens, stems, scopes, patterns);
   * ``themes``: rules and n-gram layer, no embeddings, no tone (one comment at a time);
   * ``encoder``: the embedding layer's encoder alone (onnxruntime int8, batches of 64 comments);
   * ``pipeline``: everything the ``tag`` command does, a batch of 64 rows at a time: rules,
     n-grams, embeddings, tone (``ThemeEngine.tag_rows``);
   * ``pipeline+jsonl``: the same plus building the JSON line the CLI writes;
   * ``sentence-transformers``: sentence-transformers with torch on CPU (one thread) encoding the
     same comments with the same model (all-MiniLM-L6-v2 from the pinned package's folder),
     1,024 comments per ``encode`` call with its default batch size 32 (it sorts them by
     length). Runs only where torch and sentence-transformers import, in this interpreter or
     the one ``--torch-python`` names (a throwaway virtualenv: the app never needs torch);
     otherwise the pass is reported as skipped.
3. Prints per pass: CPU seconds net of generation, comments per CPU-second, microseconds per
   comment, peak resident memory (ru_maxrss of that subprocess), and the time relative to NLTK's
   VADER; then the targets: the whole pipeline at least 250 comments per CPU-second, and faster
   than sentence-transformers' encoding alone.

Run: ``.venv/bin/python bench/themes.py [--n 20000] [--seed 7] [--core 0] [--torch-python PATH]``.

Measured 2026-11-26 with the round 4 taxonomy and model (2,173 training comments, 7,239
features), 1,000,000 comments per pass, 2-core VM: NLTK's VADER 126 us/comment; theme matching
(rules + model) 92 us (0.73x); rules alone 51 us (0.40x); whole pipeline with tone 175 us (1.39x),
183 us with the JSON line (1.46x); peak RSS 67 MiB for every theme pass (flat). Round 3's engine
measured 0.68x and 1.40x the same way.

Measured 2026-12-03 with the embedding layer (issue 10), see the figures in bench/README.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

THEME_FRAGMENTS = [
    "jobs go to the manager's friends",
    "it's all about who you know here",
    "the same people always get the overtime",
    "the band 6 went to her best mate",
    "favouritism is rife in this department",
    "I have been overlooked for promotion again",
    "I trained her and now she's my boss",
    "I've been stuck on band 5 for eight years",
    "I've stopped applying for promotions",
    "the post was never advertised",
    "the interview was a formality, the job was earmarked",
    "secondments are handed out quietly",
    "they said I didn't have UK experience",
    "international nurses get the worst shifts",
    "people who look like me don't get on here",
    "there is racism in the staff room",
    "my manager shouts at me in front of patients",
    "I'm being bullied by a senior colleague",
    "the consultant belittles the junior staff",
    "there's no point raising it, nothing happens",
    "I'm scared to speak up in case I lose my job",
    "people who raise concerns get labelled troublemakers",
    "nothing will change after this survey",
    "I haven't had an appraisal in two years",
    "study leave is always refused",
    "there is no training for support staff",
    "patients are at risk on nights",
    "we had several near misses with medication",
    "observations are not being done on time",
    "we are short staffed every single shift",
    "the workload is unmanageable",
    "I can't remember the last time I had a break",
]
NEGATED_FRAGMENTS = [
    "I have never been bullied here",
    "there is no favouritism in our team",
    "I don't have any concerns about patient safety",
    "I'm not afraid to raise concerns",
    "all roles are advertised openly",
    "if I was bullied I would know who to tell",
]
NEUTRAL_FRAGMENTS = [
    "the car park is always full in the morning",
    "the canteen closes too early for night staff",
    "my team is lovely and we help each other",
    "the new rostering system keeps crashing",
    "pay has not kept up with the cost of living",
    "I enjoy working with patients and their families",
    "the wifi in the staff room doesn't work",
    "handover takes too long on the ward",
    "thank you to my manager for being so supportive",
    "the uniforms are too hot in summer",
    "more flexible working would help with childcare",
    "we moved to a new building last year",
]
OPENERS = ["", "", "", "Honestly, ", "To be honest ", "Maybe it's just me but ", "As a nurse, ",
           "On nights ", "In our team ", "tbh "]
CLOSERS = [".", ".", ".", "!", "...", ". Please do something.", ". It has been like this for years.",
           ". Nobody seems to care.", ". Thanks."]
TYPOS = {"favouritism": "favoritism", "manager": "manger", "promotion": "promtion", "bullied": "bulied"}


def comments(n: int, seed: int) -> Iterator[tuple[str, str]]:
    """``(id, text)`` for n synthetic comments, generated lazily and deterministically."""
    rng = random.Random(seed)
    pools = [THEME_FRAGMENTS] * 5 + [NEGATED_FRAGMENTS] + [NEUTRAL_FRAGMENTS] * 3
    for i in range(n):
        sentences = []
        for _ in range(rng.choice((1, 1, 2, 2, 2, 3, 4))):
            fragment = rng.choice(rng.choice(pools))
            if rng.random() < 0.05:
                for right, wrong in TYPOS.items():
                    fragment = fragment.replace(right, wrong)
            text = rng.choice(OPENERS) + fragment + rng.choice(CLOSERS)
            sentences.append(text[0].upper() + text[1:] if rng.random() < 0.8 else text)
        yield str(i), " ".join(sentences)


def _batched(name: str, model_folder: str) -> Callable[[Iterator[tuple[str, str]]], Iterator[object]]:
    """For the batch passes: a function from the comments to one result per comment."""
    if name == "sentence-transformers":
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(1)
        model = SentenceTransformer(model_folder, device="cpu")

        def encode_all(rows: Iterator[tuple[str, str]]) -> Iterator[object]:
            while chunk := [text for _id, text in itertools.islice(rows, 1024)]:
                yield from model.encode(chunk, batch_size=32)

        return encode_all

    from analysis.themes.engine import ThemeEngine

    engine = ThemeEngine.default()
    if name == "encoder":
        assert engine.embeddings is not None
        encoder = engine.embeddings.encoder

        def encode(rows: Iterator[tuple[str, str]]) -> Iterator[object]:
            while chunk := [text for _id, text in itertools.islice(rows, 64)]:
                yield from encoder.encode_texts(chunk)

        return encode
    if name == "pipeline":
        return lambda rows: (tagged for _id, tagged in engine.tag_rows(rows))
    if name == "pipeline+jsonl":
        from analysis.themes_cli import _jsonl

        return lambda rows: (_jsonl(row_id, tagged) for row_id, tagged in engine.tag_rows(rows))
    raise SystemExit(f"unknown pass {name}")


def _pass(name: str) -> Callable[[str], object]:
    """The function a pass applies to each comment (imports kept inside: each pass is a process)."""
    if name == "generate":
        return len
    if name == "nltk-vader":
        from nltk.sentiment.vader import SentimentIntensityAnalyzer, VaderConstants

        from analysis.themes.tone import read_vader_lexicon

        nltk_vader = SentimentIntensityAnalyzer.__new__(SentimentIntensityAnalyzer)
        nltk_vader.lexicon = read_vader_lexicon()
        nltk_vader.constants = VaderConstants()
        return lambda text: nltk_vader.polarity_scores(text)["compound"]

    from analysis.themes.engine import ThemeEngine

    engine = ThemeEngine.default(with_embeddings=False)
    if name == "rules":
        return lambda text: engine.matcher.match(engine.matcher.analyse(text))
    if name == "themes":
        return engine.themes
    raise SystemExit(f"unknown pass {name}")


BATCH_PASSES = ["encoder", "pipeline", "pipeline+jsonl", "sentence-transformers"]


def worker(name: str, n: int, seed: int, core: int | None, model_folder: str) -> None:
    """Run one pass and print its figures as one JSON line."""
    if core is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})
    count = 0
    if name in BATCH_PASSES:
        run = _batched(name, model_folder)
        for _result in run(comments(256, seed + 1)):  # warm up outside the measurement
            pass
        wall, cpu = time.perf_counter(), time.process_time()
        for _result in run(comments(n, seed)):
            count += 1
    else:
        apply = _pass(name)
        for _id, text in comments(200, seed + 1):  # warm up caches outside the measurement
            apply(text)
        wall, cpu = time.perf_counter(), time.process_time()
        for _id, text in comments(n, seed):
            apply(text)
            count += 1
    cpu = time.process_time() - cpu
    wall = time.perf_counter() - wall
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"pass": name, "n": count, "cpu": cpu, "wall": wall, "peak_mib": peak_kib / 1024}))


PASSES = ["generate", "nltk-vader", "rules", "themes", "encoder", "pipeline", "pipeline+jsonl",
          "sentence-transformers"]
TORCH_CHECK = "import torch, sentence_transformers"


def _torch_python(requested: str | None) -> str | None:
    """An interpreter where torch and sentence-transformers import, or None."""
    for python in [p for p in (requested, sys.executable) if p]:
        check = subprocess.run([python, "-c", TORCH_CHECK], capture_output=True, check=False)
        if check.returncode == 0:
            return python
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20_000, help="comments per pass (default 20,000)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--core", type=int, default=0, help="CPU core to pin each pass to (-1: no pinning)")
    parser.add_argument("--torch-python", help="interpreter with torch and sentence-transformers "
                        "for the comparison pass (default: this one, if they import)")
    parser.add_argument("--worker", choices=PASSES, help=argparse.SUPPRESS)
    parser.add_argument("--model-folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    core = None if args.core < 0 else args.core
    if args.worker:
        worker(args.worker, args.n, args.seed, core, args.model_folder or "")
        return 0

    from analysis.themes.encoder import pinned_folder

    folder = str(pinned_folder())
    torch_python = _torch_python(args.torch_python)
    pinned = f"core {core}" if core is not None else "unpinned"
    print(f"theme tagging benchmark: {args.n:,} synthetic comments per pass, seed {args.seed}, "
          f"one core ({pinned}), Python {sys.version.split()[0]}")
    sample = next(iter(comments(1, args.seed)))[1]
    print(f"example comment: {sample!r}")
    results: dict[str, dict[str, float]] = {}
    for name in PASSES:
        python = sys.executable
        if name == "sentence-transformers":
            if torch_python is None:
                print("  skipped sentence-transformers: torch and sentence-transformers do not import "
                      "here (give --torch-python PATH)", flush=True)
                continue
            python = torch_python
        completed = subprocess.run(
            [python, __file__, "--worker", name, "--n", str(args.n), "--seed", str(args.seed),
             "--core", str(args.core), "--model-folder", folder],
            capture_output=True, text=True, check=False,
        )
        if completed.returncode != 0:
            print(completed.stderr, file=sys.stderr)
            return 2
        results[name] = json.loads(completed.stdout.strip().splitlines()[-1])
        print(f"  finished {name}: {results[name]['cpu']:.1f} s CPU", flush=True)

    overhead = results["generate"]["cpu"]
    baseline = results["nltk-vader"]["cpu"] - overhead
    print()
    print(f"{'pass':<22} {'CPU s (net)':>11} {'comments/CPU-s':>15} {'us/comment':>11} {'peak MiB':>9} "
          f"{'x NLTK VADER':>13}")
    rates: dict[str, float] = {}
    for name, r in results.items():
        net = r["cpu"] if name == "generate" else r["cpu"] - overhead
        rates[name] = r["n"] / net if net > 0 else float("inf")
        ratio = "" if name == "generate" else f"{net / baseline:13.2f}"
        per_comment = 1e6 * net / r["n"]
        print(f"{name:<22} {net:11.1f} {rates[name]:15,.0f} {per_comment:11.1f} {r['peak_mib']:9.1f} "
              f"{ratio:>13}")
    print()
    pipeline = rates["pipeline"]
    print(f"target 1: whole pipeline (rules, n-grams, embeddings, tone) at least 250 comments per "
          f"CPU-second: {pipeline:,.0f} -> {'met' if pipeline >= 250 else 'NOT met'}")
    if "sentence-transformers" in rates:
        torch_rate = rates["sentence-transformers"]
        print(f"target 2: whole pipeline faster than sentence-transformers (torch, CPU) encoding alone: "
              f"{pipeline:,.0f} vs {torch_rate:,.0f} comments per CPU-second "
              f"({pipeline / torch_rate:.2f}x) -> {'met' if pipeline > torch_rate else 'NOT met'}")
    else:
        print("target 2: not measured (sentence-transformers pass skipped)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
