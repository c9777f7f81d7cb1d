"""The default stack exactly as `make run` starts it: `manage.py serve` (gunicorn, a Celery worker
and beat under supervision) on SQLite and the embedded broker, nothing else configured."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.integration.live import (
    BASE_DIR,
    SLOW_SERVICE_MODULE,
    STARTUP_TIMEOUT,
    LiveProcess,
    free_port,
    wait_for,
)

# What `make run` sets, plus what the tests need: the slow service and a fast failing of
# missing heartbeats.
RUN_ENV = {"BREACT_DEBUG": "1", "BREACT_SECURE_COOKIES": "0"}
UNSET = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "BREACT_DB_CONN_MAX_AGE")
STARTED = re.compile(
    r"started the web server \(pid (\d+)\), the worker \(pid (\d+)\) and beat \(pid (\d+)\)"
)
RESTARTED = re.compile(r"started the (web server|worker|beat) again \(pid (\d+)\)")


def default_env(var_dir: Path, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in UNSET and not k.startswith("CI_")}
    env.update(RUN_ENV)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "breact.settings",
            "PYTHONUNBUFFERED": "1",
            "BREACT_VAR_DIR": str(var_dir),
            "BREACT_EXTRA_SERVICE_MODULES": SLOW_SERVICE_MODULE,
            "BREACT_LOG_LEVEL": "INFO",
        }
    )
    env.update(overrides)
    return env


@dataclass
class DefaultStack:
    """`manage.py serve` on a fresh SQLite database and embedded broker under `var_dir`."""

    var_dir: Path
    env: dict[str, str]
    port: int
    serve: LiveProcess

    @classmethod
    def start(cls, var_dir: Path, log_dir: Path, **overrides: str) -> DefaultStack:
        env = default_env(var_dir, **overrides)
        var_dir.mkdir(parents=True, exist_ok=True)
        cls.manage_with(env, "migrate", "--noinput", "-v0")
        port = free_port()
        argv = [sys.executable, "manage.py", "serve", "--port", str(port), "--concurrency", "2"]
        argv += ["--demo-user"]
        serve = LiveProcess.spawn(f"serve-{port}", argv, env, log_dir)
        stack = cls(var_dir=var_dir, env=env, port=port, serve=serve)
        stack.wait_worker()
        return stack

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @staticmethod
    def manage_with(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def manage(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.manage_with(self.env, *args)

    def create_key(self, *, credits: int, rate_limit: str = "100000/m") -> str:
        done = self.manage(
            "create_api_key",
            "--email",
            f"user-{time.monotonic_ns()}@example.com",
            "--credits",
            str(credits),
            "--rate-limit",
            rate_limit,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip().splitlines()[-1].split()[-1]

    def health(self) -> dict[str, Any]:
        response = httpx.get(f"{self.url}/api/v1/health", timeout=5)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def wait_worker(self, timeout: float = STARTUP_TIMEOUT) -> dict[str, Any]:
        def ready() -> dict[str, Any] | None:
            if not self.serve.alive():
                raise self.serve.fail("serve exited")
            try:
                body = self.health()
            except (httpx.HTTPError, AssertionError):
                return None
            return body if body["checks"]["worker"] == "ok" else None

        return wait_for(ready, timeout=timeout, interval=0.1, what="a worker heartbeat")

    def pids(self) -> dict[str, int]:
        """The current pid of each child, from serve's log."""
        log = self.serve.log()
        first = STARTED.search(log)
        if first is None:
            raise self.serve.fail("serve did not log its children")
        pids = dict(zip(("web server", "worker", "beat"), map(int, first.groups()), strict=True))
        for name, pid in RESTARTED.findall(log):
            pids[name] = int(pid)
        return pids

    @contextlib.contextmanager
    def db(self) -> Iterator[sqlite3.Connection]:
        """A read-only connection to the stack's SQLite database."""
        path = self.var_dir / "breact.sqlite3"
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            yield conn
        finally:
            conn.close()

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with self.db() as conn:
            return list(conn.execute(sql, params))

    def stop(self) -> None:
        """Ctrl-C, as a user stops `make run`."""
        if self.serve.alive():
            os.kill(self.serve.pid, signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.serve.popen.wait(timeout=30)
        self.serve.reap()

    def crash(self) -> None:
        """Everything dies at once (SIGKILL to serve and to every child's process group), as when
        the machine or the terminal is killed."""
        pids = self.pids()
        for pid in [*pids.values(), self.serve.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        self.serve.reap()
