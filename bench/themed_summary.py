"""Benchmark: the EDI lead's themed summary of concerns at scale, before and after keeping it.

Builds a fresh database (SQLite by default; ``--postgresql-url`` for a fresh schema on a
PostgreSQL server) with ``--concerns`` made-up concerns (default 20,000) over the eight
quarters before the current one: each one's equality facts (site, professional group,
ethnicity, one or two themes with scores, tone, and for 40% a consented extract of about 200
characters) sealed to the analysis key and written as settled unlinkable records, as
`speakup.analytics.record_new` leaves them. An EDI lead signs in (Flask test client, the real
staff app) and asks for ``GET /staff/themes/?by=site`` (the latest quarter, by site).

Three figures, in one run, server time per request (median of ``--runs``):

* **uncached** (the baseline): the view as it was before the sealed cache: every request opens
  every concern's facts, tags and redacts the quotes and finds the phrases (the cache's load and
  store are switched off);
* **first**: the first view after the quarter ended (nothing kept yet): the same work, plus
  sealing the summary to the analysis key and storing it;
* **warm**: every later view: one sealed row opened with the EDI lead's analysis key.

    .venv/bin/python bench/themed_summary.py [--concerns 20000] [--runs 5]
        [--postgresql-url postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch import database_urls  # noqa: E402  (bench/, the script's folder)
from sqlalchemy import delete  # noqa: E402

from accounts import orgkeys  # noqa: E402
from config.settings import Settings, load_settings  # noqa: E402
from core import create_app, unlinkable  # noqa: E402
from core.db import Database  # noqa: E402
from core.db import today as utc_today  # noqa: E402
from core.encryption import pad  # noqa: E402
from core.migrate import upgrade  # noqa: E402
from core.themes import engine as theme_engine  # noqa: E402
from equality import summary_cache, themes  # noqa: E402
from speakup import analytics  # noqa: E402
from tests.conftest import login, make_staff  # noqa: E402

SENTENCES = [
    "Promotions go to the manager's friends and it is all about who you know here.",
    "The band 6 post was never advertised and went to someone already acting up.",
    "I was belittled by my line manager in front of colleagues on the ward.",
    "Racist remarks about my accent are laughed off by the team leader.",
    "Nobody listens when we raise staffing levels on nights, it is unsafe for patients.",
    "I am scared to speak up because the last person who did was moved to another ward.",
    "There is no time for training and my appraisal has been cancelled twice.",
    "The rota is changed at short notice and the same people always get the good shifts.",
    "Call Jo on 07700 900123 or email jo.bloggs@nhs.net about what happened on Ward 7B.",
]


def _facts(rng: random.Random, settings: Settings, theme_ids: list[str],
           quarters: list[date]) -> dict[str, object]:
    start = rng.choice(quarters)
    month = date(start.year + (start.month + rng.randrange(3) - 1) // 12,
                 (start.month + rng.randrange(3) - 1) % 12 + 1, 1)
    sites = [s for s, _ in settings.organisation.sites]
    groups = [g for g, _ in settings.organisation.professional_groups]
    chosen = rng.sample(theme_ids, rng.choice((1, 1, 2)))
    quote = None
    if rng.random() < 0.4:
        quote = " ".join(rng.sample(SENTENCES, 2)) + f" ({rng.randrange(10_000)})"
    facts = analytics.facts_for(
        received_on=month, site=rng.choice(sites), professional_group=rng.choice(groups),
        ethnicity=rng.choice(["white-british", "asian-indian", "black-african", None]),
        kind="other", raised="anonymous",
        themes={t: round(rng.uniform(0.3, 1.0), 4) for t in chosen},
        tone=round(rng.uniform(-1, 1), 2), quote=quote)
    return facts.to_json()


def build(database: Database, settings: Settings, count: int, seed: int) -> None:
    """``count`` concerns' facts over the eight quarters before this one, settled."""
    rng = random.Random(seed)
    current = themes.quarter_start(utc_today())
    quarters = [themes.add_months(current, -3 * i) for i in range(1, 9)]
    with database.session() as db:
        theme_ids = [t.id for t in theme_engine(db, settings).taxonomy.themes]
        payloads = []
        for _ in range(count):
            body = json.dumps({"plus": _facts(rng, settings, theme_ids, quarters)},
                              separators=(",", ":"), sort_keys=True).encode()
            payloads.append(orgkeys.seal_for_analysis(db, settings, pad(body, minimum=2048),
                                                      purpose="concern-facts"))
        unlinkable.add_many(db, stream=analytics.STREAM, payloads=payloads, settings=settings)


def _median_time(request: Callable[[], None], runs: int, before: Callable[[], None]) -> float:
    times = []
    for _ in range(runs):
        before()
        start = time.perf_counter()
        request()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(url: str, count: int, runs: int, instance: Path, seed: int) -> tuple[float, float, float]:
    settings = load_settings({"SPEAKUP_ENV": "test", "SPEAKUP_KDF": "fast", "DATABASE_URL": url,
                              "SPEAKUP_INSTANCE_DIR": str(instance)})
    database = Database.from_settings(settings)
    upgrade(database.engine, settings)
    eddie = make_staff(database, settings, "Eddie Edi", role="edi")
    print(f"  building {count:,} concerns ...", flush=True)
    build(database, settings, count, seed)
    client = create_app(settings, database).test_client()
    login(client, eddie)

    def view() -> None:
        response = client.get("/staff/themes/?by=site")
        assert response.status_code == 200, response.data[:500]
        assert b"Themes in quarter" in response.data

    def forget() -> None:
        with database.session() as db:
            db.execute(delete(summary_cache.CachedSummary))

    view()  # warm the process: engine, templates, disclosure code
    load, store = summary_cache.load, summary_cache.store
    summary_cache.load = lambda *a, **k: None  # type: ignore[assignment]
    summary_cache.store = lambda *a, **k: None  # type: ignore[assignment]
    try:
        uncached = _median_time(view, runs, lambda: None)
    finally:
        summary_cache.load, summary_cache.store = load, store
    first = _median_time(view, runs, forget)
    warm = _median_time(view, runs, lambda: None)
    database.dispose()
    return uncached, first, warm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--concerns", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--postgresql-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, \
            database_urls(tmp, args.postgresql_url, "bench_themes") as targets:
        print(f"themed summary of {args.concerns:,} concerns, GET /staff/themes/?by=site, "
              f"median of {args.runs}")
        for name, url in targets:
            print(f"{name}:", flush=True)
            uncached, first, warm = run(url, args.concerns, args.runs, Path(tmp) / name,
                                        args.seed)
            print(f"  uncached (baseline) {uncached:7.3f} s")
            print(f"  first view          {first:7.3f} s   ({first / uncached:.2f}x the "
                  "baseline: the same work, plus sealing and storing it)")
            print(f"  warm view           {warm:7.3f} s   ({uncached / warm:.0f}x faster "
                  f"than the baseline; target < 0.3 s: "
                  f"{'met' if warm < 0.3 else 'NOT met'})")


if __name__ == "__main__":
    main()
