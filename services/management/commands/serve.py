"""Run the web server (gunicorn), a Celery worker and Celery beat in the foreground, and keep
them running: a child that exits is started again (with backoff); only Ctrl-C or SIGTERM stops
everything."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from gunicorn import version_info as gunicorn_version

# A child that ran at least this long before exiting is restarted at once; quicker exits back
# off: 1, 2, 4 … up to MAX_BACKOFF seconds.
STABLE_SECONDS = 30.0
MAX_BACKOFF = 30.0
STOP_TIMEOUT = 15.0
RESTART_WINDOW = 600.0


def _stop_with_parent() -> None:
    """In the child before exec (Linux): SIGTERM it when `serve` dies, even by SIGKILL, so no
    web server or worker outlives its supervisor and holds the port."""
    if sys.platform == "linux":
        with contextlib.suppress(Exception):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with status {returncode}"


@dataclass
class Child:
    """A supervised child process, in its own process group (so its own children go with it,
    and Ctrl-C in the terminal reaches only `serve`, which stops everything in order)."""

    name: str
    argv: list[str]
    popen: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    quick_exits: int = 0
    restart_at: float | None = None
    restarts: deque[float] = field(default_factory=deque)

    def start(self) -> None:
        self.popen = subprocess.Popen(
            self.argv, start_new_session=True, preexec_fn=_stop_with_parent
        )
        self.started = time.monotonic()
        self.restart_at = None

    @property
    def pid(self) -> int:
        return self.popen.pid if self.popen else 0

    def exited(self) -> int | None:
        return None if self.popen is None else self.popen.poll()

    def signal_group(self, sig: int) -> None:
        if self.popen is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, sig)

    def group_alive(self) -> bool:
        if self.popen is None:
            return False
        try:
            os.killpg(self.popen.pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True


class Command(BaseCommand):
    help = (
        "Start the web server, a worker and beat together and restart any of them that exits. "
        "Ctrl-C or SIGTERM stops them all."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--concurrency", type=int, default=2, help="Worker processes.")
        parser.add_argument(
            "--demo-user",
            action="store_true",
            help="Create the demo staff user if missing and print its sign-in once ready.",
        )

    def log(self, message: str) -> None:
        self.stderr.write(f"[serve {time.strftime('%H:%M:%S')}] {message}")

    def handle(self, *args: Any, **options: Any) -> None:
        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        demo = None
        if options["demo_user"]:
            from accounts.demo import demo_user_ensure

            demo = demo_user_ensure()
        url = f"http://{options['host']}:{options['port']}"
        children = [
            Child("web server", self.web_argv(options)),
            Child("worker", self.worker_argv(options)),
            Child("beat", self.beat_argv()),
        ]
        stopping = False

        def stop(signum: int, _frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        for child in children:
            child.start()
        self.log(
            f"started the web server (pid {children[0].pid}), the worker (pid "
            f"{children[1].pid}) and beat (pid {children[2].pid})."
        )
        announced = False
        began = time.monotonic()
        while not stopping:
            now = time.monotonic()
            for child in children:
                if child.restart_at is not None:
                    if now >= child.restart_at:
                        child.start()
                        self.log(f"started the {child.name} again (pid {child.pid}).")
                    continue
                returncode = child.exited()
                if returncode is not None:
                    self.schedule_restart(child, returncode, now)
            if not announced and (now - began > 1.0):
                announced = self.announce_when_ready(url, demo)
            time.sleep(0.2)
        self.log("stopping the web server, the worker and beat.")
        for child in children:
            if child.exited() is None:
                child.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for child in children:
            if child.popen is None:
                continue
            try:
                child.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.log(f"the {child.name} did not stop in {STOP_TIMEOUT:.0f} s; killing it.")
            child.signal_group(signal.SIGKILL)
        sys.exit(0)

    def schedule_restart(self, child: Child, returncode: int, now: float) -> None:
        """Clean up what the child left behind and plan its restart, with backoff for a child
        that keeps exiting quickly; one log line says why and how often."""
        ran = now - child.started
        child.signal_group(signal.SIGKILL)  # its own children (pool processes, web workers)
        child.quick_exits = child.quick_exits + 1 if ran < STABLE_SECONDS else 0
        delay = min(MAX_BACKOFF, 2.0 ** (child.quick_exits - 1)) if child.quick_exits else 0.0
        child.restarts.append(now)
        while child.restarts and now - child.restarts[0] > RESTART_WINDOW:
            child.restarts.popleft()
        child.restart_at = now + delay
        self.log(
            f"the {child.name} (pid {child.pid}) {describe_exit(returncode)} after {ran:.0f} s; "
            f"restarting it in {delay:.0f} s (restart {len(child.restarts)} in the last "
            f"{RESTART_WINDOW / 60:.0f} minutes)."
        )

    def announce_when_ready(self, url: str, demo: Any) -> bool:
        """Once the web server answers and a worker has a heartbeat, print where to go (and the
        demo sign-in, boxed, last). Returns whether it printed."""
        try:
            health = httpx.get(f"{url}/api/v1/health", timeout=2).json()
        except (httpx.HTTPError, ValueError):
            return False
        if health.get("checks", {}).get("worker") != "ok":
            return False
        lines = [
            f"BReact Console is ready on {url}/",
            f"API reference: {url}/api/docs",
        ]
        if demo is not None:
            lines.append("")
            lines.append(f"Demo staff user: {demo.email}")
            if demo.password:
                lines.append(f"Password:        {demo.password}   (shown this once)")
            else:
                lines.append("Password:        the one shown when it was created")
            lines.append("A new password: .venv/bin/python manage.py reset_demo_user")
            lines.append(f"      or yours: .venv/bin/python manage.py changepassword {demo.email}")
        lines.append("")
        lines.append("Ctrl-C stops everything.")
        width = max(len(line) for line in lines)
        box = ["+" + "-" * (width + 2) + "+"]
        box += [f"| {line.ljust(width)} |" for line in lines]
        box.append(box[0])
        self.stdout.write("\n" + "\n".join(box) + "\n")
        self.stdout.flush()
        return True

    @staticmethod
    def web_argv(options: dict[str, Any]) -> list[str]:
        # One web process with threads: rate-limit counters in process memory stay exact when
        # no REDIS_URL is set.
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "breact.wsgi:application",
            "--bind",
            f"{options['host']}:{options['port']}",
            "--workers",
            "1",
            "--threads",
            "8",
            "--worker-class",
            "gthread",
            "--access-logfile",
            "-",
            # Keys and access tokens in request URLs are logged as [REDACTED].
            "--logger-class",
            "breact.access_log.RedactingLogger",
        ]
        if gunicorn_version >= (27,):
            argv.append("--no-control-socket")  # several servers on one machine would share it
        return argv

    @staticmethod
    def worker_argv(options: dict[str, Any]) -> list[str]:
        # One worker: no neighbours to synchronise or gossip with.
        return celery_argv(
            "worker",
            "--concurrency",
            str(options["concurrency"]),
            "--without-mingle",
            "--without-gossip",
        )

    @staticmethod
    def beat_argv() -> list[str]:
        return celery_argv("beat", "--schedule", str(settings.VAR_DIR / "celerybeat-schedule"))


def celery_argv(*args: str) -> list[str]:
    """The command line of a Celery program of this project, logging at INFO."""
    return [sys.executable, "-m", "celery", "-A", "breact", *args, "--loglevel", "INFO"]
