"""Benchmark: what disclosure control costs next to the SQL it protects (not a test).

1. Generates N synthetic survey responses (seeded; default 1,000,000) with dimensions wave (4),
   directorate (12), band (13), ethnicity group (5 including unknown), staff group (9) and age
   band (6), and one 5-option answer, with skewed (realistic) frequencies and band depending on
   staff group, into a temporary SQLite file: one table
   ``responses(wave, directorate, band, ethnicity, staff_group, age_band, answer)`` and the index a
   real deployment also has, on ``wave`` (results are always read one wave at a time).
2. BASELINE: ``SELECT directorate, band, answer, COUNT(*) ... WHERE wave = ? GROUP BY
   directorate, band, answer``, the same table without disclosure control; best of 5.
3. WITH CONTROL: the atoms query disclosure control needs (``GROUP BY`` every dimension and the
   answer, all waves, since differencing looks across waves) plus ``Population.from_counts`` plus
   ``release(by=["directorate", "band"], where={"wave": ...})``; best of 5. Then the control step
   alone (population build + release, no SQL), best of 5, each run on a fresh population so the
   decisions for the whole query space are recomputed every time.
4. Prints rows, times in ms, the ratio "control / baseline query" (target < 1.0 for the control
   step alone) and how many cells each rule suppressed, in the table and in the query space.

Run: ``.venv/bin/python bench/disclosure.py [--responses 1000000] [--seed 2024] [--k 11]``.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from analysis.disclosure import Policy, Population, Release, release  # noqa: E402

T = TypeVar("T")

WAVES = ["2022", "2023", "2024", "2025"]
DIRECTORATES = [
    "Medicine", "Surgery", "Women and Children", "Emergency", "Diagnostics", "Community",
    "Mental Health", "Estates", "Corporate", "Research", "Pharmacy", "Executive",
]  # fmt: skip
DIRECTORATE_WEIGHTS = [30, 25, 20, 15, 12, 10, 8, 6, 5, 4, 3, 1]
BANDS = ["1", "2", "3", "4", "5", "6", "7", "8a", "8b", "8c", "8d", "9", "VSM"]
ETHNICITIES = ["White", "Asian", "Black", "Mixed or other", "unknown"]
ETHNICITY_WEIGHTS = [70, 13, 9, 4, 4]
STAFF_GROUPS = [
    "Add Prof Scientific and Technical", "Additional Clinical Services", "Administrative and Clerical",
    "Allied Health Professionals", "Estates and Ancillary", "Healthcare Scientists",
    "Medical and Dental", "Nursing and Midwifery Registered", "Students",
]  # fmt: skip
STAFF_WEIGHTS = [5, 15, 20, 8, 6, 2, 10, 33, 1]
# Band weights by staff group: students sit in band 1-3, medics mostly outside AfC bands (shown as VSM
# here for simplicity), registered nurses 5-8a, and so on.
BAND_WEIGHTS = {
    "Add Prof Scientific and Technical": [0, 1, 3, 5, 10, 12, 10, 5, 2, 1, 0.5, 0.2, 0],
    "Additional Clinical Services": [1, 25, 35, 25, 8, 3, 1, 0.2, 0, 0, 0, 0, 0],
    "Administrative and Clerical": [1, 15, 25, 20, 12, 8, 6, 5, 3, 2, 1, 0.5, 0.5],
    "Allied Health Professionals": [0, 0, 1, 2, 25, 35, 25, 7, 3, 1, 0.3, 0.1, 0],
    "Estates and Ancillary": [5, 40, 25, 15, 8, 4, 2, 1, 0.3, 0.1, 0, 0, 0],
    "Healthcare Scientists": [0, 0, 2, 5, 15, 25, 25, 15, 8, 3, 1, 0.5, 0],
    "Medical and Dental": [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    "Nursing and Midwifery Registered": [0, 0, 0, 0, 35, 35, 20, 6, 2, 1, 0.5, 0.1, 0.1],
    "Students": [30, 40, 30, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
}
AGE_BANDS = ["16-20", "21-30", "31-40", "41-50", "51-65", "66+"]
AGE_WEIGHTS = [2, 22, 26, 24, 24, 2]
ANSWERS = ["Strongly disagree", "Disagree", "Neither", "Agree", "Strongly agree"]
ANSWER_WEIGHTS = [8, 15, 27, 32, 18]
FAVOURABLE = {"Agree", "Strongly agree"}
DIMENSIONS = ["wave", "directorate", "band", "ethnicity", "staff_group", "age_band"]
BASELINE_SQL = (
    "SELECT directorate, band, answer, COUNT(*) FROM responses WHERE wave = ? "
    "GROUP BY directorate, band, answer"
)
ATOMS_SQL = (
    "SELECT wave, directorate, band, ethnicity, staff_group, age_band, answer, COUNT(*) "
    "FROM responses GROUP BY wave, directorate, band, ethnicity, staff_group, age_band, answer"
)


def generate(path: Path, responses: int, seed: int) -> None:
    """Fill a fresh SQLite file with ``responses`` synthetic answers to one question."""
    rng = random.Random(seed)
    staff = rng.choices(STAFF_GROUPS, STAFF_WEIGHTS, k=responses)
    band_of = {group: rng.choices(BANDS, BAND_WEIGHTS[group], k=responses) for group in STAFF_GROUPS}
    rows = zip(
        rng.choices(WAVES, k=responses),
        rng.choices(DIRECTORATES, DIRECTORATE_WEIGHTS, k=responses),
        (band_of[group][i] for i, group in enumerate(staff)),
        rng.choices(ETHNICITIES, ETHNICITY_WEIGHTS, k=responses),
        staff,
        rng.choices(AGE_BANDS, AGE_WEIGHTS, k=responses),
        rng.choices(ANSWERS, ANSWER_WEIGHTS, k=responses),
        strict=True,
    )
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE responses (wave TEXT NOT NULL, directorate TEXT NOT NULL, band TEXT NOT NULL,"
            " ethnicity TEXT, staff_group TEXT NOT NULL, age_band TEXT, answer TEXT)"
        )
        db.executemany("INSERT INTO responses VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        db.execute("CREATE INDEX ix_responses_wave ON responses (wave)")
    db.close()


def best_of(runs: int, work: Callable[[], T]) -> tuple[float, T]:
    """The fastest of ``runs`` calls in milliseconds, and the last result."""
    best = float("inf")
    result: T | None = None
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        best = min(best, (time.perf_counter() - started) * 1000)
    assert result is not None
    return best, result


def control(rows: list[tuple[object, ...]], policy: Policy, wave: str) -> Release:
    """The disclosure-control step: build the population and release the table."""
    population = Population.from_counts(rows, DIMENSIONS)
    return release(
        population,
        by=["directorate", "band"],
        where={"wave": wave},
        policy=policy,
        options=ANSWERS,
        favourable=FAVOURABLE,
    )


def census(population: Population, policy: Policy) -> Counter[str]:
    """How every group of the query space fared (pooled and per wave; filter = directorate)."""
    from analysis.disclosure import _REASONS

    verdicts = population._decisions(policy, population._space(policy))
    fates: Counter[str] = Counter()
    for dims, suppressed in verdicts.suppressed.items():
        size = population._tables.sizes(dims)
        hidden = verdicts.hidden[dims]
        reasons = verdicts.reasons[dims]
        fates["groups"] += int(size.size)
        fates["empty, shown as 0"] += int((size == 0).sum())
        fates["shown in full"] += int(((size > 0) & ~hidden).sum())
        for code, name in _REASONS.items():
            fates[f"n suppressed: {name}"] += int((suppressed & (reasons == code)).sum())
            fates[f"n shown, distribution hidden: {name}"] += int(
                (hidden & ~suppressed & (reasons == code)).sum()
            )
    return fates


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--k", type=int, default=11)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    policy = Policy(k=args.k, filter_dims=frozenset({"directorate"}), wave_dim="wave")
    wave = WAVES[-1]

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "survey.sqlite"
        started = time.perf_counter()
        generate(path, args.responses, args.seed)
        print(
            f"generated {args.responses:,} responses in {time.perf_counter() - started:.1f} s ({path.name})"
        )
        db = sqlite3.connect(path)
        try:
            baseline_ms, baseline_rows = best_of(
                args.runs, lambda: db.execute(BASELINE_SQL, (wave,)).fetchall()
            )
            atoms_ms, atoms = best_of(args.runs, lambda: db.execute(ATOMS_SQL).fetchall())

            def with_control() -> Release:
                return control(db.execute(ATOMS_SQL).fetchall(), policy, wave)

            total_ms, _ = best_of(args.runs, with_control)
        finally:
            db.close()

    build_ms, population = best_of(args.runs, lambda: Population.from_counts(atoms, DIMENSIONS))
    control_ms, table = best_of(args.runs, lambda: control(atoms, policy, wave))
    fates = census(population, policy)

    def line(step: str, rows: int, ms: float) -> None:
        print(f"{step:58s} {rows:9,d} {ms:9.1f}")

    print(f"policy: k={policy.k}, filter dims {sorted(policy.filter_dims)}, wave dim {policy.wave_dim!r}")
    print(f"{'step':58s} {'rows':>9s} {'ms':>9s}")
    line("BASELINE  GROUP BY directorate, band, answer (one wave)", len(baseline_rows), baseline_ms)
    line("          atoms query (GROUP BY all dimensions, answer)", len(atoms), atoms_ms)
    line("          Population.from_counts alone", len(atoms), build_ms)
    line("CONTROL   from_counts + release (rows = cells)", len(table.cells), control_ms)
    line("WITH CONTROL  atoms query + from_counts + release", len(table.cells), total_ms)
    print(f"ratio control / baseline query:                {control_ms / baseline_ms:6.2f}  (target < 1.0)")
    print(f"ratio with control (SQL too) / baseline query: {total_ms / baseline_ms:6.2f}")

    shown = sum(1 for cell in table.cells if not cell.suppressed and cell.counts is not None)
    by_reason = Counter(
        f"{'n suppressed' if cell.suppressed else 'n shown, distribution hidden'}: {cell.reason}"
        for cell in table.cells
        if cell.reason is not None
    )
    empty = sum(1 for cell in table.cells if cell.n == 0)
    print(f"\ntable directorate x band, wave {wave}: {len(table.cells)} cells (total, margins, interior)")
    print(f"  shown in full: {shown} (of which empty: {empty})")
    for name, count in sorted(by_reason.items()):
        print(f"  {name}: {count}")
    print(f"whole query space: {fates['groups']:,} groups")
    for name, count in sorted(fates.items()):
        if name != "groups" and count:
            print(f"  {name}: {count:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
