"""Shared survey test data."""

from __future__ import annotations

import csv
import io
import random

from surveys import definition as definitions


def population_csv(seed: int = 3, rows: int = 300) -> str:
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["wave", "roles_fair", "fair_progression", "harassment_public", "ethnicity",
                     "band", "directorate"])
    for _ in range(rows):
        writer.writerow([
            rng.choice(["W1", "W2"]),
            rng.choice([o for o, _ in definitions.AGREEMENT]),
            rng.choice(["yes", "no", "dont-know"]),
            rng.choice(["never", "1-2", "3-5"]),
            rng.choice(["white-british", "white-irish", "asian-indian", "black-african",
                        "prefer-not", ""]),
            rng.choice(["5", "6", "7", "8a"]),
            rng.choice(["medicine", "surgery", "corporate"]),
        ])
    # A small group: three band 9 staff who all disagree.
    for _ in range(3):
        writer.writerow(["W1", "strongly-disagree", "no", "3-5", "black-african", "9",
                         "medicine"])
    return out.getvalue()
