"""Benchmark of the REST API on PostgreSQL + Redis + gunicorn + Celery, on loopback, in one run.

Creates a fresh database, migrates it, issues an API key, starts one gunicorn server and one
Celery worker, measures throughput and latency of two endpoints and the execute-to-result time
against a bare Celery round trip, prints a table, and tears everything down (also on Ctrl-C).
See bench/README.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis
from celery import Celery
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SMALL_TEXT = (
    "BReact Console runs services behind one API. This sentence is short. "
    "The benchmark sends this small text to text_analyzer and waits for the statistics."
)
# Inherited variables that would change what is measured; the bench sets its own.
STRIPPED_ENV_PREFIXES = ("BREACT_", "CELERY_")
STRIPPED_ENV_NAMES = {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}


class BenchError(RuntimeError):
    """A setup step failed; the message says which."""


# --- statistics -------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between closest ranks."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class Measurement:
    name: str
    latencies: list[float] = field(default_factory=list)  # seconds, successful operations only
    attempted: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    elapsed: float | None = None  # wall time of a throughput phase
    note: str = ""

    @property
    def ok(self) -> int:
        return len(self.latencies)

    def rate(self) -> str:
        return f"{self.ok / self.elapsed:.1f}" if self.elapsed else "-"

    def ms(self, q: float) -> str:
        return f"{percentile(self.latencies, q) * 1000:.1f}" if self.latencies else "-"


# --- child processes --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(*, database_url: str, redis_url: str, var_dir: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(STRIPPED_ENV_PREFIXES) and key not in STRIPPED_ENV_NAMES
    }
    huge = "100000000/m"
    env.update(
        DJANGO_SETTINGS_MODULE="breact.settings",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        BREACT_SECRET_KEY=secrets.token_urlsafe(48),
        BREACT_VAR_DIR=str(var_dir),
        BREACT_DEFAULT_RATE_LIMIT=huge,
        BREACT_POLL_RATE_LIMIT=huge,  # the latency phase polls every few ms
        BREACT_LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env


def manage(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    """Run manage.py with `args`; return its stdout, or raise with its stderr."""
    done = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"manage.py {args[0]} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, grace: float) -> None:
        """SIGTERM this child (it stops its own workers), then SIGKILL its process group."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=grace)
        # The group id is the child's pid (start_new_session): only processes it started.
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)


def worker_argv(args: argparse.Namespace) -> list[str]:
    """One Celery worker; --include registers celery.ping (celery.contrib.testing.tasks)."""
    options = (
        f"--loglevel=WARNING --pool=prefork --concurrency={args.worker_concurrency} "
        "--include=celery.contrib.testing.tasks --without-gossip --without-mingle "
        f"--without-heartbeat --hostname=bench-{os.getpid()}@%h"
    )
    return [PYTHON, "-m", "celery", "-A", "breact", "worker", *options.split()]


def server_argv(args: argparse.Namespace, port: int) -> list[str]:
    """One gunicorn server (gthread) on loopback."""
    options = (
        f"--bind=127.0.0.1:{port} --worker-class=gthread --workers={args.workers} "
        f"--threads={args.threads} --keep-alive=5 --log-level=warning --graceful-timeout=10"
    )
    return [PYTHON, "-m", "gunicorn", "breact.wsgi:application", *options.split()]


@contextmanager
def child(
    name: str, argv: list[str], env: dict[str, str], log: Path, grace: float
) -> Iterator[Child]:
    with log.open("wb") as out:
        # A new session: Ctrl-C reaches only the bench, which then stops children in order.
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    started = Child(name, proc, log)
    try:
        yield started
    finally:
        started.stop(grace)


def wait_for_server(base_url: str, server: Child, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    with httpx.Client(timeout=2, trust_env=False) as client:
        while time.monotonic() < deadline:
            if not server.alive():
                raise BenchError(f"gunicorn exited ({server.proc.returncode}):\n{server.tail()}")
            try:
                response = client.get(f"{base_url}/api/v1/health")
                if response.status_code == 200:
                    return
                last = f"{response.status_code} {response.text[:300]}"
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            time.sleep(0.2)
    raise BenchError(f"gunicorn not healthy after {timeout:.0f} s ({last}):\n{server.tail()}")


def wait_for_worker(app: Celery, worker: Child, timeout: float) -> None:
    result = app.send_task("celery.ping", ignore_result=False)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not worker.alive():
            raise BenchError(f"celery worker exited ({worker.proc.returncode}):\n{worker.tail()}")
        if result.ready():
            if result.get(timeout=1) != "pong":
                raise BenchError(f"celery.ping answered {result.result!r}")
            return
        time.sleep(0.1)
    raise BenchError(
        f"celery.ping got no result after {timeout:.0f} s (is celery.ping registered and the "
        f"result backend set in the worker?):\n{worker.tail()}"
    )


# --- database and redis -----------------------------------------------------------------------


def admin_connection(args: argparse.Namespace) -> psycopg.Connection[Any]:
    return psycopg.connect(
        host=args.pg_host, port=args.pg_port, user=args.pg_user, dbname="postgres", autocommit=True
    )


def database_recreate(args: argparse.Namespace) -> None:
    name = sql.Identifier(args.db_name)
    with admin_connection(args) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))


def database_drop(args: argparse.Namespace) -> None:
    with admin_connection(args) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(args.db_name))
        )


def wait_for_queue_drain(args: argparse.Namespace, database_url: str, timeout: float) -> int:
    """Wait until no process is queued or running; return how many still are at the end."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(database_url, autocommit=True) as conn:
        while True:
            row = conn.execute(
                "SELECT count(*) FROM services_process WHERE state IN ('queued', 'running')"
            ).fetchone()
            left = int(row[0]) if row else 0
            if left == 0 or time.monotonic() >= deadline:
                return left
            time.sleep(0.1)


# --- measurements -----------------------------------------------------------------------------


def load(
    name: str,
    *,
    url: str,
    method: str,
    expected: int,
    headers: dict[str, str],
    body: bytes | None,
    requests: int,
    concurrency: int,
    max_seconds: float,
) -> Measurement:
    """`requests` requests from `concurrency` threads (one keep-alive client each), stopping
    early after `max_seconds`. Latency counts only answers with the `expected` status."""
    result = Measurement(name)
    tickets = itertools.count()
    lock = threading.Lock()
    stop = threading.Event()
    start = time.perf_counter()
    deadline = start + max_seconds

    def run() -> None:
        latencies: list[float] = []
        errors: Counter[str] = Counter()
        attempted = 0
        with httpx.Client(timeout=10, trust_env=False, headers=headers) as client:
            while not stop.is_set() and next(tickets) < requests:
                if time.perf_counter() > deadline:
                    break
                attempted += 1
                began = time.perf_counter()
                try:
                    response = client.request(method, url, content=body)
                except httpx.HTTPError as exc:
                    errors[type(exc).__name__] += 1
                    continue
                took = time.perf_counter() - began
                if response.status_code == expected:
                    latencies.append(took)
                else:
                    errors[f"HTTP {response.status_code}"] += 1
        with lock:
            result.latencies.extend(latencies)
            result.errors.update(errors)
            result.attempted += attempted

    threads = [threading.Thread(target=run, daemon=True) for _ in range(concurrency)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(timeout=0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=15)
    result.elapsed = time.perf_counter() - start
    if result.attempted < requests:
        result.note = f"stopped after {max_seconds:.0f} s"
    return result


def execute_to_result(
    base_url: str, api_key: str, *, samples: int, poll_interval: float, timeout: float
) -> Measurement:
    """Sequential: POST execute, then poll result_url every `poll_interval` until it is no
    longer pending; the time runs from just before the POST to the completed poll answer."""
    result = Measurement("execute -> completed poll")
    polls = 0
    body = json.dumps({"text": SMALL_TEXT}).encode()
    headers = {"x-api-key": api_key, "content-type": "application/json"}

    def one(client: httpx.Client, began: float) -> str:
        nonlocal polls
        response = client.post("/api/v1/services/text_analyzer/analyze", content=body)
        if response.status_code != 202:
            return f"execute HTTP {response.status_code}"
        result_url = response.json()["result_url"]
        while time.perf_counter() < began + timeout:
            polled = client.get(result_url)
            polls += 1
            if polled.status_code != 200:
                return f"poll HTTP {polled.status_code}"
            answer = polled.json()
            if answer.get("status") != "pending":
                outer, inner = answer.get("status"), (answer.get("result") or {}).get("status")
                return "ok" if (outer, inner) == ("completed", "success") else f"{outer}/{inner}"
            time.sleep(poll_interval)
        return "timeout"

    with httpx.Client(base_url=base_url, timeout=10, trust_env=False, headers=headers) as client:
        for _ in range(samples):
            result.attempted += 1
            began = time.perf_counter()
            try:
                outcome = one(client, began)
            except httpx.HTTPError as exc:
                outcome = type(exc).__name__
            if outcome == "ok":
                result.latencies.append(time.perf_counter() - began)
            else:
                result.errors[outcome] += 1
    if result.attempted:
        result.note = f"{polls / result.attempted:.1f} polls/sample"
    return result


def celery_round_trip(app: Celery, *, samples: int, timeout: float) -> Measurement:
    """Sequential: send_task('celery.ping') and wait for its result from the Redis backend."""
    result = Measurement("celery.ping round trip")
    for _ in range(samples):
        result.attempted += 1
        began = time.perf_counter()
        try:
            value = app.send_task("celery.ping", ignore_result=False).get(timeout=timeout)
        except Exception as exc:
            result.errors[type(exc).__name__] += 1
            continue
        took = time.perf_counter() - began
        if value == "pong":
            result.latencies.append(took)
        else:
            result.errors[f"answer {value!r}"] += 1
    return result


# --- report -----------------------------------------------------------------------------------


def versions() -> str:
    from importlib.metadata import version

    names = ["Django", "djangorestframework", "gunicorn", "celery", "httpx", "psycopg"]
    return " ".join(f"{n}={version(n)}" for n in names)


def report(args: argparse.Namespace, rows: list[Measurement], loads: list[str]) -> str:
    lines = [
        "",
        "BReact Console API benchmark (indicative: shared machine, load generator on the same "
        "host)",
        f"  host: {platform.node()} {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{versions()}",
        f"  load average (1 min) before/after phases: {' / '.join(loads)}",
        f"  server: gunicorn gthread --workers {args.workers} --threads {args.threads}; "
        f"celery prefork --concurrency {args.worker_concurrency}; "
        f"PostgreSQL db {args.db_name}; Redis db {args.redis_db} (cache, rate limits, broker, "
        "results)",
        f"  load: {args.requests} requests per endpoint, concurrency {args.concurrency}, "
        f"max {args.max_seconds:.0f} s, {args.warmup} warm-up requests each; latency: "
        f"{args.samples} sequential samples, poll every {args.poll_interval * 1000:.0f} ms",
        f"  webhooks: {webhook_note(args)}",
        "",
        f"  {'measurement':<34} {'ok/sent':>11} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'max ms':>8}  notes",
    ]
    for row in rows:
        notes = [row.note] if row.note else []
        notes += [f"{count}x {err}" for err, count in row.errors.most_common(3)]
        lines.append(
            f"  {row.name:<34} {f'{row.ok}/{row.attempted}':>11} {row.rate():>8} "
            f"{row.ms(50):>8} {row.ms(99):>8} {row.ms(100):>8}  {'; '.join(notes)}"
        )
    return "\n".join(lines)


# --- webhooks on: a loopback receiver that answers 200 at once ---------------------------------

RECEIVED: Counter[str] = Counter()


@contextmanager
def webhook_receiver(args: argparse.Namespace, base_url: str, api_key: str) -> Iterator[None]:
    """Serve a receiver on loopback and register it for the bench account over the API."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            RECEIVED[self.headers.get("BReact-Event", "?")] += 1
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    answer = httpx.post(
        f"{base_url}/api/v1/webhooks", json={"url": url}, headers={"x-api-key": api_key}
    )
    if answer.status_code != 201:
        raise BenchError(f"could not register the webhook endpoint: {answer.text[:300]}")
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def webhook_note(args: argparse.Namespace) -> str:
    if not args.webhooks:
        return "off (no endpoint registered)"
    received = ", ".join(f"{count} {event}" for event, count in RECEIVED.most_common())
    return f"on: one endpoint, deliveries received: {received or 'none'}"


def load_average() -> str:
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "?"


# --- main -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    cores = os.cpu_count() or 2
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--requests", type=int, default=2000, help="requests per endpoint in the load phases")
    add("--concurrency", type=int, default=16, help="client threads in the load phases")
    add("--max-seconds", type=float, default=60, help="time cap of each load phase")
    add("--warmup", type=int, default=50, help="unmeasured requests before each load phase")
    add("--samples", type=int, default=50, help="sequential samples of each round trip")
    add("--poll-interval", type=float, default=0.005, help="seconds between result polls")
    add("--sample-timeout", type=float, default=10, help="give up on one sample after this")
    add("--workers", type=int, default=cores, help="gunicorn worker processes")
    add("--threads", type=int, default=4, help="threads per gunicorn worker")
    add("--worker-concurrency", type=int, default=cores, help="celery prefork processes")
    add("--port", type=int, default=0, help="server port on 127.0.0.1 (0: any free one)")
    add("--db-name", default="breact_bench", help="PostgreSQL database, dropped and recreated")
    add("--pg-host", default="127.0.0.1")
    add("--pg-port", type=int, default=5432)
    add("--pg-user", default="postgres")
    add("--redis-host", default="127.0.0.1")
    add("--redis-port", type=int, default=6379)
    add("--redis-db", type=int, default=9, help="Redis db reserved for the bench (FLUSHDB'd)")
    add("--startup-timeout", type=float, default=60)
    add("--keep-logs", action="store_true", help="keep the server and worker logs")
    add(
        "--webhooks",
        action="store_true",
        help="register a webhook endpoint (a loopback receiver in this process) for the bench "
        "account, so every finished process is also delivered as a signed event",
    )
    args = parser.parse_args(argv)
    if args.redis_db == 0:
        parser.error("--redis-db 0 is the default db of other tools; pick a reserved one")
    if "bench" not in args.db_name:
        parser.error("--db-name is dropped and recreated: it must contain 'bench'")
    if min(args.requests, args.concurrency, args.samples, args.workers, args.threads) < 1:
        parser.error("counts must be positive")
    return args


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def best_effort(what: str, function: Any, *args: Any) -> None:
    """A clean-up step: a failure is reported and the remaining steps still run."""
    try:
        function(*args)
    except Exception as exc:
        log(f"clean-up: could not {what}: {type(exc).__name__}: {exc}")


def preflight(args: argparse.Namespace, store: redis.Redis) -> None:
    try:
        store.ping()
    except redis.RedisError as exc:
        raise BenchError(f"Redis at {args.redis_host}:{args.redis_port}: {exc}") from None
    try:
        admin_connection(args).close()
    except psycopg.Error as exc:
        raise BenchError(f"PostgreSQL at {args.pg_host}:{args.pg_port}: {exc}") from None


def measure(
    args: argparse.Namespace, base_url: str, api_key: str, app: Celery, database_url: str
) -> tuple[list[Measurement], list[str]]:
    """The load phases, then the sequential round trips; returns the rows and load averages."""
    rows: list[Measurement] = []
    loads = [load_average()]
    common = {"concurrency": args.concurrency, "max_seconds": args.max_seconds}
    phases: list[tuple[str, dict[str, Any]]] = [
        (
            "GET  /api/v1/health",
            {"url": f"{base_url}/api/v1/health", "method": "GET", "expected": 200,
             "headers": {}, "body": None},
        ),
        (
            "POST text_analyzer/analyze (202)",
            {"url": f"{base_url}/api/v1/services/text_analyzer/analyze",
             "method": "POST", "expected": 202,
             "headers": {"x-api-key": api_key, "content-type": "application/json"},
             "body": json.dumps({"text": SMALL_TEXT}).encode()},
        ),
    ]  # fmt: skip
    for name, spec in phases:
        log(f"load: {name}")
        if args.warmup:
            load(name, **spec, requests=args.warmup, **common)
        rows.append(load(name, **spec, requests=args.requests, **common))
        loads.append(load_average())

    log("waiting for the worker to finish the queued processes")
    left = wait_for_queue_drain(args, database_url, timeout=max(60, args.max_seconds * 2))
    if left:
        log(f"warning: {left} processes still unfinished; the round trips will queue behind them")

    log(f"round trips: {args.samples} sequential samples each")
    timing = {"poll_interval": args.poll_interval, "timeout": args.sample_timeout}
    warm = min(3, args.samples)
    execute_to_result(base_url, api_key, samples=warm, **timing)
    rows.append(execute_to_result(base_url, api_key, samples=args.samples, **timing))
    celery_round_trip(app, samples=warm, timeout=args.sample_timeout)
    rows.append(celery_round_trip(app, samples=args.samples, timeout=args.sample_timeout))
    loads.append(load_average())
    return rows, loads


def run(args: argparse.Namespace, store: redis.Redis, var_dir: Path) -> str:
    """Set up, measure and tear down (the ExitStack undoes every step, in reverse, whatever
    happens); returns the report."""
    redis_url = f"redis://{args.redis_host}:{args.redis_port}/{args.redis_db}"
    database_url = f"postgres://{args.pg_user}@{args.pg_host}:{args.pg_port}/{args.db_name}"
    port = args.port or free_port()
    base_url = f"http://127.0.0.1:{port}"
    with ExitStack() as stack:
        stack.callback(best_effort, "flush the Redis db", store.flushdb)
        store.flushdb()  # stale messages of an interrupted run would hit the new database
        app = Celery("bench", broker=redis_url, backend=redis_url)
        app.conf.update(broker_connection_timeout=2, result_expires=600)
        stack.callback(best_effort, "close the Celery client", app.close)

        log(f"creating database {args.db_name} and migrating")
        stack.callback(best_effort, "drop the database", database_drop, args)
        database_recreate(args)
        env = child_env(database_url=database_url, redis_url=redis_url, var_dir=var_dir)
        if args.webhooks:
            env["BREACT_WEBHOOK_ALLOW_LOOPBACK"] = "1"  # the receiver is on loopback
        manage(env, "migrate", "--noinput", "-v0")
        out = manage(
            env,
            "create_api_key",
            "--email=bench@example.com",
            "--credits=10000000",
            "--rate-limit=100000000/m",
            "--name=bench",
        )
        api_key = out.strip().splitlines()[-1].strip()

        log(f"starting a celery worker and gunicorn on {base_url}")
        # Celery reads CELERY_RESULT_BACKEND from the environment itself (app.conf.result_backend)
        worker_env = {**env, "CELERY_RESULT_BACKEND": redis_url}
        worker = stack.enter_context(
            child("celery", worker_argv(args), worker_env, var_dir / "celery.log", grace=20)
        )
        server = stack.enter_context(
            child("gunicorn", server_argv(args, port), env, var_dir / "gunicorn.log", grace=15)
        )
        # Runs first on the way out: a second Ctrl-C must not cut the clean-up short.
        stack.callback(signal.signal, signal.SIGINT, signal.SIG_IGN)
        wait_for_server(base_url, server, args.startup_timeout)
        wait_for_worker(app, worker, args.startup_timeout)
        if args.webhooks:
            stack.enter_context(webhook_receiver(args, base_url, api_key))

        rows, loads = measure(args, base_url, api_key, app, database_url)
        for started in (server, worker):
            if not started.alive():
                raise BenchError(f"{started.name} died during the run:\n{started.tail()}")
        log("stopping the server and the worker, dropping the database")
    return report(args, rows, loads)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)  # clean up on kill too
    sigint = signal.getsignal(signal.SIGINT)
    store = redis.Redis(
        host=args.redis_host, port=args.redis_port, db=args.redis_db, socket_timeout=5
    )
    try:
        preflight(args, store)
    except BenchError as exc:
        log(f"failed: {exc}")
        return 1
    var_dir = Path(tempfile.mkdtemp(prefix="breact-bench-"))
    keep_logs = args.keep_logs
    try:
        print(run(args, store, var_dir))
        return 0
    except KeyboardInterrupt:
        log("interrupted; the server and worker were stopped and the database dropped")
        return 130
    except BenchError as exc:
        keep_logs = True
        log(f"failed: {exc}")
        return 1
    except Exception:
        keep_logs = True
        raise
    finally:
        signal.signal(signal.SIGINT, sigint)
        store.close()
        if keep_logs:
            log(f"logs kept in {var_dir}")
        else:
            shutil.rmtree(var_dir, ignore_errors=True)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
