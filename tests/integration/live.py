"""Live processes for the integration tests: gunicorn and Celery workers as subprocesses."""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import httpx
from django.conf import settings
from django.db import connection

from tests.support import skip_or_fail

BASE_DIR = Path(settings.BASE_DIR)
SLOW_SERVICE_MODULE = "tests.integration.slow_service"
STARTUP_TIMEOUT = 45.0
STOP_TIMEOUT = 3.0  # then SIGKILL: nothing of value runs at teardown
EXECUTE_PATH = "/api/v1/services/text_analyzer/analyze"

# Every process started and not yet stopped, so a failing test can show their logs.
RUNNING: list[LiveProcess] = []

T = TypeVar("T")


def wait_for(
    probe: Callable[[], T | bool | None],
    *,
    timeout: float,
    interval: float = 0.1,
    what: str = "condition",
) -> T:
    """Call `probe` until it returns something truthy and return that; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = probe()
        if last:
            return last  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            raise AssertionError(f"Timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def need_postgres() -> None:
    if connection.vendor != "postgresql":
        skip_or_fail(
            "This test needs PostgreSQL: run the suite with "
            "DATABASE_URL=postgres://USER@HOST:PORT/NAME"
        )


def need_redis() -> None:
    if not settings.REDIS_URL:
        skip_or_fail("This test needs Redis: run the suite with REDIS_URL=redis://HOST:PORT/DB")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_url(settings_dict: Mapping[str, Any]) -> str:
    """A DATABASE_URL for the database pytest-django created (settings_dict after setup)."""
    engine = settings_dict["ENGINE"]
    name = str(settings_dict["NAME"])
    if engine == "django.db.backends.sqlite3":
        if name == ":memory:" or "mode=memory" in name:
            raise RuntimeError("An in-memory SQLite test database cannot be shared with a server.")
        return f"sqlite:///{Path(name).resolve()}"
    if engine != "django.db.backends.postgresql":
        raise RuntimeError(f"No live-server support for the {engine} backend.")
    user = quote(str(settings_dict.get("USER") or ""), safe="")
    password = quote(str(settings_dict.get("PASSWORD") or ""), safe="")
    host = str(settings_dict.get("HOST") or "localhost")
    host = quote(host, safe="") if host.startswith("/") else host  # a socket folder
    port = settings_dict.get("PORT")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    netloc = f"{auth}{host}" + (f":{port}" if port else "")
    url = f"postgres://{netloc}/{quote(name, safe='')}"
    options = {
        key: value
        for key, value in (settings_dict.get("OPTIONS") or {}).items()
        if isinstance(value, (str, int))
    }
    return f"{url}?{urlencode(options)}" if options else url


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it if pytest dies, so no server outlives the suite."""
    with contextlib.suppress(Exception):
        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def _proc_stats() -> Iterator[tuple[int, str, int, int]]:
    """(pid, state, ppid, pgrp) of every process, from /proc."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ...": comm may hold spaces or parentheses.
        state, ppid, pgrp = stat[stat.rindex(")") + 2 :].split()[:3]
        yield int(entry.name), state, int(ppid), int(pgrp)


def _group_alive(pgid: int) -> bool:
    """Whether any live (not zombie) process is left in the process group."""
    return any(pgrp == pgid and state != "Z" for _, state, _, pgrp in _proc_stats())


@dataclass
class LiveProcess:
    """A child process in its own process group, its output in `log_path`."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @classmethod
    def spawn(
        cls, name: str, argv: list[str], env: Mapping[str, str], log_dir: Path
    ) -> LiveProcess:
        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / f"{name}.log"
        with open(log_path, "ab") as log:
            popen = subprocess.Popen(
                argv,
                cwd=BASE_DIR,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: teardown reaches its children
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        process = cls(name=name, popen=popen, log_path=log_path)
        RUNNING.append(process)
        return process

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def children(self) -> list[int]:
        """Live pids whose parent is this process (gunicorn workers, Celery pool processes)."""
        return sorted(
            pid for pid, state, ppid, _ in _proc_stats() if ppid == self.pid and state != "Z"
        )

    def fail(self, message: str) -> AssertionError:
        return AssertionError(
            f"{message}\n--- {self.name} (pid {self.pid}), log {self.log_path}:\n{self.tail()}"
        )

    def terminate(self, sig: int) -> None:
        """Send `sig` to the whole process group (the process and its workers)."""
        if _group_alive(self.pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, sig)

    def reap(self) -> None:
        """Wait for the group to be gone, SIGKILLing it after STOP_TIMEOUT. Grandchildren
        (gunicorn workers, pool processes) too: they hold connections to the test database,
        which is dropped at the end of the session."""
        deadline = time.monotonic() + STOP_TIMEOUT
        while _group_alive(self.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _group_alive(self.pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=STOP_TIMEOUT)
        deadline = time.monotonic() + STOP_TIMEOUT
        while _group_alive(self.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if self in RUNNING:
            RUNNING.remove(self)


def _gunicorn_has_control_socket() -> bool:
    from gunicorn.config import Config

    return "control_socket_disable" in Config().settings


@dataclass
class LiveServer:
    process: LiveProcess
    url: str

    @classmethod
    def spawn(
        cls, name: str, env: Mapping[str, str], log_dir: Path, *, workers: int = 2
    ) -> LiveServer:
        port = free_port()
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "breact.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            "4",
            "--worker-class",
            "gthread",
            "--graceful-timeout",
            "1",
            "--timeout",
            "60",
            "--access-logfile",
            "-",
            "--error-logfile",
            "-",
        ]
        if _gunicorn_has_control_socket():
            # Otherwise every gunicorn on the machine shares ~/.gunicorn/gunicorn.ctl.
            argv.append("--no-control-socket")
        return cls(LiveProcess.spawn(name, argv, env, log_dir), f"http://127.0.0.1:{port}")

    def wait_ready(self, *, expect_status: int = 200) -> httpx.Response:
        """Until /api/v1/health answers `expect_status` (503 for a server meant to be broken);
        returns that answer."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        last = "no answer"
        while time.monotonic() < deadline:
            if not self.process.alive():
                raise self.process.fail(f"{self.process.name} exited during start-up")
            try:
                response = httpx.get(f"{self.url}/api/v1/health", timeout=5)
            except httpx.TransportError as exc:
                last = repr(exc)
            else:
                if response.status_code == expect_status:
                    return response
                last = f"{response.status_code} {response.text[:500]}"
            time.sleep(0.1)
        raise self.process.fail(
            f"{self.url}/api/v1/health did not answer {expect_status} (last: {last})"
        )

    def client(self, raw_key: str | None = None, **options: Any) -> httpx.Client:
        headers = {"x-api-key": raw_key} if raw_key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **options)

    def terminate(self) -> None:
        self.process.terminate(signal.SIGINT)  # gunicorn's quick shutdown


@dataclass
class LiveWorker:
    process: LiveProcess
    node: str  # the node name before "@host"

    @classmethod
    def spawn(
        cls, name: str, env: Mapping[str, str], log_dir: Path, *, concurrency: int = 2
    ) -> LiveWorker:
        node = f"{name}-{uuid.uuid4().hex[:8]}"
        argv = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "breact",
            "worker",
            "--concurrency",
            str(concurrency),
            "--pool",
            "prefork",
            "--loglevel",
            "INFO",
            # No chatter with other workers on the same broker, and a faster start.
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
            "-n",
            f"{node}@%h",
        ]
        return cls(LiveProcess.spawn(name, argv, env, log_dir), node)

    def wait_ready(self) -> None:
        """Until the worker logs "<node> ready." (consumer connected, pool processes forked).
        Works with every broker; `celery inspect ping` does not with the embedded one (it has
        no remote control)."""
        ready = re.compile(rf"^{re.escape(self.node)}@\S+ ready\.$", re.MULTILINE)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if not self.process.alive():
                raise self.process.fail(f"{self.process.name} exited during start-up")
            if ready.search(self.process.log()):
                return
            time.sleep(0.1)
        raise self.process.fail(f"{self.process.name} did not report ready")

    def pool_pids(self) -> list[int]:
        return self.process.children()

    def terminate(self) -> None:
        # Cold shutdown: the tests wait for their own tasks, and a warm one can take seconds on
        # the embedded broker.
        self.process.terminate(signal.SIGQUIT)


@dataclass
class LiveEnv:
    """How the live processes reach the test session's database and Redis."""

    database_url: str
    redis_url: str
    log_dir: Path

    def child_env(self, var_dir: Path, **overrides: str) -> dict[str, str]:
        """The environment of a server or worker: the test database, Redis when the suite has
        it (cache, rate limits and broker), else the embedded broker under `var_dir`."""
        env = dict(os.environ)
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "breact.settings",
                "PYTHONUNBUFFERED": "1",
                "DATABASE_URL": self.database_url,
                "REDIS_URL": self.redis_url,
                "CELERY_BROKER_URL": self.redis_url or "embedded://",
                "BREACT_VAR_DIR": str(var_dir),
                # Keys are hashed with this secret: the server must verify what the tests issue.
                "BREACT_SECRET_KEY": settings.SECRET_KEY,
                "BREACT_API_KEY_HASH_SECRET": settings.BREACT_API_KEY_HASH_SECRET,
                # Pinned so a developer's .env cannot change what the tests expect.
                "BREACT_DEBUG": "0",
                "BREACT_ALLOWED_HOSTS": "127.0.0.1,localhost",
                "BREACT_SSL_REDIRECT": "0",
                # Plain http on loopback: the browser tests need the session cookie sent.
                "BREACT_SECURE_COOKIES": "0",
                "BREACT_LOG_LEVEL": "INFO",
                "BREACT_RESULT_TTL": "60",
                "BREACT_PROCESS_DEADLINE": "600",
                "BREACT_DEFAULT_RATE_LIMIT": "600/m",
                # The SDK polls fast in these tests; the poll limit is not what they test.
                "BREACT_POLL_RATE_LIMIT": "60000/m",
                "BREACT_EXTRA_SERVICE_MODULES": SLOW_SERVICE_MODULE,
                # Transactional tests empty the tables after each test, heartbeats included:
                # workers write theirs every second so the next test finds one quickly.
                "BREACT_HEARTBEAT_SECONDS": "1",
                # The catalogue tests scrape a page served on loopback by the test process.
                "BREACT_WEBSCRAPER_ALLOW_LOOPBACK": "1",
                # Free top-ups for the browser walkthrough; forced, as debug is off here.
                "BREACT_PAYMENTS_TEST_MODE": "force",
                # Mail (invitations) lands in files the browser tests read.
                "BREACT_EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
                "BREACT_EMAIL_FILE_PATH": str(var_dir / "mail"),
            }
        )
        env.update(overrides)
        return env


@dataclass
class LiveStack:
    """A server and (usually) a worker sharing one environment."""

    server: LiveServer
    worker: LiveWorker | None
    env: dict[str, str]
    var_dir: Path
    health: dict[str, Any]

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, raw_key: str | None = None, **options: Any) -> httpx.Client:
        return self.server.client(raw_key, **options)


@dataclass
class LiveFactory:
    """Starts servers and workers and stops them all at `close()`."""

    live_env: LiveEnv
    started: list[LiveServer | LiveWorker] = field(default_factory=list)

    def stack(
        self,
        name: str,
        env: dict[str, str],
        var_dir: Path,
        *,
        with_worker: bool = True,
        web_workers: int = 2,
        concurrency: int = 2,
        expect_health: int = 200,
    ) -> LiveStack:
        """Spawn a server (and a worker) at once, then wait for both."""
        server = LiveServer.spawn(f"{name}-web", env, self.live_env.log_dir, workers=web_workers)
        self.started.append(server)
        worker = None
        if with_worker:
            worker = LiveWorker.spawn(
                f"{name}-worker", env, self.live_env.log_dir, concurrency=concurrency
            )
            self.started.append(worker)
        if worker is not None:
            worker.wait_ready()
        health = server.wait_ready(expect_status=expect_health).json()
        return LiveStack(server=server, worker=worker, env=env, var_dir=var_dir, health=health)

    def close(self) -> None:
        """Stop everything this factory started, all at once."""
        for item in self.started:
            item.terminate()
        while self.started:
            self.started.pop().process.reap()


def poll_until_finished(client: httpx.Client, result_url: str, *, timeout: float = 30) -> Any:
    """Poll a result URL until the process is no longer pending; the final 200 body."""

    def probe() -> Any:
        response = client.get(result_url)
        assert response.status_code == 200, response.text
        body = response.json()
        return body if body["status"] != "pending" else None

    return wait_for(probe, timeout=timeout, interval=0.05, what=f"{result_url} to finish")
