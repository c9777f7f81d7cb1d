"""Prometheus metrics: counters and histograms updated where things happen, gauges read from
the database at scrape time, and the protected `/metrics` view.

Multiprocess-safe: with PROMETHEUS_MULTIPROC_DIR set (one empty folder per host, shared by the
gunicorn workers and the Celery workers of that host), prometheus-client keeps every value in a
file per process and the view sums them (gunicorn.conf.py marks exited workers dead)."""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from breact.http import client_ip

REQUESTS = Counter(
    "breact_http_requests_total",
    "HTTP requests answered, by route and status.",
    ["method", "route", "status"],
)
EXECUTE_LATENCY = Histogram(
    "breact_execute_duration_seconds",
    "Time to answer an execute request (validate, charge, enqueue), by service.",
    ["service"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
PROCESSES = Counter(
    "breact_processes_total",
    "Processes finished, by service and outcome.",
    ["service", "outcome"],
)
CREDITS_CHARGED = Counter("breact_credits_charged_total", "Credits charged by executes.")
CREDITS_REFUNDED = Counter("breact_credits_refunded_total", "Credits refunded on failures.")
WEBHOOK_DELIVERIES = Counter(
    "breact_webhook_deliveries_total",
    "Webhook delivery attempts, by outcome (succeeded, failed, timeout, refused).",
    ["outcome"],
)


def request_observed(*, method: str, route: str, status: int) -> None:
    REQUESTS.labels(method=method, route=route, status=str(status)).inc()


def execute_observed(*, service: str, seconds: float, credits: int) -> None:
    EXECUTE_LATENCY.labels(service=service or "unknown").observe(seconds)
    if credits > 0:
        CREDITS_CHARGED.inc(credits)


def process_finished(*, service: str, outcome: str, refunded: int) -> None:
    PROCESSES.labels(service=service, outcome=outcome).inc()
    if refunded > 0:
        CREDITS_REFUNDED.inc(refunded)


def webhook_delivered(*, outcome: str) -> None:
    WEBHOOK_DELIVERIES.labels(outcome=outcome).inc()


class RunnerCollector(Collector):
    """Queue depth and age, live workers and heartbeat ages, read at scrape time from the
    database (so every host reports the same cluster-wide figures)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from services.workers import runner_status

        status = runner_status()
        yield _gauge("breact_queue_depth", "Processes waiting for a worker.", status.queued)
        yield _gauge(
            "breact_queue_oldest_age_seconds",
            "How long the oldest waiting process has waited (0: none waits).",
            status.oldest_queued_seconds or 0.0,
        )
        yield _gauge(
            "breact_workers_alive", "Workers with a fresh heartbeat.", status.workers_alive
        )
        for role, age in (
            ("worker", status.worker_seen_seconds),
            ("beat", status.beat_seen_seconds),
        ):
            yield _gauge(
                f"breact_{role}_heartbeat_age_seconds",
                f"Seconds since the newest {role} heartbeat (-1: never seen).",
                -1.0 if age is None else age,
            )


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def registry() -> CollectorRegistry:
    """The registry to expose: the per-process files summed under gunicorn (multiprocess),
    else this process's own metrics; plus the runner gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        collected = CollectorRegistry()
        multiprocess.MultiProcessCollector(collected)
    else:
        collected = CollectorRegistry()
        collected.register(_Default())
    collected.register(RunnerCollector())
    return collected


class _Default(Collector):
    def collect(self) -> Iterator[Any]:
        yield from REGISTRY.collect()


def scrape_allowed(request: HttpRequest) -> bool:
    """`Authorization: Bearer <BREACT_METRICS_TOKEN>`, or a client address in
    BREACT_METRICS_ALLOW (addresses or networks; default loopback only)."""
    token = settings.BREACT_METRICS_TOKEN
    sent = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        return True
    address = client_ip(request)
    if address is None:
        return False
    ip = ipaddress.ip_address(address)
    for allowed in settings.BREACT_METRICS_ALLOW:
        try:
            if ip in ipaddress.ip_network(allowed, strict=False):
                return True
        except ValueError:
            continue
    return False


def metrics_view(request: HttpRequest) -> HttpResponse:
    if request.method != "GET":
        return HttpResponse(status=405, headers={"Allow": "GET"})
    if not scrape_allowed(request):
        return HttpResponse(
            "Forbidden: send the metrics token or scrape from an allowed address.\n",
            status=403,
            content_type="text/plain; charset=utf-8",
        )
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)


EXECUTE_ROUTE = "services/<str:service_id>/<str:endpoint>"


class MetricsMiddleware:
    """Counts every response by route pattern (not the raw path: bounded labels) and status;
    times executes. Adds no I/O: counters live in memory or in the multiprocess files."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        import time

        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = "/" + match.route if match is not None and match.route else "<unmatched>"
        if route == "/metrics":
            return response
        request_observed(method=request.method or "", route=route, status=response.status_code)
        if match is not None and match.route.endswith(EXECUTE_ROUTE) and request.method == "POST":
            usage = getattr(request, "usage", {})
            execute_observed(
                service=usage.get("service_id", ""),
                seconds=time.perf_counter() - started,
                credits=int(usage.get("credits", 0)) if response.status_code == 202 else 0,
            )
        return response
