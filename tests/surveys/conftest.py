"""Shared survey test data and fixtures."""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

from flask import Flask

from core.db import Database
from surveys import definition as definitions
from surveys import services


def import_equality_pulse(app: Flask, database: Database, tmp_path: Path, csv_text: str) -> int:
    """Import ``csv_text`` into the equality pulse through the CLI; return the survey's id."""
    (tmp_path / "d.toml").write_text(definitions.template_text("equality-pulse"))
    (tmp_path / "r.csv").write_text(csv_text)
    imported = app.test_cli_runner().invoke(
        args=["survey", "import", str(tmp_path / "d.toml"), str(tmp_path / "r.csv")])
    assert imported.exit_code == 0, imported.output
    with database.session() as db:
        return services.find_survey(db, "equality-pulse").id


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


def stored_responses(db, wave_id: int) -> int:
    """Responses stored for a wave, pending or settled (see core.unlinkable)."""
    from sqlalchemy import func, select

    from core.unlinkable import PendingRecord, Record

    stream = f"survey:{wave_id}"
    return sum(int(db.scalar(select(func.count()).select_from(t).where(t.stream == stream)))
               for t in (PendingRecord, Record))


def settled_responses(db, settings, wave) -> tuple[services.Response, ...]:
    """Every stored response of a wave, after settling what is pending."""
    from core import unlinkable

    unlinkable.settle(db, stream=services.stream_of(wave), settings=settings, force=True)
    return services.wave_responses(db, wave_=wave, settings=settings)
