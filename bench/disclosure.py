"""Benchmark: deciding and auditing the release of a closed wave, and what it costs in
information next to a k-only release of the same data (not a test).

1. Generates a closed wave of N synthetic survey responses (seeded; default 2,000 and 20,000)
   with the survey's breakdowns: ethnicity (the five ONS groups and unknown), pay band (13),
   staff group (9), directorate (12), sex, age band (6), disability and education outside the
   UK (each with unknown), skewed frequencies, band depending on staff group, and one 5-option
   answer that depends a little on ethnicity and band.
2. K-ONLY (the baseline, same run): every group of the query space (everyone, each value of
   each breakdown, ethnicity or White / Global majority by each other breakdown) is shown with
   its answers when it has k or more people; the time is counting and thresholding them.
3. AUDITED: `analysis.disclosure` decides the wave's release over the same query space and
   proves it by integer programming (HiGHS), from a fresh population each time (best of
   ``--repeat``).
4. Prints the times, the ratio audited / k-only, and the information loss: of the figures the
   k-only rule shows (each group's count, and its answers, for groups of k or more), the share
   the audited release still shows exactly; how many it shows as a range instead, with the mean
   width of those ranges ("between 40 and 49" is 10 wide); how many it hides. Groups of fewer
   than k are "fewer than k" in the audited release and hidden in the k-only one.

Run: ``.venv/bin/python bench/disclosure.py [--responses 2000 20000] [--seed 2024] [--k 11]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from analysis.disclosure import Policy, Population  # noqa: E402

T = TypeVar("T")

OPTIONS = ["strongly-disagree", "disagree", "neither", "agree", "strongly-agree"]
CATEGORIES = {
    "ethnicity": (["white", "asian", "black", "mixed", "other"], [70, 13, 9, 3, 2]),
    "band": (["1", "2", "3", "4", "5", "6", "7", "8a", "8b", "8c", "8d", "9", "vsm"],
             [1, 6, 10, 10, 22, 20, 15, 7, 4, 2, 1, 1, 1]),
    "staff_group": (["apst", "acs", "admin", "ahp", "estates", "hcs", "medical", "nursing",
                     "students"], [5, 15, 20, 8, 6, 2, 10, 33, 1]),
    "directorate": ([f"d{i}" for i in range(12)], [30, 25, 20, 15, 12, 10, 8, 6, 5, 4, 3, 1]),
    "sex": (["female", "male"], [77, 23]),
    "age_band": (["16-20", "21-30", "31-40", "41-50", "51-65", "66+"], [2, 22, 27, 25, 23, 1]),
    "disability": (["yes", "no"], [20, 80]),
    "internationally_educated": (["yes", "no"], [18, 82]),
}
UNKNOWN_SHARE = 0.04
POLICY_GROUPING = ("ethnic_group", "ethnicity", tuple(
    (e, "white" if e == "white" else "global-majority") for e in CATEGORIES["ethnicity"][0]))


def wave(n: int, seed: int) -> list[tuple[object, ...]]:
    """Atoms ``(wave, each breakdown..., answer, count)`` of one closed wave of ``n`` people."""
    rng = np.random.default_rng(seed)
    columns = []
    for name, (values, weights) in CATEGORIES.items():
        p = np.array(weights, dtype=float) / sum(weights)
        chosen = rng.choice(len(values), size=n, p=p)
        if name == "band":  # staff groups sit in some bands: shift students down, medics up
            chosen = np.clip(chosen + rng.integers(-1, 2, size=n), 0, len(values) - 1)
        labels = np.array(values, dtype=object)[chosen]
        labels[rng.random(n) < UNKNOWN_SHARE] = None
        columns.append(labels)
    lean = (np.array([v != "white" for v in columns[0]]) * 0.6
            + np.array([v in ("8a", "8b", "8c", "8d", "9", "vsm") for v in columns[1]]) * -0.5)
    score = np.clip(np.round(rng.normal(2.6 - lean, 1.1)), 0, 4).astype(int)
    rows: dict[tuple[object, ...], int] = {}
    for i in range(n):
        key = ("closed", *(c[i] for c in columns), OPTIONS[score[i]])
        rows[key] = rows.get(key, 0) + 1
    return [(*key, count) for key, count in rows.items()]


def best(repeat: int, run: Callable[[], T]) -> tuple[float, T]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    assert result is not None
    return min(times), result


def k_only(atoms: list[tuple[object, ...]], k: int) -> dict[tuple[object, ...], tuple[int, bool]]:
    """Every group of the query space: (its size, whether a k-only rule shows it)."""
    names = list(CATEGORIES)
    hub = names.index("ethnicity")
    grouping = dict(POLICY_GROUPING[2])
    sizes: dict[tuple[object, ...], int] = {}
    for row in atoms:
        values, count = row[1:-2], int(row[-1])  # type: ignore[call-overload]
        eth = values[hub] or "unknown"
        hubs: list[tuple[str, object] | None] = [("ethnicity", eth), None]
        if grouping.get(str(eth)) == "global-majority":  # White and unknown are ethnicity values
            hubs.append(("ethnic_group", "global-majority"))
        for h in hubs:
            spokes = [(name, values[j] or "unknown") for j, name in enumerate(names) if j != hub]
            for spoke in (None, *spokes):
                key = tuple(x for x in (h, spoke) if x is not None)
                sizes[key] = sizes.get(key, 0) + count
    return {key: (n, n >= k) for key, n in sizes.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--responses", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--k", type=int, default=11)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    policy = Policy(k=args.k, hub="ethnicity", groupings=(POLICY_GROUPING,), wave_dim="wave")
    categories = {name: values for name, (values, _) in CATEGORIES.items()}
    dims = ["wave", *CATEGORIES]
    print(f"k = {args.k}; one question, one closed wave; query space: everyone, one breakdown, "
          "ethnicity (or White / Global majority) by one other breakdown")
    for n in args.responses:
        atoms = wave(n, args.seed)
        baseline, truth = best(args.repeat, lambda atoms=atoms: k_only(atoms, args.k))

        def audited(atoms: list[tuple[object, ...]] = atoms) -> object:
            population = Population.from_counts(atoms, dims, categories)
            return population.decision(policy, "closed")

        seconds, decision = best(args.repeat, audited)
        levels = decision.level  # type: ignore[attr-defined]
        shown_answers = decision.answers  # type: ignore[attr-defined]
        sizes = decision.n  # type: ignore[attr-defined]
        big = [g for g in levels if sizes[g] >= args.k]
        exact = [g for g in big if levels[g] == 0]
        ranged = [g for g in big if 0 < levels[g] < 5]
        hidden = [g for g in big if levels[g] == 5]
        widths = [decision.interval(g, args.k)[1] - decision.interval(g, args.k)[0]  # type: ignore[attr-defined]
                  for g in ranged]
        answers_kept = sum(1 for g in big if shown_answers[g])
        k_only_shown = sum(1 for _, shown in truth.values() if shown)
        kept = (len(exact) + answers_kept) / (2 * len(big)) if big else 1.0
        print(f"\n{n:,} responses: {len(levels):,} groups in the query space "
              f"({len(truth):,} of them non-empty), {len(big):,} of {args.k} or more")
        print(f"  k-only release:   {baseline * 1000:9.1f} ms   shows {k_only_shown:,} groups "
              "exactly with their answers; every group below k hidden, zeros shown")
        print(f"  audited release:  {seconds * 1000:9.1f} ms   ratio audited / k-only "
              f"{seconds / baseline:,.0f}x")
        print(f"  of the figures k-only shows, audited still shows exactly: {kept:.1%} "
              f"(counts {len(exact) / max(len(big), 1):.1%}, answers "
              f"{answers_kept / max(len(big), 1):.1%})")
        mean_width = sum(widths) / len(widths) if widths else 0.0
        print(f"  counts shown as a range instead: {len(ranged)} (mean width {mean_width:.1f}); "
              f"hidden: {len(hidden)}")


if __name__ == "__main__":
    main()
