"""Benchmark: concern submissions per second through the real stack (not a test).

For each backend (SQLite, PostgreSQL) this script:

1. prepares a fresh database (a temporary SQLite file; or PostgreSQL's ``public`` schema
   dropped and recreated), runs ``speakup db upgrade`` and creates 3 guardians with
   ``speakup guardian create`` (every submission seals the concern key to each guardian);
2. starts gunicorn with ``config/gunicorn.conf.py`` on a free 127.0.0.1 port
   (SPEAKUP_ENV=development, its own temporary SPEAKUP_INSTANCE_DIR, production KDF cost,
   SPEAKUP_WORKERS x SPEAKUP_THREADS, default 2 x 4);
3. measures a baseline: GET / requests per second with the same number of clients;
4. runs N client threads, each with its own cookie jar and keep-alive connection, doing
   GET /concern/new then a multipart POST, until the submission budget or the time limit is
   spent; every POST must return 200 with a receipt;
5. measures in-process (no HTTP) what one submission costs: the receipt key derivation
   (two scrypt runs), the other crypto of a submission, and a whole committed
   ``speakup.services.submit_concern`` against the same database;
6. always stops gunicorn, and prints a table.

Exit status: 0 if everything submitted, 1 if any submission failed or no submission finished,
2 if the server (or the setup) failed.

Run: ``.venv/bin/python bench/submissions.py [--backend sqlite|postgresql|both]
[--clients 8] [--submissions 200]`` (or ``make bench``).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
GUARDIANS = ("Ada Guardian", "Ben Guardian", "Cleo Guardian")
GUARDIAN_PASSWORD = "bench guardian password 2024"
CONCERN_TEXT = (
    "Nights on ward 7 have been run with one registered nurse for 28 patients for three "
    "weeks. Observations are being missed and two falls were not escalated. I raised it with "
    "the ward manager and nothing changed."
)

INPUT_RE = re.compile(r"<input\b[^>]*>")
VALUE_RE = re.compile(r'\bvalue="([^"]*)"')
RECEIPT_RE = re.compile(r'class="speakup-receipt" id="receipt">(.*?)</p>', re.S)
TAG_RE = re.compile(r"<[^>]+>")


LOAD_AT_START = "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


class BenchError(RuntimeError):
    """The benchmark could not run (server did not start, setup failed)."""


# --- a minimal HTTP client: keep-alive connection + cookie jar, stdlib only ------------------


class Client:
    """One simulated reporter's browser: a keep-alive connection and its own cookies."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.cookies: dict[str, str] = {}
        self.reconnects = 0

    def close(self) -> None:
        self.conn.close()

    def _once(self, method: str, path: str, body: bytes | None,
              headers: dict[str, str]) -> tuple[int, str]:
        hdrs = dict(headers)
        if self.cookies:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        self.conn.request(method, path, body=body, headers=hdrs)
        resp = self.conn.getresponse()
        data = resp.read()
        for value in resp.headers.get_all("Set-Cookie") or []:
            pair = value.split(";", 1)[0]
            if "=" in pair:
                name, _, val = pair.partition("=")
                name = name.strip()
                lowered = value.lower()
                if val == "" or "max-age=0" in lowered or "expires=thu, 01 jan 1970" in lowered:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = val
        return resp.status, data.decode("utf-8", "replace")

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, str]:
        """Send a request; on a dropped keep-alive connection reconnect and retry once.

        Retrying the concern POST is safe: the form token makes a resubmission return the
        same receipt without creating anything.
        """
        try:
            return self._once(method, path, body, headers or {})
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                http.client.CannotSendRequest, http.client.ResponseNotReady):
            self.conn.close()
            self.reconnects += 1
            return self._once(method, path, body, headers or {})


def multipart(fields: dict[str, str]) -> tuple[bytes, str]:
    boundary = "----speakupbench" + secrets.token_hex(12)
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            f"{value}\r\n".encode()
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def receipt_on(html: str) -> str | None:
    """The eight receipt words on a receipt page (the words may be wrapped in spans)."""
    match = RECEIPT_RE.search(html)
    if not match:
        return None
    words = TAG_RE.sub(" ", match.group(1)).split()
    if len(words) != 8 or not all(w.isalpha() and w.islower() for w in words):
        return None
    return " ".join(words)


def hidden_value(html: str, name: str) -> str | None:
    """The value of the first <input name=NAME> on the page, whatever its attribute order."""
    for tag in INPUT_RE.findall(html):
        if f'name="{name}"' in tag:
            match = VALUE_RE.search(tag)
            return match.group(1) if match and match.group(1) else None
    return None


# --- results ---------------------------------------------------------------------------------


@dataclass
class LoadResult:
    attempted: int = 0
    ok: int = 0
    failures: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    post_latencies: list[float] = field(default_factory=list)
    receipts: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    timed_out: bool = False
    reconnects: int = 0

    @property
    def rate(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0


@dataclass
class InProcess:
    samples: int
    kdf: float  # median seconds per submission
    other_crypto: float
    other_parts: dict[str, float]
    submit: float
    kdf_share: float  # of the summed submit time of all samples
    other_share: float


@dataclass
class BackendResult:
    backend: str
    baseline_rps: float
    baseline_requests: int
    baseline_failures: int
    load: LoadResult
    inproc: InProcess | None
    concerns_in_db: int
    server_errors: list[str]


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


# --- load generators ---------------------------------------------------------------------------


def run_baseline(port: int, clients: int, requests: int, max_seconds: float) -> tuple[float, int, int]:
    """GET / with ``clients`` threads: (requests/s, requests done, failures)."""
    lock = threading.Lock()
    budget = [requests]
    done = [0]
    failed = [0]
    deadline = time.perf_counter() + max_seconds

    def worker() -> None:
        client = Client(port)
        try:
            while time.perf_counter() < deadline:
                with lock:
                    if budget[0] <= 0:
                        return
                    budget[0] -= 1
                try:
                    status, html = client.request("GET", "/")
                    good = status == 200 and "</html>" in html
                except (OSError, http.client.HTTPException):
                    good = False
                    client.close()
                with lock:
                    done[0] += 1
                    if not good:
                        failed[0] += 1
        finally:
            client.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    return (done[0] - failed[0]) / elapsed, done[0], failed[0]


def run_submissions(port: int, clients: int, submissions: int, max_seconds: float) -> LoadResult:
    result = LoadResult()
    lock = threading.Lock()
    budget = [submissions]
    deadline = time.perf_counter() + max_seconds

    def fail(reason: str) -> None:
        with lock:
            result.failures += 1
            result.reasons[reason] += 1

    def one(client: Client) -> None:
        status, page = client.request("GET", "/concern/new")
        if status != 200:
            fail(f"GET /concern/new -> {status}")
            return
        csrf, token = hidden_value(page, "csrf_token"), hidden_value(page, "form_token")
        if not csrf or not token or "su_r" not in client.cookies:
            fail("GET /concern/new: no csrf_token/form_token/su_r cookie")
            return
        body, ctype = multipart({
            "csrf_token": csrf, "form_token": token, "text": CONCERN_TEXT,
            "kind": "patient-safety", "identity_mode": "anonymous",
        })
        t0 = time.perf_counter()
        status, html = client.request("POST", "/concern/new", body=body,
                                      headers={"Content-Type": ctype})
        latency = time.perf_counter() - t0
        receipt = receipt_on(html)
        if status != 200 or receipt is None:
            fail(f"POST /concern/new -> {status}" + ("" if status != 200 else " without receipt"))
            return
        with lock:
            result.ok += 1
            result.post_latencies.append(latency)
            result.receipts.append(receipt)

    def worker() -> None:
        client = Client(port)
        try:
            while True:
                with lock:
                    if budget[0] <= 0:
                        return
                    if time.perf_counter() >= deadline:
                        result.timed_out = True
                        return
                    budget[0] -= 1
                    result.attempted += 1
                try:
                    one(client)
                except (OSError, http.client.HTTPException) as e:
                    client.close()
                    fail(f"{type(e).__name__}")
        finally:
            with lock:
                result.reconnects += client.reconnects
            client.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.elapsed = time.perf_counter() - start
    return result


# --- in-process measurement ----------------------------------------------------------------------


def measure_in_process(env: dict[str, str], samples: int) -> InProcess:
    """Time whole committed ``submit_concern`` calls and, inside the same calls, the crypto.

    The crypto functions ``speakup.services`` calls are wrapped (in this process only) with
    timers, so the key-derivation and other-crypto times are those of the very submissions
    whose total is measured: the shares add up, whatever the run-to-run noise of scrypt.
    """
    from config.settings import KdfProfile, load_settings
    from core.db import Database
    from speakup import services

    settings = load_settings(env)
    if settings.kdf != KdfProfile.production():
        raise BenchError(f"in-process settings use the {settings.kdf.name} KDF profile")
    database = Database.from_settings(settings)
    with database.session() as db:
        n_guardians = len(services.eligible_guardians(db, settings))
    if n_guardians != len(GUARDIANS):
        raise BenchError(f"expected {len(GUARDIANS)} guardians, found {n_guardians}: the "
                         "database changed under the benchmark (did another process, e.g. the "
                         "test suite, reset it?)")

    groups = {
        "derive_receipt_secrets": "kdf",
        "generate_receipt": "generate_receipt + new_key",
        "new_key": "generate_receipt + new_key",
        "seal": "seal (body, reporter key, token)",
        "seal_to_public_key": f"seal_to_public_key x{n_guardians}",
        "token_digest": "token digest + key",
        "token_key": "token digest + key",
    }
    spent: dict[str, float] = {}

    def timed(fn: Callable[..., Any], group: str) -> Callable[..., Any]:
        def wrapper(*a: Any, **kw: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                spent[group] = spent.get(group, 0.0) + time.perf_counter() - t0
        return wrapper

    originals = {name: getattr(services, name) for name in groups}
    draft = services.ConcernDraft(text=CONCERN_TEXT, kind="patient-safety",
                                  identity_mode="anonymous")
    per_call: list[dict[str, float]] = []
    try:
        for name, group in groups.items():
            setattr(services, name, timed(originals[name], group))
        for i in range(samples + 1):  # the first call warms up and is not counted
            spent.clear()
            t0 = time.perf_counter()
            with database.session() as db:
                services.submit_concern(db, draft=draft, form_token=secrets.token_urlsafe(24),
                                        settings=settings)
            total = time.perf_counter() - t0
            if i:
                per_call.append({**spent, "total": total})
    finally:
        for name, fn in originals.items():
            setattr(services, name, fn)
        database.dispose()

    med = statistics.median
    part_names = sorted({g for g in groups.values() if g != "kdf"})
    return InProcess(
        samples=samples,
        kdf=med(c.get("kdf", 0.0) for c in per_call),
        other_crypto=med(sum(c.get(g, 0.0) for g in part_names) for c in per_call),
        other_parts={g: med(c.get(g, 0.0) for c in per_call) for g in part_names},
        submit=med(c["total"] for c in per_call),
        kdf_share=sum(c.get("kdf", 0.0) for c in per_call) / sum(c["total"] for c in per_call),
        other_share=sum(c.get(g, 0.0) for c in per_call for g in part_names)
        / sum(c["total"] for c in per_call),
    )


def count_concerns(env: dict[str, str]) -> int:
    from sqlalchemy import func, select

    from config.settings import load_settings
    from core.db import Database
    from speakup.models import Concern

    database = Database.from_settings(load_settings(env))
    try:
        with database.session() as db:
            return int(db.scalar(select(func.count()).select_from(Concern)) or 0)
    finally:
        database.dispose()


# --- server and setup ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli_command() -> list[str]:
    script = Path(sys.executable).parent / "speakup"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from core.cli import main; main()"]


def run_cli(args: list[str], env: dict[str, str], stdin: str | None = None) -> None:
    proc = subprocess.run([*cli_command(), *args], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise BenchError(f"speakup {' '.join(args[:2])} failed ({proc.returncode}):\n"
                         f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}")


def reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    except Exception as e:  # any driver error means: cannot benchmark PostgreSQL
        raise BenchError(f"cannot reset PostgreSQL at {url}: {type(e).__name__}: {e}") from e
    finally:
        engine.dispose()


def server_env(instance: Path, database_url: str, port: int) -> dict[str, str]:
    env = dict(os.environ)
    # Production KDF cost and fresh development secrets: nothing inherited may change them.
    for name in ("SPEAKUP_KDF", "SPEAKUP_SOURCE_SECRET", "SPEAKUP_STAFF_SECRET",
                 "SPEAKUP_RECEIPT_PEPPER", "SPEAKUP_ESCROW_PUBLIC_KEY"):
        env.pop(name, None)
    env.update({
        "SPEAKUP_ENV": "development",
        "SPEAKUP_INSTANCE_DIR": str(instance),
        "DATABASE_URL": database_url,
        "SPEAKUP_BIND": f"127.0.0.1:{port}",
        "SPEAKUP_WORKERS": os.environ.get("SPEAKUP_WORKERS", "2"),
        "SPEAKUP_THREADS": os.environ.get("SPEAKUP_THREADS", "4"),
        "PYTHONUNBUFFERED": "1",
    })
    return env


def gunicorn_command() -> list[str]:
    script = Path(sys.executable).parent / "gunicorn"
    base = [str(script)] if script.exists() else [sys.executable, "-m", "gunicorn"]
    return [*base, "-c", str(ROOT / "config" / "gunicorn.conf.py"), "wsgi:app"]


def wait_until_up(proc: subprocess.Popen[bytes], port: int, log: Path, timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"gunicorn exited with {proc.returncode} during start-up:\n"
                             + tail(log))
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/")
            if conn.getresponse().status == 200:
                conn.close()
                return
            conn.close()
        except OSError:
            pass
        time.sleep(0.2)
    raise BenchError(f"gunicorn did not answer GET / within {timeout:.0f} s:\n" + tail(log))


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the gunicorn master (graceful), then SIGKILL its process group if needed."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the group holds only this gunicorn
        proc.wait(timeout=10)


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def server_problems(log: Path) -> list[str]:
    """Error-level lines the server logged during the run (deduplicated)."""
    seen: list[str] = []
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return seen
    for line in text.splitlines():
        bad = line.startswith(("ERROR", "CRITICAL")) or "Traceback" in line \
            or "WORKER TIMEOUT" in line
        if bad and line not in seen:
            seen.append(line)
    return seen


def bench_backend(backend: str, args: argparse.Namespace) -> BackendResult:
    print(f"\n=== {backend} ===", flush=True)
    with tempfile.TemporaryDirectory(prefix=f"speakup-bench-{backend}-") as tmp:
        tmpdir = Path(tmp)
        instance = tmpdir / "instance"
        if backend == "sqlite":
            url = f"sqlite:///{tmpdir / 'bench.db'}"
        else:
            url = args.postgresql_url
            print(f"resetting schema public at {url}", flush=True)
            reset_postgres(url)
        port = free_port()
        env = server_env(instance, url, port)

        t0 = time.perf_counter()
        run_cli(["db", "upgrade"], env)
        for name in GUARDIANS:
            email = name.lower().replace(" ", ".") + "@bench.example.nhs.uk"
            run_cli(["guardian", "create", "--name", name, "--email", email,
                     "--password-stdin"], env, stdin=GUARDIAN_PASSWORD + "\n")
        print(f"schema upgraded, {len(GUARDIANS)} guardians created "
              f"({time.perf_counter() - t0:.1f} s)", flush=True)

        log = tmpdir / "gunicorn.log"
        with log.open("wb") as log_file:
            proc = subprocess.Popen(gunicorn_command(), cwd=ROOT, env=env, stdout=log_file,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
        try:
            wait_until_up(proc, port, log, timeout=60)
            print(f"gunicorn up on 127.0.0.1:{port} ({env['SPEAKUP_WORKERS']} workers x "
                  f"{env['SPEAKUP_THREADS']} threads, production KDF)", flush=True)

            # Warm every worker thread's templates and connections before measuring.
            run_baseline(port, args.clients, 4 * args.clients, 30)
            baseline_rps, baseline_n, baseline_failed = run_baseline(
                port, args.clients, args.baseline_requests, 30)
            print(f"baseline GET /: {baseline_rps:.0f} req/s ({baseline_n} requests, "
                  f"{baseline_failed} failed)", flush=True)

            load = run_submissions(port, args.clients, args.submissions, args.max_seconds)
            print(f"submissions: {load.ok} ok, {load.failures} failed in {load.elapsed:.1f} s "
                  f"= {load.rate:.2f}/s" + ("  (stopped by time limit)" if load.timed_out else ""),
                  flush=True)
            for reason, n in load.reasons.most_common(5):
                print(f"  failure x{n}: {reason}")
            concerns = count_concerns(env)
            if concerns != load.ok:
                print(f"  WARNING: {concerns} concerns in the database after {load.ok} "
                      f"receipts", flush=True)
            if len(set(load.receipts)) != len(load.receipts):
                print("  WARNING: duplicate receipts returned", flush=True)
        finally:
            stop(proc)
        problems = server_problems(log)

        inproc = None
        if args.inprocess_samples > 0:
            print(f"in-process: {args.inprocess_samples} committed submit_concern calls "
                  "(server stopped)", flush=True)
            inproc = measure_in_process(env, args.inprocess_samples)
        return BackendResult(backend, baseline_rps, baseline_n, baseline_failed, load, inproc,
                             concerns, problems)


# --- report ---------------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def print_table(results: list[BackendResult], args: argparse.Namespace) -> None:
    cores = os.cpu_count() or 1
    rows: list[tuple[str, list[str]]] = []

    def row(label: str, fn: Callable[[BackendResult], str]) -> None:
        rows.append((label, [fn(r) for r in results]))

    row("submissions ok / attempted", lambda r: f"{r.load.ok} / {r.load.attempted}")
    row("failures", lambda r: str(r.load.failures))
    row("submissions/s (HTTP)", lambda r: f"{r.load.rate:.2f}")
    row("POST latency p50", lambda r: ms(percentile(r.load.post_latencies, 50)))
    row("POST latency p95", lambda r: ms(percentile(r.load.post_latencies, 95)))
    row("baseline GET / req/s", lambda r: f"{r.baseline_rps:.0f}")
    row("submission rate vs GET /",
        lambda r: f"1 : {r.baseline_rps / r.load.rate:.0f}" if r.load.rate else "-")

    def ip(fn: Callable[[InProcess], str]) -> Callable[[BackendResult], str]:
        return lambda r: fn(r.inproc) if r.inproc else "-"

    row("in-process submit_concern", ip(lambda i: ms(i.submit)))
    row("  key derivation (2x scrypt)", ip(lambda i: f"{ms(i.kdf)} ({i.kdf_share:.0%})"))
    row("  other crypto", ip(lambda i: f"{i.other_crypto * 1000:.2f} ms "
                                       f"({i.other_share:.1%})"))
    row("  database, ORM, rest", ip(lambda i: f"({1 - i.kdf_share - i.other_share:.0%})"))
    row(f"KDF-only ceiling ({cores} cores / KDF)", ip(lambda i: f"{cores / i.kdf:.1f}/s"))

    width = max(len(label) for label, _ in rows) + 2
    col = max(16, *(len(v) + 2 for _, values in rows for v in values))
    print("\n" + "=" * (width + col * len(results)))
    print(f"Speak Up submission benchmark  {time.strftime('%Y-%m-%d')}  "
          f"{cores} cores  gunicorn {os.environ.get('SPEAKUP_WORKERS', '2')} workers x "
          f"{os.environ.get('SPEAKUP_THREADS', '4')} threads  {args.clients} clients  "
          f"load avg at start {LOAD_AT_START}")
    print("=" * (width + col * len(results)))
    print("".ljust(width) + "".join(r.backend.rjust(col) for r in results))
    for label, values in rows:
        print(label.ljust(width) + "".join(v.rjust(col) for v in values))
    print("=" * (width + col * len(results)))
    for r in results:
        if r.inproc:
            i = r.inproc
            parts = ", ".join(f"{k} {v * 1000:.2f} ms" for k, v in i.other_parts.items())
            print(f"{r.backend}: key derivation {i.kdf_share:.0%} of in-process submit time; "
                  f"other crypto {i.other_share:.1%} ({parts}); medians of {i.samples} "
                  f"committed submit_concern calls, shares of their summed time")
        if r.server_errors:
            print(f"{r.backend}: server logged {len(r.server_errors)} distinct error line(s):")
            for line in r.server_errors[:10]:
                print(f"    {line}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client threads")
    parser.add_argument("--submissions", type=int, default=200, help="total submissions")
    parser.add_argument("--max-seconds", type=float, default=120.0,
                        help="stop submitting after this long (default 120)")
    parser.add_argument("--baseline-requests", type=int, default=2000,
                        help="GET / requests for the baseline (default 2000, at most 30 s)")
    parser.add_argument("--inprocess-samples", type=int, default=20,
                        help="in-process submit_concern calls to time (default 20; 0 to skip)")
    parser.add_argument("--postgresql-url", default=DEFAULT_PG_URL,
                        help=f"PostgreSQL URL; its schema public is DROPPED (default "
                             f"{DEFAULT_PG_URL})")
    args = parser.parse_args()
    if args.clients < 1 or args.submissions < 1:
        parser.error("--clients and --submissions must be at least 1")
    if not args.postgresql_url.split("@")[-1].startswith(("127.0.0.1", "localhost")):
        parser.error("--postgresql-url must point at 127.0.0.1")

    def interrupted(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    # SIGTERM/SIGHUP unwind like Ctrl-C, so the finally blocks stop gunicorn.
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results: list[BackendResult] = []
    try:
        for backend in backends:
            results.append(bench_backend(backend, args))
    except KeyboardInterrupt:
        print("\nBENCHMARK INTERRUPTED (gunicorn stopped)", file=sys.stderr)
        return 130
    except BenchError as e:
        print(f"\nBENCHMARK ABORTED: {e}", file=sys.stderr)
        if results:
            print_table(results, args)
        return 2
    print_table(results, args)
    if any(r.load.failures or r.load.ok == 0 or r.baseline_failures for r in results):
        print("\nFAILED: some requests did not succeed (see above).", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
