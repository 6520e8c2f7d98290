"""Benchmark: pulse-survey responses per second through the real stack (not a test).

gunicorn (config/gunicorn.conf.py) on a free 127.0.0.1 port, PostgreSQL (default) or SQLite,
50 concurrent clients by default. Each client takes one single-use invitation code and does
what a person does: GET /survey/, POST the code, GET /survey/answer, POST the answers. The
figure is answer POSTs per second and their p50/p95 latency, beside GET / requests per second
through the same server as the baseline measured in the same run. Afterwards it checks that the
database holds exactly one response per code and every code is spent.

    .venv/bin/python bench/survey_ingest.py [--backend postgresql|sqlite|both]
        [--clients 50] [--responses 1000] [--max-seconds 120]
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from submissions import (
    DEFAULT_PG_URL,
    ROOT,
    BenchError,
    Client,
    free_port,
    gunicorn_command,
    hidden_value,
    percentile,
    reset_postgres,
    run_baseline,
    run_cli,
    server_env,
    stop,
    wait_until_up,
)

ANSWERS = {
    "roles_fair": ["strongly-disagree", "disagree", "neither", "agree", "strongly-agree"],
    "safe_to_speak_up": ["strongly-disagree", "disagree", "neither", "agree", "strongly-agree"],
    "fair_progression": ["yes", "no", "dont-know"],
    "harassment_public": ["never", "1-2", "3-5"],
    "ethnicity": ["white-british", "asian-indian", "black-african", "prefer-not"],
    "band": ["5", "6", "7", "8a"],
}


def codes_for(env: dict[str, str], count: int) -> list[str]:
    script = Path(sys.executable).parent / "speakup"
    proc = subprocess.run([str(script), "survey", "codes", "equality-pulse", "--wave", "Bench",
                           "--count", str(count)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600, check=True)
    return proc.stdout.split()[1:]


def run_ingest(port: int, codes: list[str], clients: int, max_seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    queue = list(codes)
    deadline = time.perf_counter() + max_seconds
    rng = random.Random(7)

    def worker() -> None:
        while time.perf_counter() < deadline:
            with lock:
                if not queue:
                    return
                code = queue.pop()
                answers = {q: rng.choice(v) for q, v in ANSWERS.items()}
            client = Client(port)
            try:
                _, page = client.request("GET", "/survey/")
                body = urllib.parse.urlencode({"csrf_token": hidden_value(page, "csrf_token"),
                                               "code": code})
                form = {"Content-Type": "application/x-www-form-urlencoded"}
                status, _ = client.request("POST", "/survey/", body.encode(), form)
                if status != 302:
                    raise BenchError(f"code step gave {status}")
                _, page = client.request("GET", "/survey/answer")
                body = urllib.parse.urlencode({"csrf_token": hidden_value(page, "csrf_token"),
                                               **answers})
                start = time.perf_counter()
                status, html = client.request("POST", "/survey/answer", body.encode(), form)
                elapsed = time.perf_counter() - start
                if status != 200 or "Your answers have been saved" not in html:
                    raise BenchError(f"answer step gave {status}")
                with lock:
                    latencies.append(elapsed)
            except (BenchError, OSError) as e:
                with lock:
                    failures.append(str(e))
            finally:
                client.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    return {"ok": len(latencies), "failed": len(failures), "seconds": wall,
            "rate": len(latencies) / wall if wall else 0.0,
            "p50": percentile(latencies, 50), "p95": percentile(latencies, 95)}


def count_rows(env: dict[str, str]) -> tuple[int, int]:
    from sqlalchemy import create_engine, text

    engine = create_engine(env["DATABASE_URL"])
    with engine.connect() as conn:
        # Responses are unlinkable records (settled or still pending); spent codes are deleted.
        responses = sum(conn.execute(text(
            f"SELECT COUNT(*) FROM {table} WHERE stream LIKE 'survey:%'")).scalar_one()  # noqa: S608
            for table in ("records", "pending_records"))
        issued = conn.execute(text("SELECT COALESCE(SUM(codes_issued), 0) FROM survey_waves"))\
            .scalar_one()
        left = conn.execute(text("SELECT COUNT(*) FROM survey_invitation_codes")).scalar_one()
    engine.dispose()
    return int(responses), int(issued) - int(left)


def bench_backend(backend: str, args: argparse.Namespace) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="speakup-survey-bench-") as tmp:
        instance = Path(tmp)
        if backend == "postgresql":
            reset_postgres(args.postgresql_url)
            url = args.postgresql_url
        else:
            url = f"sqlite:///{instance / 'bench.db'}"
        port = free_port()
        env = server_env(instance, url, port)
        run_cli(["db", "upgrade"], env)
        definition = instance / "survey.toml"
        proc = subprocess.run([str(Path(sys.executable).parent / "speakup"), "survey",
                               "template", "equality-pulse"], cwd=ROOT, env=env,
                              capture_output=True, text=True, check=True)
        definition.write_text(proc.stdout)
        empty = instance / "empty.csv"
        empty.write_text("roles_fair\n")
        run_cli(["survey", "import", str(definition), str(empty), "--wave", "Earlier"], env)
        run_cli(["survey", "open", "equality-pulse", "--wave", "Bench"], env)
        codes = codes_for(env, args.responses)
        log = instance / "gunicorn.log"
        with log.open("wb") as out:
            server = subprocess.Popen(gunicorn_command(), cwd=ROOT, env=env, stdout=out,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_until_up(server, port, log, 60)
            baseline_rate, _, _ = run_baseline(port, args.clients, 2000, 60)
            result = run_ingest(port, codes, args.clients, args.max_seconds)
        finally:
            stop(server)
        responses, used = count_rows(env)
        if responses != result["ok"] or used != result["ok"]:
            raise BenchError(f"{responses} responses and {used} spent codes for "
                             f"{result['ok']} successful submissions")
        result["baseline"] = baseline_rate
        return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["postgresql", "sqlite", "both"],
                        default="postgresql")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--responses", type=int, default=1000)
    parser.add_argument("--max-seconds", type=float, default=120)
    parser.add_argument("--postgresql-url", default=DEFAULT_PG_URL)
    args = parser.parse_args()
    backends = ["postgresql", "sqlite"] if args.backend == "both" else [args.backend]
    failed = False
    print(f"{'backend':<12}{'ok':>6}{'failed':>8}{'resp/s':>9}{'p50 ms':>9}{'p95 ms':>9}"
          f"{'GET / req/s':>13}{'ratio':>9}")
    for backend in backends:
        try:
            r = bench_backend(backend, args)
        except (BenchError, subprocess.CalledProcessError) as e:
            print(f"{backend}: FAILED: {e}")
            failed = True
            continue
        failed |= r["failed"] > 0
        print(f"{backend:<12}{r['ok']:>6.0f}{r['failed']:>8.0f}{r['rate']:>9.1f}"
              f"{1000 * r['p50']:>9.0f}{1000 * r['p95']:>9.0f}{r['baseline']:>13.0f}"
              f"{'1:' + format(r['baseline'] / r['rate'], '.1f') if r['rate'] else '-':>9}")
    print(f"({args.clients} concurrent clients; each response = GET form, POST code, GET "
          "questions, POST answers; latency is the answers POST; database checked afterwards: "
          "one response per spent code)")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
