"""Benchmark: making invitation codes for a wave, as the EDI lead's "Download codes" does.

Times `surveys.services.generate_codes` (committed) for ``--count`` codes (default 5,000) on a
fresh SQLite file and, with ``--postgresql-url``, on a fresh PostgreSQL schema, beside the
baseline measured in the same run: the first release's way of storing the same rows (one ORM
object per row, ``Session.add_all``), which took about 1.9 s for 5,000 codes in issue 12. Each is
the median of ``--runs`` runs; the ratio is baseline / now.

    .venv/bin/python bench/survey_codes.py [--count 5000] [--runs 3]
        [--postgresql-url postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from scratch import database_urls  # noqa: E402  (bench/, the script's folder)

from config.settings import Settings, load_settings  # noqa: E402
from core.db import Database  # noqa: E402
from core.encryption import keyed_digest, new_id  # noqa: E402
from core.migrate import upgrade  # noqa: E402
from surveys import definition as definitions  # noqa: E402
from surveys import services  # noqa: E402
from surveys.models import InvitationCode, IssuedCode, SurveyWave  # noqa: E402


def orm_baseline(db, *, wave_: SurveyWave, count: int, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    """The first release's storage of ``count`` codes: one ORM object per row."""
    key = services._code_key(settings)
    codes = [secrets.token_hex(6).upper() for _ in range(count)]
    digests = [keyed_digest(key, c) for c in codes]
    db.add_all(InvitationCode(id=new_id(), wave_id=wave_.id, code_digest=d) for d in digests)
    secrets.SystemRandom().shuffle(digests)
    db.add_all(IssuedCode(id=new_id(), wave_id=wave_.id, code_digest=d) for d in digests)
    db.flush()


def _time(database: Database, settings: Settings, count: int, label: str, baseline: bool) -> float:
    with database.session() as db:
        survey = services.find_survey(db, "equality-pulse")
        wave_ = services.wave(db, survey, label)
        db.commit()
        start = time.perf_counter()
        if baseline:
            orm_baseline(db, wave_=wave_, count=count, settings=settings)
        else:
            services.generate_codes(db, wave_=wave_, count=count, actor="bench", settings=settings)
        db.commit()
        return time.perf_counter() - start


def run(url: str, count: int, runs: int, instance: Path) -> tuple[float, float]:
    settings = load_settings({"SPEAKUP_ENV": "test", "SPEAKUP_KDF": "fast", "DATABASE_URL": url,
                              "SPEAKUP_INSTANCE_DIR": str(instance)})
    database = Database.from_settings(settings)
    upgrade(database.engine, settings)
    with database.session() as db:
        services.save_survey(db, definition_text=definitions.template_text("equality-pulse"),
                             settings=settings, actor="bench")
        db.commit()
    base, now = [], []
    for i in range(runs):
        base.append(_time(database, settings, count, f"baseline {i}", baseline=True))
        now.append(_time(database, settings, count, f"now {i}", baseline=False))
    database.dispose()
    return statistics.median(base), statistics.median(now)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgresql-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, \
            database_urls(tmp, args.postgresql_url, "bench_codes") as targets:
        print(f"{args.count:,} codes, median of {args.runs} runs")
        for name, url in targets:
            base, now = run(url, args.count, args.runs, Path(tmp) / name)
            print(f"{name:11} baseline (ORM rows) {base:6.3f} s   now {now:6.3f} s   "
                  f"{base / now:4.1f}x faster")


if __name__ == "__main__":
    main()
