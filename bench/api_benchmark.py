"""Benchmark of the REST API on PostgreSQL + Redis + gunicorn + Celery, on loopback, in one run.

Creates a fresh database, migrates it, issues an API key, starts one gunicorn server and one
Celery worker, measures throughput and latency of two endpoints and the execute-to-result time
against a bare Celery round trip, prints a table, and tears everything down (also on Ctrl-C).
With --webhooks, every account also has a webhook endpoint (a loopback receiver in this process)
that is switched on for one more execute phase per round, so webhooks on / off come from the
same rounds. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import psycopg
import redis
from celery import Celery
from psycopg import sql

if TYPE_CHECKING:
    from tests.webhooks.receiver import Receiver

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SMALL_TEXT = (
    "BReact Console runs services behind one API. This sentence is short. "
    "The benchmark sends this small text to text_analyzer and waits for the statistics."
)
# Inherited variables that would change what is measured; the bench sets its own.
STRIPPED_ENV_PREFIXES = ("BREACT_", "CELERY_")
STRIPPED_ENV_NAMES = {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
# breact/settings.py CELERY_TASK_QUEUES: processes, and webhook deliveries on a queue of their own.
WORKER_QUEUES = ("celery", "webhooks")
# CPU per request is measured in these phases, by part of the stack (CpuMeter).
CPU_PHASES = ("floor c=16", "execute c=16 1 key")
CPU_PARTS = ("web", "worker", "PostgreSQL", "Redis", "wrk")


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
    """One Celery worker on both queues of the settings (processes on `celery`, webhook
    deliveries on `webhooks`); --include registers celery.ping (celery.contrib.testing.tasks)."""
    options = (
        f"--loglevel=WARNING --pool=prefork --concurrency={args.worker_concurrency} "
        f"--queues={','.join(WORKER_QUEUES)} "
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
    """Wait until no process is queued or running and no webhook delivery is pending; return
    how many still are at the end."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(database_url, autocommit=True) as conn:
        while True:
            row = conn.execute(
                "SELECT (SELECT count(*) FROM services_process WHERE state IN ('queued', "
                "'running')) + (SELECT count(*) FROM services_webhookdelivery WHERE state = "
                "'pending')"
            ).fetchone()
            left = int(row[0]) if row else 0
            if left == 0 or time.monotonic() >= deadline:
                return left
            time.sleep(0.1)


# --- measurements -----------------------------------------------------------------------------


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


def durable_commit_ms(database_url: str, *, samples: int) -> float:
    """Sequential: the p50 of a one-row UPDATE in autocommit on the bench's database, in ms:
    what one commit that waits for the disk costs on this machine now. An execute's charge
    waits for one such commit before its 202 (the worker's completion for another)."""
    took = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_commit (id int PRIMARY KEY, n int NOT NULL)")
        conn.execute("INSERT INTO bench_commit VALUES (1, 0) ON CONFLICT DO NOTHING")
        for _ in range(samples):
            began = time.perf_counter()
            conn.execute("UPDATE bench_commit SET n = n + 1 WHERE id = 1")
            took.append(time.perf_counter() - began)
    return percentile(took, 50) * 1000


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


def bare_task_cpu(app: Celery, cpu: CpuMeter, *, tasks: int, timeout: float) -> dict[str, float]:
    """Milliseconds of CPU by part of the stack per bare Celery task: `tasks` celery.ping
    messages sent without results, then one with a result, whose answer says the queue before
    it has been worked off (one queue, read in order). The sender's own CPU (this process) is
    not counted, so the figure is what the worker and Redis spend on a message at the least."""
    before = cpu.read()
    for _ in range(tasks):
        app.send_task("celery.ping", ignore_result=True)
    value = app.send_task("celery.ping", ignore_result=False).get(timeout=timeout)
    if value != "pong":
        raise BenchError(f"celery.ping answered {value!r}")
    return CpuMeter.per_request(before, cpu.read(), tasks + 1)


# --- load phases with wrk ---------------------------------------------------------------------

WRK_INSTALL = "wrk is needed for the load phases: install it with `apt-get install -y wrk` (Debian)"
# Per wrk thread: pre-formatted requests, one per key, sent in turn; a JSON summary at the end.
WRK_SCRIPT = """
local keys = {%(keys)s}
local requests = {}
init = function(args)
  for i, key in ipairs(keys) do
    local headers = {["content-type"] = "application/json"}
    if key ~= "" then headers["x-api-key"] = key end
    requests[i] = wrk.format(%(method)s, %(path)s, headers, %(body)s)
  end
end
local n = 0
request = function()
  n = n + 1
  return requests[(n %% #requests) + 1]
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK-JSON {\\"requests\\": %%d, \\"duration_us\\": %%d, \\"status\\": %%d, " ..
    "\\"connect\\": %%d, \\"read\\": %%d, \\"write\\": %%d, \\"timeout\\": %%d, " ..
    "\\"p50_us\\": %%d, \\"p99_us\\": %%d, \\"max_us\\": %%d}\\n",
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string of ASCII text is a valid Lua string literal


@dataclass
class Phase:
    """One wrk phase: `keys` are sent in turn ("" sends no key); `expected` is 2 (any 2xx) or
    401 (the framework floor: every answer must be a 4xx, and wrk counts 4xx as status errors)."""

    name: str
    method: str
    path: str
    keys: list[str]
    concurrency: int
    expected: int
    body: str | None = None
    webhooks: bool = False  # the bench accounts' webhook endpoints are on during this phase


@dataclass
class WrkResult:
    requests: int
    seconds: float
    unexpected: int  # answers with another status, and socket errors
    p50_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def wrk_check() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise BenchError(WRK_INSTALL)
    return path


def wrk_run(wrk: str, base_url: str, phase: Phase, seconds: float, var_dir: Path) -> WrkResult:
    script = var_dir / "phase.lua"
    script.write_text(
        WRK_SCRIPT
        % {
            "keys": ", ".join(lua_string(key) for key in phase.keys),
            "method": lua_string(phase.method),
            "path": lua_string(phase.path),
            "body": lua_string(phase.body) if phase.body is not None else "nil",
        }
    )
    threads = min(phase.concurrency, 2)
    argv = [
        wrk, f"-t{threads}", f"-c{phase.concurrency}", f"-d{seconds:.0f}s", "--timeout=10s",
        "-s", str(script), base_url,
    ]  # fmt: skip
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=seconds + 60, check=False, cwd=var_dir
    )
    with (var_dir / "wrk.log").open("a") as out:  # kept with --keep-logs
        out.write(f"== {phase.name}, {seconds:g} s\n{done.stdout}{done.stderr}\n")
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRK-JSON ")), None)
    if done.returncode != 0 or line is None:
        raise BenchError(f"wrk failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr}")
    raw = json.loads(line.removeprefix("WRK-JSON "))
    errors = raw["connect"] + raw["read"] + raw["write"] + raw["timeout"]
    status_errors = raw["status"]
    wrong = status_errors if phase.expected == 2 else raw["requests"] - status_errors
    return WrkResult(
        requests=raw["requests"],
        seconds=raw["duration_us"] / 1e6,
        unexpected=wrong + errors,
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
    )


# --- CPU per request, by part of the stack -----------------------------------------------------


def _process_times() -> Iterator[tuple[int, int, str, float]]:
    """(pid, process group, command name, CPU seconds used) of every process on the machine,
    from /proc (Linux)."""
    ticks = os.sysconf("SC_CLK_TCK")
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        # state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime
        yield int(entry.name), int(fields[2]), name, (int(fields[11]) + int(fields[12])) / ticks


@dataclass
class CpuMeter:
    """CPU seconds used so far by each part of the stack: the web server's and the worker's
    process groups (each child is started in a session of its own), every PostgreSQL and Redis
    server process on the machine (background writers included: their work is the calls'),
    and the bench's finished children (wrk: it is the only one that runs during a phase).
    Differences are taken per process, so one that exits in between (a PostgreSQL backend of a
    closed connection) takes its time with it instead of making the sum go down."""

    web_group: int
    worker_group: int

    @staticmethod
    def available() -> bool:
        return Path("/proc/self/stat").exists()

    def read(self) -> dict[tuple[str, int], float]:
        """(part, pid) → CPU seconds; the finished children are ("wrk", 0)."""
        used = {}
        for pid, group, name, seconds in _process_times():
            if group == self.web_group:
                used["web", pid] = seconds
            elif group == self.worker_group:
                used["worker", pid] = seconds
            elif name.startswith("postgres"):
                used["PostgreSQL", pid] = seconds
            elif name.startswith("redis-server"):
                used["Redis", pid] = seconds
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        used["wrk", 0] = children.ru_utime + children.ru_stime
        return used

    @staticmethod
    def per_request(
        before: dict[tuple[str, int], float], after: dict[tuple[str, int], float], requests: int
    ) -> dict[str, float]:
        """Milliseconds of CPU per request, by part, over the processes alive at the end."""
        spent = dict.fromkeys(CPU_PARTS, 0.0)
        for (part, pid), seconds in after.items():
            spent[part] += seconds - before.get((part, pid), 0.0)
        return {part: value * 1000 / max(requests, 1) for part, value in spent.items()}


# --- webhooks: a loopback receiver that answers 200 at once ------------------------------------

WEBHOOKS_ON = "execute c=16 1 key webhooks on"
WEBHOOKS_OFF = "execute c=16 1 key"


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    """The tests' loopback receiver (tests/webhooks/receiver.py) in this process: answers 200,
    keeps every delivery and checks its signature against the bench endpoints' secrets."""
    sys.path.insert(0, str(ROOT))
    from tests.webhooks.receiver import Receiver

    with Receiver() as receiver:
        yield receiver


def webhooks_register(base_url: str, keys: Sequence[str], receiver: Receiver) -> list[str]:
    """Register one endpoint per bench account over the API, switched off; return their paths
    (/api/v1/webhooks/<id>) in the order of `keys`, whose accounts own them."""
    endpoints = []
    with httpx.Client(base_url=base_url, timeout=10, trust_env=False) as client:
        for key in keys:
            answer = client.post(
                "/api/v1/webhooks",
                json={"url": receiver.url, "description": "bench receiver"},
                headers={"x-api-key": key},
            )
            if answer.status_code != 201:
                raise BenchError(f"could not register a webhook endpoint: {answer.text[:300]}")
            receiver.secrets.append(answer.json()["secret"])
            endpoints.append(f"/api/v1/webhooks/{answer.json()['id']}")
    webhooks_switch(base_url, keys, endpoints, on=False)
    return endpoints


def webhooks_switch(base_url: str, keys: Sequence[str], endpoints: list[str], *, on: bool) -> None:
    """Switch every bench endpoint on or off over the API (PATCH enabled)."""
    with httpx.Client(base_url=base_url, timeout=10, trust_env=False) as client:
        for key, endpoint in zip(keys, endpoints, strict=True):
            answer = client.patch(endpoint, json={"enabled": on}, headers={"x-api-key": key})
            if answer.status_code != 200 or answer.json().get("enabled") is not on:
                raise BenchError(f"could not switch {endpoint} on={on}: {answer.text[:300]}")


@dataclass
class WebhookSwitch:
    """The bench endpoints' switch; counts the processes that finish while it is on. Switch it
    only with the queues drained, so no delivery is left pending (a delivery to an endpoint
    switched off is dropped) and every process of the phase before has finished."""

    base_url: str
    database_url: str
    keys: list[str]
    endpoints: list[str]
    on: bool = False
    finished_at_on: int = 0
    finished_while_on: int = 0

    def set(self, on: bool) -> None:
        if on == self.on:
            return
        finished = db_counts(self.database_url, FINISHED_PROCESSES).get("finished", 0)
        if on:
            self.finished_at_on = finished
        else:
            self.finished_while_on += finished - self.finished_at_on
        webhooks_switch(self.base_url, self.keys, self.endpoints, on=on)
        self.on = on


def db_counts(database_url: str, query: str) -> dict[str, int]:
    """Rows of (name, count) of `query`, as a dict."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        return {str(name): int(count) for name, count in conn.execute(query).fetchall()}


FINISHED_PROCESSES = (
    "SELECT 'finished', count(*) FROM services_process WHERE state IN ('completed', 'error')"
)
DELIVERY_STATES = "SELECT state, count(*) FROM services_webhookdelivery GROUP BY state"


# --- report -----------------------------------------------------------------------------------


def versions() -> str:
    from importlib.metadata import version

    names = ["Django", "djangorestframework", "gunicorn", "celery", "httpx", "psycopg"]
    return " ".join(f"{n}={version(n)}" for n in names)


def spread(values: list[float], digits: int = 1) -> str:
    """Median of the rounds, and their range."""
    if not values:
        return "-"
    median = percentile(values, 50)
    if len(values) == 1:
        return f"{median:.{digits}f}"
    return f"{median:.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"


@dataclass
class Results:
    rounds: list[dict[str, WrkResult]] = field(default_factory=list)
    drains: list[dict[str, float]] = field(default_factory=list)  # the queues' backlog, seconds
    execute_to_completed: Measurement = field(
        default_factory=lambda: Measurement("execute -> completed")
    )
    celery_ping: Measurement = field(default_factory=lambda: Measurement("celery.ping"))
    commit_ms: list[float] = field(default_factory=list)  # a durable commit's p50, per round
    # per round: phase → part → ms of CPU per request (CPU_PHASES; empty without /proc)
    cpu: list[dict[str, dict[str, float]]] = field(default_factory=list)
    bare_task_cpu: list[dict[str, float]] = field(default_factory=list)  # part → ms, per round
    counts: dict[str, Any] = field(default_factory=dict)
    loads: list[str] = field(default_factory=list)
    finished_with_webhooks: int = 0  # processes finished while the endpoints were on
    deliveries_received: Counter[str] = field(default_factory=Counter)
    bad_signatures: int = 0
    delivery_states: dict[str, int] = field(default_factory=dict)

    def rates(self, phase: str) -> list[float]:
        return [r[phase].rate for r in self.rounds]

    def ratios(self, phase: str, floor: str) -> list[float]:
        return [r[phase].rate / r[floor].rate for r in self.rounds if r[floor].rate]

    def added(self, phase: str, floor: str, attribute: str) -> list[float]:
        return [getattr(r[phase], attribute) - getattr(r[floor], attribute) for r in self.rounds]

    def unexpected(self, phase: str) -> int:
        return sum(r[phase].unexpected for r in self.rounds)


def count_cell(counts: dict[str, Any], call: str, name: str) -> str:
    value = counts.get(call, {}).get(name)
    if not value:
        return "-"
    median, most = value["median"], value["max"]
    return f"{median:g}" if median == most else f"{median:g} (max {most})"


def webhook_rows(results: Results) -> list[tuple[str, str, str, str]]:
    """Execute with the endpoints on against off in the same rounds, and what was delivered."""
    received = ", ".join(f"{n} {event}" for event, n in results.deliveries_received.most_common())
    states = ", ".join(f"{n} {state}" for state, n in sorted(results.delivery_states.items()))
    return [
        (
            "POST text_analyzer/analyze → 202, c=16, one key, webhooks on",
            spread(results.rates(WEBHOOKS_ON)) + " req/s",
            spread(results.ratios(WEBHOOKS_ON, "floor c=16"), 2),
            "–",
        ),
        (
            "execute c=16, webhooks on / off",
            spread(results.ratios(WEBHOOKS_ON, WEBHOOKS_OFF), 2),
            "ratio of the two phases of each round",
            "–",
        ),
        (
            "queues drained after execute c=16 one key, webhooks on (off)",
            spread([d[WEBHOOKS_ON] for d in results.drains if WEBHOOKS_ON in d], 2) + " s",
            f"off: {spread([d[WEBHOOKS_OFF] for d in results.drains if WEBHOOKS_OFF in d], 2)} s"
            " (the worker's backlog at the phase's end)",
            "–",
        ),
        (
            "webhook deliveries received by the loopback receiver",
            f"{received or 'none'}",
            f"{results.finished_with_webhooks} processes finished while on; "
            f"{results.bad_signatures} bad signatures; deliveries in the db: {states or 'none'}",
            "–",
        ),
    ]


def cpu_rows(results: Results) -> list[tuple[str, str, str, str]]:
    """CPU per request by part of the stack, and the ratio those CPU costs allow: with every
    core busy a phase serves (cores / CPU per request) requests a second, so execute can reach
    at most (the floor's CPU per request / execute's) × the floor, whatever it waits on."""
    rounds = [r for r in results.cpu if all(phase in r for phase in CPU_PHASES)]
    if not rounds:
        return []
    rows = []
    totals: dict[str, list[float]] = {}
    for phase in CPU_PHASES:
        totals[phase] = [sum(r[phase].values()) for r in rounds]
        parts = ", ".join(
            f"{part} {spread([r[phase][part] for r in rounds], 2)}" for part in CPU_PARTS
        )
        rows.append((f"CPU per request, {phase}, all parts", spread(totals[phase], 2) + " ms",
                     parts, "–"))  # fmt: skip
    floor, execute = (totals[phase] for phase in CPU_PHASES)
    rows.append(
        (
            "ratio the CPU allows: floor's CPU per request / execute's (c=16, one key)",
            spread([f / e for f, e in zip(floor, execute, strict=True) if e], 2),
            "throughput ratio ceiling while the cores are the bottleneck; compare with the "
            "measured ratio above",
            "≥ 0.5 needed",
        )
    )
    paired = [
        (sum(r[CPU_PHASES[0]].values()), sum(task.values()), task)
        for r, task in zip(results.cpu, results.bare_task_cpu, strict=False)
        if CPU_PHASES[0] in r
    ]
    if paired:
        parts = ", ".join(
            f"{part} {spread([task[part] for _, _, task in paired], 2)}"
            for part in ("worker", "Redis")
        )
        rows.append(("CPU per bare Celery task (celery.ping, no result), worker + Redis",
                     spread([t for _, t, _ in paired], 2) + " ms", parts, "–"))  # fmt: skip
        rows.append(
            (
                "ratio the CPU would allow an execute that cost no more than a 401 plus one bare "
                "Celery task (no database, no engine, no usage row)",
                spread([f / (f + t) for f, t, _ in paired if f + t], 2),
                "the best any execute could do while it queues work for a worker (the "
                "contract's order of work) on these cores",
                "≥ 0.5 needed",
            )
        )
    return rows


def completion_bound(results: Results) -> str:
    """The shortest execute → completed the contract allows, as a multiple of a bare Celery
    round trip: the execute's own answer (p50 at c=1, wrk) plus one poll that costs no more
    than a 401 (the floor's p50 at c=1), with no time at all in the queue or the worker."""
    ping = results.celery_ping.latencies
    if not ping or not results.rounds:
        return "-"
    least = [
        r["execute c=1"].p50_ms + r["floor c=1"].p50_ms
        for r in results.rounds
        if "execute c=1" in r and "floor c=1" in r
    ]
    if not least:
        return "-"
    ms = percentile(least, 50)
    return f"{ms:.2f} ms, {ms / (percentile(ping, 50) * 1000):.2f} × ping"


def report(args: argparse.Namespace, results: Results) -> str:
    keys = args.keys
    rows: list[tuple[str, str, str, str]] = []
    floor = {16: "floor c=16", 64: "floor c=64"}
    for concurrency in (16, 64):
        rows.append(
            (
                f"floor: GET /api/v1/services, no key → 401, c={concurrency}",
                spread(results.rates(floor[concurrency])) + " req/s",
                "1",
                "–",
            )
        )
        for label, phase in (
            ("one key", f"execute c={concurrency} 1 key"),
            (f"{keys} keys", f"execute c={concurrency} {keys} keys"),
        ):
            goal = "≥ 0.5" if concurrency == 16 and label == "one key" else "–"
            rows.append(
                (
                    f"POST text_analyzer/analyze → 202, c={concurrency}, {label}",
                    spread(results.rates(phase)) + " req/s",
                    spread(results.ratios(phase, floor[concurrency]), 2),
                    goal,
                )
            )
    if args.webhooks:
        rows += webhook_rows(results)
    rows.append(
        (
            "poll: GET result (completed) → 200, c=16, one key",
            spread(results.rates("poll c=16")) + " req/s",
            spread(results.ratios("poll c=16", floor[16]), 2),
            "–",
        )
    )
    for q, attribute, goal in (("p50", "p50_ms", "< 4.3 ms"), ("p99", "p99_ms", "–")):
        base = [getattr(r["floor c=1"], attribute) for r in results.rounds]
        rows.append(
            (
                f"latency added by execute over the floor, {q} at c=1",
                spread(results.added("execute c=1", "floor c=1", attribute), 2) + " ms",
                f"floor {spread(base, 2)} ms",
                goal,
            )
        )
    added = results.added("execute c=1", "floor c=1", "p50_ms")
    rows.append(
        (
            "one durable commit on this PostgreSQL (1-row UPDATE, autocommit), p50",
            spread(results.commit_ms, 2) + " ms",
            "added p50 less one commit: "
            + spread([a - c for a, c in zip(added, results.commit_ms, strict=False)], 2)
            + " ms (an execute waits for one commit: its charge)",
            "–",
        )
    )
    done, ping = results.execute_to_completed, results.celery_ping
    ratio = (
        f"{percentile(done.latencies, 50) / percentile(ping.latencies, 50):.2f}"
        if done.latencies and ping.latencies
        else "-"
    )
    rows.append(
        (
            f"execute → completed, poll every {args.poll_interval * 1000:g} ms, p50 (p99)",
            f"{done.ms(50)} ({done.ms(99)}) ms",
            f"{ratio} × ping",
            "≤ 1.5",
        )
    )
    rows.append(
        (
            "execute → completed at the least the contract allows: the execute's p50 at c=1 "
            "plus one poll at the floor's p50 at c=1, nothing for the queue and the worker",
            completion_bound(results),
            "a lower bound: an execute answers before its task runs, and a client learns the "
            "result from a poll",
            "≤ 1.5 needed",
        )
    )
    rows.append(
        (
            "bare Celery round trip: celery.ping on the same Redis, p50 (p99)",
            f"{ping.ms(50)} ({ping.ms(99)}) ms",
            "1",
            "–",
        )
    )
    rows += cpu_rows(results)
    counts = results.counts
    for call, label in (
        ("execute", "execute (web)"),
        ("poll", "poll (web)"),
        ("task", "run_process task body (worker)"),
    ):
        rows.append(
            (
                f"SQL round trips per {label}: statements + BEGIN/COMMIT",
                count_cell(counts, call, "sql_round_trips"),
                f"{count_cell(counts, call, 'statements')} statements, "
                f"{count_cell(counts, call, 'transactions')} transactions, "
                f"{count_cell(counts, call, 'connections')} new connections",
                "–",
            )
        )
        rows.append((f"Redis round trips per {label}", count_cell(counts, call, "redis"),
                     "–", "–"))  # fmt: skip
    problems = [
        f"{phase}: {results.unexpected(phase)} unexpected answers or socket errors"
        for phase in (results.rounds[0] if results.rounds else {})
        if results.unexpected(phase)
    ]
    for row in (done, ping):
        problems += [f"{row.name}: {count}x {err}" for err, count in row.errors.most_common(3)]
    phase_count = len(results.rounds[0]) if results.rounds else 0
    lines = [
        "BReact Console API benchmark: ratios against the framework floor, interleaved rounds",
        "",
        f"- when: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; host: {platform.node()}, "
        f"{os.cpu_count()} CPUs, shared (load average 1 min before/after: "
        f"{' / '.join(results.loads)}); Python {platform.python_version()}, {versions()}",
        f"- server: gunicorn gthread --workers {args.workers} --threads {args.threads}; celery "
        f"prefork --concurrency {args.worker_concurrency}; BREACT_DEBUG unset; PostgreSQL db "
        f"{args.db_name}; Redis db {args.redis_db} (cache, rate limits, broker, results)",
        f"- load: wrk on loopback, {args.rounds} rounds × {phase_count} "
        f"phases of {args.seconds:g} s, the phases interleaved in each round, the job queue "
        f"drained before each phase; cells give the median of the rounds (min–max)",
        f"- webhooks: {webhook_note(args)}",
        f"- round trips: {args.samples} sequential samples of each, interleaved; counts: "
        f"{counts.get('execute', {}).get('samples', 0)} calls of each counted in-process "
        "(bench/round_trips.py)",
        "",
        "| measurement | value | ratio / detail | goal (issue 14) |",
        "|---|---|---|---|",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows),
    ]
    if problems:
        lines += ["", "Problems seen:", *(f"- {p}" for p in problems)]
    return "\n".join(lines)


def webhook_note(args: argparse.Namespace) -> str:
    if not args.webhooks:
        return "off (no endpoint registered; --webhooks measures them on against off)"
    return (
        f"one endpoint per account ({args.keys}), a loopback receiver in the bench process "
        f"answering 200 at once; switched on (PATCH enabled) only for the phase "
        f"'{WEBHOOKS_ON}', which runs next to '{WEBHOOKS_OFF}' (on first in even rounds); "
        f"the worker consumes the queues {', '.join(WORKER_QUEUES)}; pending deliveries are "
        "drained with the job queue before each phase"
    )


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
    add("--rounds", type=int, default=3, help="rounds of the interleaved load phases")
    add("--seconds", type=float, default=5, help="length of each load phase (wrk -d)")
    add("--keys", type=int, default=16, help="keys (one per account) of the many-keys phases")
    add("--samples", type=int, default=50, help="sequential samples of each round trip")
    add("--count-samples", type=int, default=10, help="calls counted in-process")
    add("--bare-tasks", type=int, default=2000,
        help="celery.ping messages per round whose CPU per message is read")  # fmt: skip
    add("--poll-interval", type=float, default=0.001, help="seconds between result polls")
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
        help="register a webhook endpoint (a loopback receiver in this process) for every bench "
        "account and add a phase of execute c=16 with them on, next to the one with them off",
    )
    args = parser.parse_args(argv)
    if args.redis_db == 0:
        parser.error("--redis-db 0 is the default db of other tools; pick a reserved one")
    if "bench" not in args.db_name:
        parser.error("--db-name is dropped and recreated: it must contain 'bench'")
    if min(args.rounds, args.seconds, args.keys, args.samples, args.workers, args.threads) < 1:
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


def phases(args: argparse.Namespace, keys: list[str], result_path: str) -> list[Phase]:
    """One round: each execute phase right after the floor it is compared with; with
    --webhooks, execute c=16 with the endpoints on right after the same phase with them off."""
    execute = "/api/v1/services/text_analyzer/analyze"
    body = json.dumps({"text": SMALL_TEXT})
    many = len(keys)
    out = []
    for concurrency in (16, 64):
        out += [
            Phase(f"floor c={concurrency}", "GET", "/api/v1/services", [""], concurrency, 401),
            Phase(f"execute c={concurrency} 1 key", "POST", execute, keys[:1], concurrency, 2,
                  body),
            Phase(f"execute c={concurrency} {many} keys", "POST", execute, keys, concurrency, 2,
                  body),
        ]  # fmt: skip
    if args.webhooks:
        off = next(n for n, phase in enumerate(out) if phase.name == WEBHOOKS_OFF)
        out.insert(off + 1, replace(out[off], name=WEBHOOKS_ON, webhooks=True))
    return [
        *out,
        Phase("poll c=16", "GET", result_path, keys[:1], 16, 2),
        Phase("floor c=1", "GET", "/api/v1/services", [""], 1, 401),
        Phase("execute c=1", "POST", execute, keys[:1], 1, 2, body),
    ]


def alternated(round_phases: list[Phase], number: int) -> list[Phase]:
    """The phases of round `number`: in even rounds the webhooks-on phase runs before its
    webhooks-off twin, so neither always has the other's after-effects."""
    names = [phase.name for phase in round_phases]
    if number % 2 or WEBHOOKS_ON not in names:
        return round_phases
    on, off = names.index(WEBHOOKS_ON), names.index(WEBHOOKS_OFF)
    swapped = list(round_phases)
    swapped[on], swapped[off] = round_phases[off], round_phases[on]
    return swapped


def settle(base_url: str) -> None:
    """Let the server finish the requests the last phase left queued: wait until a few probes
    in a row are answered quickly (gunicorn answers each worker's queue in order)."""
    quick = 0
    deadline = time.monotonic() + 60
    with httpx.Client(base_url=base_url, timeout=30, trust_env=False) as client:
        while quick < 3 and time.monotonic() < deadline:
            began = time.perf_counter()
            with suppress(httpx.HTTPError):
                client.get("/api/v1/services")  # the floor: 401 without touching the database
            quick = quick + 1 if time.perf_counter() - began < 0.2 else 0
            time.sleep(0.1)


def completed_result_path(base_url: str, api_key: str, timeout: float) -> str:
    """Execute once and wait until done: the result the poll phase reads."""
    headers = {"x-api-key": api_key, "content-type": "application/json"}
    with httpx.Client(base_url=base_url, timeout=10, trust_env=False, headers=headers) as client:
        answer = client.post(
            "/api/v1/services/text_analyzer/analyze", content=json.dumps({"text": SMALL_TEXT})
        )
        if answer.status_code != 202:
            raise BenchError(f"execute answered {answer.status_code}: {answer.text[:300]}")
        result_url = answer.json()["result_url"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if client.get(result_url).json().get("status") == "completed":
                return str(httpx.URL(result_url).raw_path.decode())
            time.sleep(0.05)
    raise BenchError(f"the process of {result_url} did not complete in {timeout:.0f} s")


def measure(
    args: argparse.Namespace,
    base_url: str,
    keys: list[str],
    app: Celery,
    database_url: str,
    var_dir: Path,
    results: Results,
    hooks: WebhookSwitch | None = None,
    cpu: CpuMeter | None = None,
) -> None:
    """The interleaved load rounds, then the interleaved sequential round trips. With `cpu`,
    the CPU per request of the CPU_PHASES too: read before the phase and after it and the
    queue it left have been worked off, so the worker's share of its calls is counted."""
    wrk = wrk_check()
    results.loads.append(load_average())
    timeout = args.sample_timeout

    def drain(before: str) -> float:
        """Seconds it took for the queues (processes, deliveries) to empty."""
        began = time.perf_counter()
        left = wait_for_queue_drain(args, database_url, timeout=max(60, args.seconds * 12))
        if left:
            log(f"warning: {left} processes or deliveries still unfinished before {before}")
        return time.perf_counter() - began

    def webhooks_for(phase: Phase) -> None:
        if hooks is not None and hooks.on != phase.webhooks:
            drain(phase.name)
            hooks.set(phase.webhooks)

    round_phases = phases(args, keys, completed_result_path(base_url, keys[0], timeout))
    for phase in round_phases:  # warm-up: connections, imports, caches
        webhooks_for(phase)
        wrk_run(wrk, base_url, phase, 1, var_dir)
    for number in range(1, args.rounds + 1):
        measured: dict[str, WrkResult] = {}
        drained: dict[str, float] = {}
        used: dict[str, dict[str, float]] = {}
        previous: Phase | None = None
        drained_early = 0.0  # the previous phase's queue, worked off before its CPU reading
        for phase in alternated(round_phases, number):
            took = drained_early + drain(phase.name)
            drained_early = 0.0
            if previous is not None:
                drained[previous.name] = took
            previous = phase
            webhooks_for(phase)
            if phase.name.startswith("poll"):  # results are deleted a minute after done
                phase = replace(phase, path=completed_result_path(base_url, keys[0], timeout))
            settle(base_url)
            before = cpu.read() if cpu is not None and phase.name in CPU_PHASES else None
            measured[phase.name] = wrk_run(wrk, base_url, phase, args.seconds, var_dir)
            got = measured[phase.name]
            if cpu is not None and before is not None:
                drained_early = drain(f"the CPU reading after {phase.name}")
                used[phase.name] = CpuMeter.per_request(before, cpu.read(), got.requests)
            log(f"round {number}/{args.rounds} {phase.name}: {got.rate:.1f} req/s, "
                f"p50 {got.p50_ms:.1f} ms, {got.unexpected} unexpected")  # fmt: skip
        results.rounds.append(measured)
        results.drains.append(drained)
        results.cpu.append(used)
        results.commit_ms.append(durable_commit_ms(database_url, samples=args.samples))
        if cpu is not None:
            results.bare_task_cpu.append(
                bare_task_cpu(app, cpu, tasks=args.bare_tasks, timeout=max(60, timeout))
            )
        results.loads.append(load_average())

    drain("the round trips")
    if hooks is not None:
        hooks.set(False)
        results.finished_with_webhooks = hooks.finished_while_on
    log(f"round trips: {args.samples} sequential samples each, interleaved")
    timing = {"poll_interval": args.poll_interval, "timeout": args.sample_timeout}
    for number in range(args.samples + 3):
        done = execute_to_result(base_url, keys[0], samples=1, **timing)
        ping = celery_round_trip(app, samples=1, timeout=args.sample_timeout)
        if number < 3:
            continue  # warm-up
        for total, one in ((results.execute_to_completed, done), (results.celery_ping, ping)):
            total.attempted += one.attempted
            total.latencies += one.latencies
            total.errors.update(one.errors)
    results.loads.append(load_average())


def count_round_trips(args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    """Create the keys and count SQL/Redis round trips per call (bench/round_trips.py)."""
    done = subprocess.run(
        [PYTHON, str(ROOT / "bench" / "round_trips.py"), f"--keys={args.keys}",
         f"--samples={args.count_samples}", f"--text={SMALL_TEXT}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise BenchError(f"round_trips.py failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


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
        results = Results()
        log(f"creating {args.keys} keys; counting SQL and Redis round trips per call")
        counted = count_round_trips(args, env)
        keys, results.counts = list(counted["keys"]), dict(counted["counts"])
        store.flushdb()  # the counted calls' broker messages: their processes already ran

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
        hooks = None
        if args.webhooks:
            receiver = stack.enter_context(webhook_receiver())
            log(f"registering a webhook endpoint for each of the {args.keys} accounts")
            endpoints = webhooks_register(base_url, keys, receiver)
            hooks = WebhookSwitch(base_url, database_url, keys, endpoints)

        cpu = CpuMeter(server.proc.pid, worker.proc.pid) if CpuMeter.available() else None
        measure(args, base_url, keys, app, database_url, var_dir, results, hooks, cpu)
        if args.webhooks:
            wait_for_queue_drain(args, database_url, timeout=60)
            results.deliveries_received = Counter(
                got.headers.get("BReact-Event", "?") for got in receiver.received
            )
            results.bad_signatures = sum(not got.verified for got in receiver.received)
            results.delivery_states = db_counts(database_url, DELIVERY_STATES)
            log(f"webhook deliveries received: {len(receiver.received)}")
        for started in (server, worker):
            if not started.alive():
                raise BenchError(f"{started.name} died during the run:\n{started.tail()}")
        log("stopping the server and the worker, dropping the database")
    return report(args, results)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        wrk_check()
    except BenchError as exc:
        log(f"failed: {exc}")
        return 1
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
