"""Serve this host's metrics (breact.metrics) on a port of its own: for hosts that run only
Celery workers or beat, which have no gunicorn to answer /metrics."""

from __future__ import annotations

import os
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from prometheus_client import start_http_server

from breact.metrics import registry


class Command(BaseCommand):
    help = (
        "Serve /metrics of the Celery processes on this host (reads PROMETHEUS_MULTIPROC_DIR) "
        "on --port, for Prometheus to scrape; bind it to a private address."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--port", type=int, default=9108)
        parser.add_argument("--addr", default="127.0.0.1")

    def handle(self, *args: Any, port: int, addr: str, **options: Any) -> None:
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            raise CommandError(
                "Set PROMETHEUS_MULTIPROC_DIR to the folder the workers of this host write to."
            )
        start_http_server(port, addr=addr, registry=registry())
        self.stdout.write(f"Serving metrics on http://{addr}:{port}/metrics")
        threading.Event().wait()
