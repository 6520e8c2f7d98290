"""Benchmark: importing a trust's workforce extracts and computing its indicators (not a test).

For each backend (a temporary SQLite file; PostgreSQL in a schema of its own, dropped at the
end, so it can share a server with test runs):

1. generates the synthetic trust (`analysis.workforce.synthetic`, seeded; default 5,000 staff
   and 20,000 applications) and writes its CSV files;
2. validates the staff and recruitment files alone (no database);
3. imports the previous year's staff, then this year's staff, recruitment, board and targets
   through `equality.services.import_file` (validation, keyed digests, bulk insert, commit),
   and re-imports the recruitment file once (replacing it in the draft);
4. computes every figure: loading the period from the database, `build_report`, and the JSON
   payload with every breakdown through `analysis.disclosure`, best of 3; and the same through
   ``speakup workforce indicators`` in-process (the CLI runner);
5. publishes the period and renders the workforce dashboard as an EDI lead signed in through the
   test client: the first render (no figures in memory: the period and the year before are
   computed) and the warm render (published figures kept in memory), then the board pack.
   Ratios are printed against step 4's "load + compute + JSON payload" measured in the same run.

Run: ``.venv/bin/python bench/workforce.py [--staff 5000] [--applications 20000] [--seed 2026]
[--backend sqlite|postgresql|both] [--postgresql-url URL]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pyotp  # noqa: E402
from flask import Flask  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from accounts import services as accounts  # noqa: E402
from analysis.workforce import formats, synthetic  # noqa: E402
from analysis.workforce.report import build_report  # noqa: E402
from config.settings import Settings, load_settings  # noqa: E402
from core import create_app  # noqa: E402
from core.db import Database  # noqa: E402
from core.migrate import upgrade  # noqa: E402
from equality import payload, services, workforce_views  # noqa: E402

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
T = TypeVar("T")


def timed(label: str, action: Callable[[], T]) -> T:
    start = time.perf_counter()
    result = action()
    print(f"  {label:<52} {1000 * (time.perf_counter() - start):9.0f} ms")
    return result


def best_of(label: str, runs: int, action: Callable[[], object],
            baseline: float | None = None) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    ratio = f"  = {min(times) / baseline:5.2f} x baseline" if baseline else ""
    print(f"  {label:<52} {1000 * min(times):9.0f} ms (best of {runs}){ratio}")
    return min(times)


def sign_in(app: Flask, database: Database, settings: Settings) -> FlaskClient:
    """An EDI lead's session in the test client (as the page tests sign in)."""
    password = "a long bench password 123"
    with database.session() as db:
        new = accounts.create_staff(db, name="Bench Edi", email="bench.edi@example.nhs.uk",
                                    password=password, role="edi", settings=settings)
        secret = new.totp_secret
    client = app.test_client()
    page = client.get("/staff/login").data.decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token is not None
    response = client.post("/staff/login", data={
        "csrf_token": token.group(1), "email": "bench.edi@example.nhs.uk", "password": password,
        "code": pyotp.TOTP(secret).now()})
    if response.status_code != 302:
        raise RuntimeError("the bench could not sign in")
    return client


def run_backend(url: str, trust: synthetic.SyntheticTrust, files: dict[str, Path],
                instance: Path) -> None:
    settings = load_settings({"SPEAKUP_ENV": "test", "SPEAKUP_KDF": "fast", "DATABASE_URL": url,
                              "SPEAKUP_INSTANCE_DIR": str(instance)})
    database = Database.from_settings(settings)
    upgrade(database.engine, settings)
    snapshot = trust.snapshot
    previous = date(snapshot.year - 1, 3, 31)

    def load(kind: str, path: Path, day: date | None) -> None:
        with database.session() as db:
            services.import_file(db, kind=kind, csv_text=path.read_text(), snapshot=day,
                                 settings=settings, actor="bench")

    timed(f"import previous staff ({len(trust.previous_staff):,} rows)",
          lambda: load("staff", files["previous_staff"], previous))
    timed(f"import staff ({len(trust.staff):,} rows)", lambda: load("staff", files["staff"],
                                                                     snapshot))
    timed(f"import recruitment ({len(trust.applications):,} rows)",
          lambda: load("recruitment", files["recruitment"], snapshot))
    timed("re-import recruitment (replaces the draft's)",
          lambda: load("recruitment", files["recruitment"], snapshot))
    timed(f"import board ({len(trust.board)}) and targets ({len(trust.targets)})",
          lambda: (load("board", files["board"], snapshot), load("targets", files["targets"],
                                                                   None)))

    def figures() -> dict[str, object]:
        with database.session() as db:
            period = services.find_period(db, snapshot)
            data = services.load_period(db, period)
            report = build_report(data)
            return payload.workforce_payload(period, report, k=settings.min_cell_size,
                                             organisation="Bench")

    with database.session() as db:
        period = services.find_period(db, snapshot)
        best_of("load the period from the database", 3, lambda: services.load_period(db, period))
        data = services.load_period(db, period)
    best_of("compute every figure (build_report)", 3, lambda: build_report(data))
    baseline = best_of("load + compute + JSON payload (baseline)", 3, figures)
    app = create_app(settings, database)
    runner = app.test_cli_runner()

    def cli() -> None:
        result = runner.invoke(args=["workforce", "indicators", "--period", snapshot.isoformat()])
        if result.exit_code != 0:
            raise RuntimeError(result.output)
        json.loads(result.output)

    best_of("speakup workforce indicators (in-process CLI)", 3, cli)
    indicators = figures()["indicators"]
    assert isinstance(indicators, list)
    wres2 = next(e for e in indicators if e["id"] == "wres2" and e["by"] is None)
    print(f"  (WRES 2 = {wres2['value']:.2f}, 95% CI {wres2['ci'][0]:.2f}-{wres2['ci'][1]:.2f};"
          f" {len(indicators)} indicator entries)")

    with database.session() as db:
        services.publish(db, snapshot=previous, actor="bench")
        services.publish(db, snapshot=snapshot, actor="bench")
    client = sign_in(app, database, settings)
    url = f"/staff/workforce/{snapshot.isoformat()}/"

    def render(path: str) -> None:
        response = client.get(path)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code}")

    def first() -> None:
        workforce_views._cache.clear()
        render(url)

    best_of("dashboard, first render (nothing in memory)", 3, first, baseline)
    render(url)
    best_of("dashboard, warm render (figures in memory)", 3, lambda: render(url), baseline)
    best_of("board pack, warm render", 3, lambda: render(url + "board-pack"), baseline)
    size = len(client.get(url).data)
    print(f"  (dashboard page: {size / 1024:,.0f} KiB of HTML with inline SVG)")
    database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--staff", type=int, default=5_000)
    parser.add_argument("--applications", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--postgresql-url", default=os.environ.get("TEST_DATABASE_URL",
                                                                   DEFAULT_PG_URL))
    args = parser.parse_args()

    print(f"Synthetic trust: {args.staff:,} staff, {args.applications:,} applications "
          f"(seed {args.seed})")
    trust = timed("generate", lambda: synthetic.generate(seed=args.seed, staff=args.staff,
                                                         applications=args.applications))
    with tempfile.TemporaryDirectory() as tmp:
        files = timed("write the CSV files", lambda: synthetic.write_csvs(trust, Path(tmp) / "csv"))
        staff_text, recruitment_text = files["staff"].read_text(), files["recruitment"].read_text()
        timed("validate staff file (no database)",
              lambda: formats.parse_staff(staff_text, snapshot=trust.snapshot))
        timed("validate recruitment file (no database)",
              lambda: formats.parse_recruitment(recruitment_text, snapshot=trust.snapshot))
        if args.backend in ("sqlite", "both"):
            print("SQLite")
            run_backend(f"sqlite:///{Path(tmp) / 'bench.db'}", trust, files, Path(tmp) / "i1")
        if args.backend in ("postgresql", "both"):
            print("PostgreSQL")
            schema = f"bench_workforce_{os.getpid()}"
            admin = create_engine(args.postgresql_url)
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            sep = "&" if "?" in args.postgresql_url else "?"
            try:
                run_backend(f"{args.postgresql_url}{sep}options=-csearch_path%3D{schema}", trust,
                            files, Path(tmp) / "i2")
            finally:
                with admin.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
                admin.dispose()


if __name__ == "__main__":
    main()
