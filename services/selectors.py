"""Reads on services, endpoints, processes and usage."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Avg, Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import Account
from breact.errors import NotFound, ServiceNotFound
from services.models import LATENCY_BUCKETS_MS, Endpoint, Process, UsageLog
from services.registry import EndpointDefinition, ServiceDefinition, all_services, find_service


def process_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class ResolvedEndpoint:
    service: ServiceDefinition
    endpoint: EndpointDefinition
    row: Endpoint

    @property
    def price(self) -> int:
        return self.row.price


def endpoint_rows() -> dict[tuple[str, str], Endpoint]:
    """Every endpoint row by (service id, endpoint name), synced from the registry if missing."""
    from services.actions import services_sync

    rows = {
        (row.service.service_id, row.name): row
        for row in Endpoint.objects.select_related("service")
    }
    expected = {(s.id, e) for s in all_services().values() for e in s.endpoints}
    if not expected <= rows.keys():
        services_sync()
        return endpoint_rows()
    return rows


def endpoint_resolve(*, service_id: str, endpoint: str) -> ResolvedEndpoint:
    """The enabled endpoint `service_id`.`endpoint` (aliases allowed) or ServiceNotFound."""
    definition = find_service(service_id)
    if definition is None:
        raise ServiceNotFound(
            f"There is no service {service_id!r}. GET /api/v1/services lists them."
        )
    endpoint_definition = definition.endpoints.get(endpoint)
    if endpoint_definition is None:
        names = ", ".join(sorted(definition.endpoints))
        raise ServiceNotFound(
            f"Service {definition.id!r} has no endpoint {endpoint!r}; it has: {names}.",
            details={"endpoints": sorted(definition.endpoints)},
        )
    row = (
        Endpoint.objects.select_related("service")
        .filter(service__service_id=definition.id, name=endpoint)
        .first()
    )
    if row is None:
        row = endpoint_rows()[(definition.id, endpoint)]
    if not (row.enabled and row.service.enabled):
        raise ServiceNotFound(f"{definition.id}.{endpoint} is disabled on this platform.")
    return ResolvedEndpoint(service=definition, endpoint=endpoint_definition, row=row)


def service_catalogue() -> list[
    tuple[ServiceDefinition, list[tuple[EndpointDefinition, Endpoint]]]
]:
    """Enabled services with their enabled endpoints and rows, in id order."""
    rows = endpoint_rows()
    out = []
    for definition in sorted(all_services().values(), key=lambda s: s.id):
        endpoints = [
            (e, rows[(definition.id, name)])
            for name, e in definition.endpoints.items()
            if rows[(definition.id, name)].enabled
        ]
        if endpoints and endpoints[0][1].service.enabled:
            out.append((definition, endpoints))
    return out


def process_for_poll(*, account: Account, public_id: str, token: str | None) -> Process:
    """The process, if it belongs to `account`, `token` matches and its result has not expired.

    Every other case raises the same NotFound, so a caller learns nothing about other ids.
    """
    not_found = NotFound(
        "No result for this process id and access token. Results are deleted 60 s after "
        "they are ready."
    )
    process = Process.objects.filter(public_id=public_id, account=account).first()
    if process is None or not token or not process.token_hash:
        raise not_found
    if not hmac.compare_digest(process.token_hash, process_token_hash(token)):
        raise not_found
    if process.is_expired(timezone.now()):
        raise not_found
    return process


def _day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    tz = timezone.get_current_timezone()
    return (
        datetime.combine(start, time.min, tzinfo=tz),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz),
    )


def usage_by_day_and_service(
    *, account: Account, start: date, end: date, service_id: str | None = None
) -> list[dict[str, Any]]:
    """Calls, errors and credits per (day, service) from the usage log, index-backed on
    (account, created_at)."""
    lower, upper = _day_bounds(start, end)
    # Execute requests only (POST); polls of the same process are not calls of their own.
    rows = UsageLog.objects.filter(
        account=account, created_at__gte=lower, created_at__lt=upper, method="POST"
    ).exclude(service_id="")
    if service_id:
        rows = rows.filter(service_id=service_id)
    grouped = (
        rows.annotate(day=TruncDate("created_at"))
        .values("day", "service_id")
        .annotate(
            calls=Count("id"),
            errors=Count("id", filter=Q(status_code__gte=400)),
            credits=Sum("credits"),
        )
        .order_by("day", "service_id")
    )
    return [
        {
            "date": row["day"].isoformat(),
            "service": row["service_id"],
            "calls": row["calls"],
            "errors": row["errors"],
            "credits": int(row["credits"] or 0),
        }
        for row in grouped
    ]


@dataclass(frozen=True)
class DayFigures:
    day: date
    calls: int
    credits: int


@dataclass(frozen=True)
class AccountOverview:
    """The home page's figures. `days` runs oldest first and ends today."""

    balance: int
    calls_today: int
    credits_today: int
    calls_week: int
    credits_week: int
    days: list[DayFigures]
    has_api_key: bool
    has_calls: bool


def account_overview(*, account: Account, now: datetime, days: int = 7) -> AccountOverview:
    """Balance, execute calls (usage log) and credits spent (ledger charges net of refunds) per
    day for the `days` days ending on `now`'s date in the current timezone. Both aggregates
    filter on (account, created_at), which each table indexes. The caller checks ownership."""
    from accounts.models import ApiKey, LedgerEntry

    today = timezone.localdate(now)
    first = today - timedelta(days=days - 1)
    lower, upper = _day_bounds(first, today)
    calls_rows = (
        UsageLog.objects.filter(
            account=account, created_at__gte=lower, created_at__lt=upper, method="POST"
        )
        .exclude(service_id="")
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(n=Count("id"))
        .order_by()
    )
    calls = {row["day"]: int(row["n"]) for row in calls_rows}
    spent_rows = (
        LedgerEntry.objects.filter(
            account=account,
            created_at__gte=lower,
            created_at__lt=upper,
            kind__in=[LedgerEntry.Kind.CHARGE, LedgerEntry.Kind.REFUND],
        )
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    spent = {row["day"]: -int(row["total"] or 0) for row in spent_rows}
    series = [
        DayFigures(day=day, calls=calls.get(day, 0), credits=spent.get(day, 0))
        for day in (first + timedelta(days=offset) for offset in range(days))
    ]
    balance = int(Account.objects.filter(pk=account.pk).values_list("balance", flat=True).get())
    return AccountOverview(
        balance=balance,
        calls_today=series[-1].calls,
        credits_today=series[-1].credits,
        calls_week=sum(d.calls for d in series),
        credits_week=sum(d.credits for d in series),
        days=series,
        has_api_key=ApiKey.objects.usable().filter(account=account, is_console=False).exists(),
        has_calls=UsageLog.objects.filter(account=account, method="POST")
        .exclude(service_id="")
        .exists(),
    )


def processes_recent(*, account: Account, limit: int = 10) -> list[Process]:
    """The account's latest processes (API and console), newest first; index-backed on
    (account, -created_at). Only the account's own rows: the caller passes its own account."""
    return list(Process.objects.filter(account=account).order_by("-created_at", "-id")[:limit])


# --- usage page (console) ---------------------------------------------------------------------

# Status filter groups: the name a user picks → the inclusive range of HTTP statuses.
USAGE_STATUS_GROUPS: dict[str, tuple[int, int]] = {
    "success": (200, 299),
    "client_error": (400, 499),
    "server_error": (500, 599),
}

# An execute request (POST to a service endpoint) is a "call"; polls and account reads are
# requests in the log but not calls — as in GET /api/v1/usage.
USAGE_CALL = Q(method="POST") & ~Q(service_id="")


def usage_filtered(
    *,
    account: Account,
    start: date,
    end: date,
    api_key_id: int | None = None,
    service_id: str | None = None,
    status: str | int | None = None,
) -> QuerySet[UsageLog]:
    """The account's usage rows from `start` to `end` (whole days, both included, in the current
    time zone), newest first, narrowed by key, service and status: "success" (2xx),
    "client_error" (4xx), "server_error" (5xx) or one HTTP status code. Index-backed on
    (account, created_at). Always scoped to `account`, so another account's key id matches
    nothing; the page's form refuses it before this is called."""
    lower, upper = _day_bounds(start, end)
    rows = UsageLog.objects.filter(account=account, created_at__gte=lower, created_at__lt=upper)
    if api_key_id is not None:
        rows = rows.filter(api_key_id=api_key_id)
    if service_id:
        rows = rows.filter(service_id=service_id)
    if isinstance(status, str) and status in USAGE_STATUS_GROUPS:
        low, high = USAGE_STATUS_GROUPS[status]
        rows = rows.filter(status_code__gte=low, status_code__lte=high)
    elif status is not None and status != "":
        rows = rows.filter(status_code=int(status))
    return rows.order_by("-created_at", "-id")


def usage_totals(**filters: Any) -> dict[str, int]:
    """Requests, calls, errors (calls answered 4xx/5xx) and credits of `usage_filtered(**filters)`,
    in one aggregate query."""
    totals = usage_filtered(**filters).aggregate(
        requests=Count("id"),
        calls=Count("id", filter=USAGE_CALL),
        errors=Count("id", filter=USAGE_CALL & Q(status_code__gte=400)),
        credits=Sum("credits", filter=USAGE_CALL),
    )
    return {name: int(value or 0) for name, value in totals.items()}


def usage_daily(**filters: Any) -> list[dict[str, Any]]:
    """Calls, errors and credits per (day, service) of `usage_filtered(**filters)`, grouped in
    the database, in day then service order. `day` is a date."""
    grouped = (
        usage_filtered(**filters)
        .filter(USAGE_CALL)
        .annotate(day=TruncDate("created_at"))
        .values("day", "service_id")
        .annotate(
            calls=Count("id"),
            errors=Count("id", filter=Q(status_code__gte=400)),
            credits=Sum("credits"),
        )
        .order_by("day", "service_id")
    )
    return [
        {
            "day": row["day"],
            "service_id": row["service_id"],
            "calls": row["calls"],
            "errors": row["errors"],
            "credits": int(row["credits"] or 0),
        }
        for row in grouped
    ]


def usage_by_service(**filters: Any) -> list[dict[str, Any]]:
    """Per service of `usage_filtered(**filters)`: calls, errors, error rate (0–1), credits and
    the average and 95th-percentile (nearest rank) duration of the calls in ms. Grouped in the
    database; the p95 costs one single-value query per service listed."""
    calls = usage_filtered(**filters).filter(USAGE_CALL)
    grouped = (
        calls.values("service_id")
        .annotate(
            calls=Count("id"),
            errors=Count("id", filter=Q(status_code__gte=400)),
            credits=Sum("credits"),
            avg_ms=Avg("duration_ms"),
        )
        .order_by("-calls", "service_id")
    )
    out = []
    for row in grouped:
        count = row["calls"]
        rank = -(-95 * count // 100)  # ceil(0.95 × n), the nearest-rank percentile
        p95 = (
            calls.filter(service_id=row["service_id"])
            .order_by("duration_ms")
            .values_list("duration_ms", flat=True)[rank - 1 : rank]
            .first()
        )
        out.append(
            {
                "service_id": row["service_id"],
                "calls": count,
                "errors": row["errors"],
                "error_rate": row["errors"] / count if count else 0.0,
                "credits": int(row["credits"] or 0),
                "avg_ms": round(row["avg_ms"] or 0),
                "p95_ms": p95 or 0,
            }
        )
    return out


def usage_by_key(**filters: Any) -> list[dict[str, Any]]:
    """Per API key of `usage_filtered(**filters)` (None for requests without a key or whose key
    was deleted): requests, calls, errors and credits, with the key's name, prefix, last four,
    console flag and revocation time from one grouped query."""
    grouped = (
        usage_filtered(**filters)
        .values(
            "api_key_id",
            "api_key__name",
            "api_key__prefix",
            "api_key__last_four",
            "api_key__is_console",
            "api_key__revoked_at",
        )
        .annotate(
            requests=Count("id"),
            calls=Count("id", filter=USAGE_CALL),
            errors=Count("id", filter=USAGE_CALL & Q(status_code__gte=400)),
            credits=Sum("credits", filter=USAGE_CALL),
        )
        .order_by("-calls", "-requests", "api_key_id")
    )
    return [
        {
            "api_key_id": row["api_key_id"],
            "name": row["api_key__name"],
            "prefix": row["api_key__prefix"],
            "last_four": row["api_key__last_four"],
            "is_console": bool(row["api_key__is_console"]),
            "revoked_at": row["api_key__revoked_at"],
            "requests": row["requests"],
            "calls": row["calls"],
            "errors": row["errors"],
            "credits": int(row["credits"] or 0),
        }
        for row in grouped
    ]


def usage_exists(*, account: Account) -> bool:
    """Whether the account has any usage row at all (the usage page's empty state)."""
    return UsageLog.objects.filter(account=account).exists()


def calls_by_key(*, account: Account, key_ids: list[int], since: datetime) -> dict[int, int]:
    """Execute calls (USAGE_CALL) per API key since `since`, for the given keys of `account`,
    in one grouped query on the (api_key, created_at) index. Keys without calls are absent."""
    if not key_ids:
        return {}
    rows = (
        UsageLog.objects.filter(account=account, api_key_id__in=key_ids, created_at__gte=since)
        .filter(USAGE_CALL)
        .values("api_key_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {int(row["api_key_id"]): int(row["n"]) for row in rows}


# --- playground (console) ---------------------------------------------------------------------


def process_for_owner(*, account: Account, public_id: str) -> Process:
    """The process `public_id` if it belongs to `account`, annotated with `refunded` (whether
    its credits came back); NotFound alike for a missing process and another account's. No
    access token: the caller is the owner's console session. The result may have expired
    (`is_expired`); the row, its params and its credits stay."""
    from django.db.models import Exists, OuterRef

    from accounts.models import LedgerEntry

    refunds = LedgerEntry.objects.filter(process=OuterRef("pk"), kind=LedgerEntry.Kind.REFUND)
    process = (
        Process.objects.filter(account=account, public_id=public_id)
        .annotate(refunded=Exists(refunds))
        .first()
    )
    if process is None:
        raise NotFound("No such process.")
    return process


def console_runs_recent(*, account: Account, limit: int = 10) -> list[Process]:
    """The account's latest playground runs (made with its console key), newest first;
    index-backed on (account, -created_at)."""
    return list(
        Process.objects.filter(account=account, api_key__is_console=True).order_by(
            "-created_at", "-id"
        )[:limit]
    )


# --- staff: services and model providers (h15) ------------------------------------------------


def latency_percentiles(
    buckets: list[int],
    quantiles: Sequence[float],
    *,
    bounds: Sequence[int] = LATENCY_BUCKETS_MS,
) -> list[float | None]:
    """Estimate latency quantiles (0–1) in ms from a histogram: `buckets[i]` counts requests
    of at most `bounds[i]` ms (and more than the previous bound), the last bucket those slower
    than `bounds[-1]`. Linear interpolation inside the bucket holding the rank, as Prometheus'
    histogram_quantile does; a rank in the overflow bucket answers `bounds[-1]` (“at least”).
    None for every quantile when the histogram is empty. Pure; raises ValueError on a quantile
    outside 0–1 or a histogram of the wrong length."""
    if len(buckets) != len(bounds) + 1:
        raise ValueError(f"Expected {len(bounds) + 1} buckets, got {len(buckets)}.")
    for q in quantiles:
        if not 0 <= q <= 1:
            raise ValueError(f"A quantile must be between 0 and 1, not {q}.")
    total = sum(buckets)
    if total <= 0:
        return [None for _ in quantiles]
    out: list[float | None] = []
    for q in quantiles:
        rank = q * total
        below = 0
        value = float(bounds[-1])
        for index, count in enumerate(buckets):
            if count <= 0:
                continue
            if below + count >= rank:
                if index == len(bounds):
                    value = float(bounds[-1])
                else:
                    lower = float(bounds[index - 1]) if index else 0.0
                    value = lower + (bounds[index] - lower) * (rank - below) / count
                break
            below += count
        out.append(value)
    return out


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
        credits: int,
        duration_ms_sum: int,
        buckets: Sequence[int],
    ) -> None:
        self.calls += requests
        self.credits += credits
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


def endpoint_process_outcomes(*, start: date, end: date) -> dict[tuple[str, str], tuple[int, int]]:
    """Per (service id, endpoint): (finished, failed) processes among those charged on days
    `start`..`end` (UTC) — finished = state completed or error, failed = state error. As
    services.staff_selectors.process_outcomes_by_service, per endpoint: a process is found
    through its charge row (ledger index on (created_at, kind)) and joined on the primary key,
    so the process table is never scanned; processes of free calls (price 0) have no charge and
    are not counted."""
    from accounts.models import LedgerEntry

    lower, upper = _day_bounds(start, end)
    rows = (
        LedgerEntry.objects.filter(
            kind=LedgerEntry.Kind.CHARGE,
            created_at__gte=lower,
            created_at__lt=upper,
            process__state__in=[Process.State.COMPLETED, Process.State.ERROR],
        )
        .values("process__service_id", "process__endpoint")
        .annotate(
            finished=Count("id"),
            failed=Count("id", filter=Q(process__state=Process.State.ERROR)),
        )
        .order_by()
    )
    return {
        (row["process__service_id"], row["process__endpoint"]): (
            int(row["finished"]),
            int(row["failed"]),
        )
        for row in rows
    }


def endpoint_figures(*, start: date, end: date) -> dict[tuple[str, str], EndpointFigures]:
    """Per (service id, endpoint) with activity on days `start`..`end` (UTC, both included):
    execute calls, credits logged, calls answered 4xx and 5xx, latency (sum and histogram) —
    from the UsageDaily rows of the range plus the live tail of the request log past the
    rollup watermark (services.staff_selectors.usage_grouped: two grouped queries, a
    consistent read, never a scan of the request log) — and the outcome of the processes
    charged in the range (endpoint_process_outcomes). Staff only: the caller checks
    permissions."""
    from services.staff_selectors import usage_grouped

    grouped = usage_grouped(
        start=start, end=end, by=("service_id", "endpoint", "status_class"), latency=True
    )
    figures: dict[tuple[str, str], EndpointFigures] = {}
    for (service_id, endpoint, status_class), usage in grouped.items():
        item = figures.setdefault(
            (service_id, endpoint), EndpointFigures(service_id=service_id, endpoint=endpoint)
        )
        item.add(
            status_class=int(status_class),
            requests=usage.requests,
            credits=usage.credits,
            duration_ms_sum=usage.duration_ms_sum,
            buckets=usage.latency_buckets,
        )
    for (service_id, endpoint), (finished, failed) in endpoint_process_outcomes(
        start=start, end=end
    ).items():
        item = figures.setdefault(
            (service_id, endpoint), EndpointFigures(service_id=service_id, endpoint=endpoint)
        )
        item.processes_finished += finished
        item.processes_failed += failed
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


# --- staff: an account's processes and usage (h14) --------------------------------------------


def processes_for_staff(*, account: Account) -> QuerySet[Process]:
    """The account's processes, newest first (index on account, -created_at), for the staff
    account page; pair a page of them with process_ledger_kinds. The caller checks that the
    user is staff."""
    return (
        Process.objects.filter(account=account)
        .defer("params", "token_hash")
        .order_by("-created_at", "-id")
    )


def process_ledger_kinds(*, process_ids: list[int]) -> dict[int, set[str]]:
    """For the given processes, which of "charge" and "refund" the ledger holds, in one query
    on the ledger's unique (process, kind) index. (Per-row EXISTS subqueries let PostgreSQL
    pick a hashed scan of the whole ledger instead.)"""
    from accounts.models import LedgerEntry

    if not process_ids:
        return {}
    kinds: dict[int, set[str]] = {}
    rows = LedgerEntry.objects.filter(
        process_id__in=process_ids,
        kind__in=[LedgerEntry.Kind.CHARGE, LedgerEntry.Kind.REFUND],
    ).values_list("process_id", "kind")
    for process_id, kind in rows:
        kinds.setdefault(int(process_id), set()).add(str(kind))
    return kinds


def process_for_staff(*, public_id: str) -> Process:
    """Any process by public id, else Http404. Staff only: the caller checks."""
    from django.http import Http404

    process = Process.objects.filter(public_id=public_id).first()
    if process is None:
        raise Http404("No such process.")
    return process


def process_inner_error(process: Process) -> bool:
    """Whether the process failed: state error, or completed with an inner status "error"."""
    if process.state == Process.State.ERROR:
        return True
    result = process.result
    return (
        process.state == Process.State.COMPLETED
        and isinstance(result, dict)
        and result.get("status") == "error"
    )


@dataclass(frozen=True)
class AccountUsage:
    """An account's execute calls over whole UTC days: per service and per (day, service)."""

    start: date
    end: date
    by_service: list[dict[str, Any]]
    by_day: dict[tuple[date, str], int]
    calls: int
    errors: int
    credits: int


def account_usage_summary(*, account: Account, start: date, end: date) -> AccountUsage:
    """Exact execute calls, errors (4xx/5xx) and credits of the account from `start` to `end`
    (UTC days, both included): the UsageDaily rollup (index on account_ref, day) plus the live
    tail of UsageLog rows past the rollup watermark (a primary-key range). Never scans the
    account's whole request log. The caller checks that the user is staff."""
    from services.staff_selectors import usage_grouped

    per_service: dict[str, dict[str, Any]] = {}
    by_day: dict[tuple[date, str], int] = {}
    grouped = usage_grouped(
        start=start, end=end, by=("day", "service_id", "status_class"), account_id=account.pk
    )
    for (day, service, status_class), usage in grouped.items():
        row = per_service.setdefault(
            service, {"service_id": service, "calls": 0, "errors": 0, "credits": 0}
        )
        row["calls"] += usage.requests
        row["errors"] += usage.requests if int(status_class) >= 4 else 0
        row["credits"] += usage.credits
        by_day[(day, service)] = by_day.get((day, service), 0) + usage.credits
    services = sorted(
        per_service.values(), key=lambda r: (-r["credits"], -r["calls"], r["service_id"])
    )
    for row in services:
        row["error_rate"] = row["errors"] / row["calls"] if row["calls"] else 0.0
    return AccountUsage(
        start=start,
        end=end,
        by_service=services,
        by_day=by_day,
        calls=sum(r["calls"] for r in services),
        errors=sum(r["errors"] for r in services),
        credits=sum(r["credits"] for r in services),
    )
