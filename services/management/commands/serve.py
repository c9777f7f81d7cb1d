"""Run the web server (gunicorn) and a Celery worker with beat in the foreground."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from gunicorn import version_info as gunicorn_version


class Command(BaseCommand):
    help = "Start the web server and a worker (with the periodic purge and sweeper) together."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--concurrency", type=int, default=2, help="Worker processes.")

    def handle(self, *args: Any, **options: Any) -> None:
        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        # One web process with threads: rate-limit counters in process memory stay exact when
        # no REDIS_URL is set.
        web = [
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
        ]
        if gunicorn_version >= (27,):
            web.append("--no-control-socket")  # several servers on one machine would share it
        worker = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "breact",
            "worker",
            "--beat",
            "--schedule",
            str(settings.VAR_DIR / "celerybeat-schedule"),
            "--concurrency",
            str(options["concurrency"]),
            "--loglevel",
            "INFO",
        ]
        children = {"web server": subprocess.Popen(web), "worker": subprocess.Popen(worker)}
        self.stdout.write(
            f"BReact Console on http://{options['host']}:{options['port']}/ "
            f"(API docs at /api/docs). Ctrl-C stops the web server and the worker."
        )
        stopping = False

        def stop(signum: int, _frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    self.stderr.write(f"The {name} exited with {child.returncode}; stopping.")
                    exit_code = child.returncode or 1
                    stopping = True
            time.sleep(0.3)
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children.values():
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        sys.exit(exit_code)
