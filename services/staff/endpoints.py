"""Staff reads for the services and model pages: per-endpoint figures with latency percentiles,
the model routes the settings define. Nothing here checks permissions: the staff views do."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from services.models import LATENCY_BUCKETS_MS
from services.usage.figures import credits_spent, latency_percentiles, process_outcomes


@dataclass
class EndpointFigures:
    """Execute calls of one endpoint over a date range (from UsageDaily plus the live tail of
    the request log) and its processes started in the range."""

    service_id: str
    endpoint: str
    calls: int = 0
    credits: int = 0
    calls_4xx: int = 0
    calls_5xx: int = 0
    duration_ms_sum: int = 0
    latency_buckets: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS_MS) + 1))
    processes_finished: int = 0
    processes_failed: int = 0

    def add(
        self,
        *,
        status_class: int,
        requests: int,
        duration_ms_sum: int,
        buckets: Sequence[int],
    ) -> None:
        self.calls += requests
        self.duration_ms_sum += duration_ms_sum
        if status_class == 4:
            self.calls_4xx += requests
        elif status_class == 5:
            self.calls_5xx += requests
        self.latency_buckets = [
            a + int(b or 0) for a, b in zip(self.latency_buckets, buckets, strict=True)
        ]

    @property
    def rate_4xx(self) -> float | None:
        return self.calls_4xx / self.calls if self.calls else None

    @property
    def rate_5xx(self) -> float | None:
        return self.calls_5xx / self.calls if self.calls else None

    @property
    def process_failure_rate(self) -> float | None:
        if not self.processes_finished:
            return None
        return self.processes_failed / self.processes_finished

    @property
    def avg_ms(self) -> float | None:
        return self.duration_ms_sum / self.calls if self.calls else None

    @property
    def percentiles(self) -> list[float | None]:
        """p50, p95 and p99 in ms, estimated from the latency histogram."""
        return latency_percentiles(self.latency_buckets, (0.5, 0.95, 0.99))


def endpoint_figures(*, start: date, end: date) -> dict[tuple[str, str], EndpointFigures]:
    """Per (service id, endpoint) with activity on days `start`..`end` (UTC, both included):
    calls, calls answered 4xx and 5xx, latency (sum and histogram) — from the UsageDaily rows
    of the range plus the live tail of the request log past the rollup watermark
    (services.usage.rollups.usage_grouped: two grouped queries, a consistent read, never a
    scan of the request log) — and the credits spent and the outcome of the processes created
    in the range, free calls included (services.usage.figures). Staff only: the caller checks
    permissions."""
    from services.usage.rollups import usage_grouped

    by = ("service_id", "endpoint")
    grouped = usage_grouped(start=start, end=end, by=(*by, "status_class"), latency=True)
    figures: dict[tuple[str, str], EndpointFigures] = {}

    def item_of(key: tuple[Any, ...]) -> EndpointFigures:
        service_id, endpoint = key
        return figures.setdefault(
            (service_id, endpoint), EndpointFigures(service_id=service_id, endpoint=endpoint)
        )

    for (service_id, endpoint, status_class), usage in grouped.items():
        item_of((service_id, endpoint)).add(
            status_class=int(status_class),
            requests=usage.requests,
            duration_ms_sum=usage.duration_ms_sum,
            buckets=usage.latency_buckets,
        )
    for key, outcome in process_outcomes(start=start, end=end, by=by).items():
        item = item_of(key)
        item.processes_finished += outcome.finished
        item.processes_failed += outcome.failed
    for key, spent in credits_spent(start=start, end=end, by=by).items():
        item_of(key).credits += spent
    return figures


@dataclass(frozen=True)
class ConfiguredRoute:
    """A model route from the BREACT_MODEL_PROVIDERS setting, as staff may see it (no key)."""

    model_id: str
    base_url: str
    upstream_model: str
    timeout: float
    has_key: bool


def provider_routes_from_settings() -> tuple[list[ConfiguredRoute], str]:
    """The routes the BREACT_MODEL_PROVIDERS setting defines, in model id order, and an error
    message ("" when none) when the setting cannot be read. Keys are never returned, only
    whether one is set."""
    import json

    from django.conf import settings

    raw = settings.BREACT_MODEL_PROVIDERS.strip()
    if not raw:
        return [], ""
    try:
        entries = json.loads(raw)
        routes = [
            ConfiguredRoute(
                model_id=str(model_id),
                base_url=str(entry["base_url"]),
                upstream_model=str(entry.get("model") or model_id),
                timeout=float(entry.get("timeout", settings.BREACT_LLM_TIMEOUT)),
                has_key=bool(entry.get("api_key")),
            )
            for model_id, entry in entries.items()
        ]
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        return [], f"BREACT_MODEL_PROVIDERS cannot be read: {type(exc).__name__}."
    return sorted(routes, key=lambda route: route.model_id), ""
