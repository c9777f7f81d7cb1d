"""Reads on one account's usage: the request log with its filters, the usage page's tables and
charts, the home page's figures, calls per key, the staff account page's usage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Avg, Count, F, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import Account, ApiKey
from breact.dates import day_bounds
from services.models import UsageLog
from services.usage.figures import (
    CALL,
    REQUEST_ERROR,
    CallFigures,
    call_figures,
    calls_by_status_class,
    credits_net_of_refund,
    latency_percentiles,
)
from services.usage.rollups import UsageFigures, usage_grouped


def usage_by_day_and_service(
    *, account: Account, start: date, end: date, service_id: str | None = None
) -> list[dict[str, Any]]:
    """Calls, errors and credits spent per (day, service), as services.usage.figures defines
    them: calls and 4xx/5xx from the rollups plus the live tail of the request log, failed
    processes and the ledger's charges net of refunds of the same days (the usage page's
    _figures_of)."""
    filters = {"account": account, "start": start, "end": end, "service_id": service_id}
    figures = _figures_of(filters, ("day", "service_id"))
    return [
        {
            "date": day.isoformat(),
            "service": service,
            "calls": item.calls,
            "errors": item.errors,
            "credits": item.credits,
        }
        for (day, service), item in sorted(figures.items())
    ]


def _call_figures(
    rows: QuerySet[UsageLog],
    *,
    by: tuple[str, ...],
    **options: Any,
) -> dict[tuple[Any, ...], CallFigures]:
    """figures.call_figures for the calls among `rows` (grouped in the database by `by`) and
    the account's processes and ledger narrowed the same way (_with_processes)."""
    log_keys = {
        "day": TruncDate("created_at"),
        "service_id": F("service_id"),
        "api_key_id": F("api_key_id"),
    }
    calls_only = rows.filter(CALL).order_by()
    sums = {"n": Count("id"), "bad": Count("id", filter=REQUEST_ERROR)}
    if by:
        grouped = (
            calls_only.annotate(**{f"g_{name}": log_keys[name] for name in by})
            .values(*[f"g_{name}" for name in by])
            .annotate(**sums)
        )
        calls = {
            tuple(row[f"g_{name}"] for name in by): (int(row["n"]), int(row["bad"]))
            for row in grouped
        }
    else:
        total = calls_only.aggregate(**sums)
        calls = {(): (int(total["n"]), int(total["bad"]))} if total["n"] else {}
    return _with_processes(calls, by=by, **options)


def _with_processes(
    calls: dict[tuple[Any, ...], tuple[int, int]],
    *,
    by: tuple[str, ...],
    account: Account,
    start: date,
    end: date,
    api_key_id: int | None = None,
    service_id: str | None = None,
    processes: bool = True,
) -> dict[tuple[Any, ...], CallFigures]:
    """figures.call_figures for (calls, request errors) per `by` group and the account's
    processes and ledger narrowed the same way; `processes` False leaves out processes and
    credits (a status filter that excludes the 202 of an accepted call)."""
    if not processes:
        return {key: CallFigures(calls=n, request_errors=bad) for key, (n, bad) in calls.items()}
    return call_figures(
        start=start,
        end=end,
        calls=calls,
        by=by,
        account_id=account.pk,
        api_key_id=api_key_id,
        service_id=service_id,
    )


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
    """Balance, calls and credits spent (services.usage.figures: charges net of refunds) per
    day for the `days` days ending on `now`'s date in the current timezone. The aggregates
    filter on (account, created_at), which each table indexes. The caller checks ownership."""
    from accounts.models import ApiKey

    today = timezone.localdate(now)
    first = today - timedelta(days=days - 1)
    rows = usage_filtered(account=account, start=first, end=today)
    figures = _call_figures(rows, by=("day",), account=account, start=first, end=today)
    series = [
        DayFigures(
            day=day,
            calls=figures.get((day,), CallFigures()).calls,
            credits=figures.get((day,), CallFigures()).credits,
        )
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
        has_calls=UsageLog.objects.filter(CALL, account=account).exists(),
    )


# --- usage page (console) ---------------------------------------------------------------------

# Status filter groups: the name a user picks → the inclusive range of HTTP statuses.
USAGE_STATUS_GROUPS: dict[str, tuple[int, int]] = {
    "success": (200, 299),
    "client_error": (400, 499),
    "server_error": (500, 599),
}


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
    lower, upper = day_bounds(start, end)
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


def _accepts_202(status: str | int | None) -> bool:
    """Whether a usage status filter keeps the 202 of an accepted call (so its process and
    credits count)."""
    if status is None or status == "":
        return True
    if isinstance(status, str) and status in USAGE_STATUS_GROUPS:
        low, high = USAGE_STATUS_GROUPS[status]
        return low <= 202 <= high
    return int(status) == 202


def _rollup_narrowing(filters: dict[str, Any]) -> dict[str, Any] | None:
    """usage_grouped's narrowing for the usage page's `filters`, or None when the rollups
    cannot answer them: the rollups keep HTTP status classes, not single codes."""
    narrowing = {
        "account_id": filters["account"].pk,
        "api_key_id": filters.get("api_key_id"),
        "service_id": filters.get("service_id") or None,
        "status_class": None,
    }
    status = filters.get("status")
    if status is None or status == "":
        return narrowing
    if isinstance(status, str) and status in USAGE_STATUS_GROUPS:
        narrowing["status_class"] = USAGE_STATUS_GROUPS[status][0] // 100
        return narrowing
    return None


def _grouped_usage(
    filters: dict[str, Any], by: tuple[str, ...], **options: Any
) -> dict[tuple[Any, ...], UsageFigures] | None:
    """usage_grouped for the page's `filters` (from the rollups plus the live tail), grouped by
    `by`; None when the rollups cannot answer the filters. A key is None for requests without
    one, or whose key was deleted, as in the request log."""
    narrowing = _rollup_narrowing(filters)
    if narrowing is None:
        return None
    grouped = usage_grouped(
        start=filters["start"], end=filters["end"], by=by, **narrowing, **options
    )
    if "api_key_id" not in by:
        return grouped
    at = by.index("api_key_id")
    refs = {key[at] for key in grouped if key[at]}
    alive = set(
        ApiKey.objects.filter(account=filters["account"], pk__in=refs).values_list("pk", flat=True)
    )
    out: dict[tuple[Any, ...], UsageFigures] = {}
    for key, usage in grouped.items():
        ref = key[at] if key[at] in alive else None
        out.setdefault((*key[:at], ref, *key[at + 1 :]), UsageFigures()).add(usage)
    return out


def _figures_of(filters: dict[str, Any], by: tuple[str, ...]) -> dict[tuple[Any, ...], CallFigures]:
    grouped = _grouped_usage(filters, (*by, "status_class"))
    narrowing: dict[str, Any] = {
        "by": by,
        "account": filters["account"],
        "start": filters["start"],
        "end": filters["end"],
        "api_key_id": filters.get("api_key_id"),
        "service_id": filters.get("service_id") or None,
        "processes": _accepts_202(filters.get("status")),
    }
    if grouped is None:  # a single status code: count the calls in the request log
        return _call_figures(usage_filtered(**filters), **narrowing)
    return _with_processes(calls_by_status_class(grouped), **narrowing)


def usage_log(**filters: Any) -> QuerySet[UsageLog]:
    """`usage_filtered(**filters)` with each row's `credits_spent`: what the request was charged,
    0 once its process was refunded (services.usage.figures: credits net of refunds), so the
    rows of the log and its CSV add up to the page's credits (the CSV export; a page of the
    log uses figures.with_credits_net_of_refund)."""
    return usage_filtered(**filters).annotate(credits_spent=credits_net_of_refund("process_id"))


def usage_totals(**filters: Any) -> dict[str, int]:
    """Requests, calls, errors and credits spent of `usage_filtered(**filters)`, as
    services.usage.figures defines them (from the rollups where the filters allow)."""
    total = _figures_of(filters, ()).get((), CallFigures())
    requests = _grouped_usage(filters, (), kind=None)
    return {
        "requests": (
            usage_filtered(**filters).count()
            if requests is None
            else requests.get((), UsageFigures()).requests
        ),
        "calls": total.calls,
        "errors": total.errors,
        "credits": total.credits,
    }


def usage_daily(**filters: Any) -> list[dict[str, Any]]:
    """Calls, errors and credits spent per (day, service) of `usage_filtered(**filters)`, in day
    then service order. `day` is a date."""
    return [
        {
            "day": day,
            "service_id": service,
            "calls": item.calls,
            "errors": item.errors,
            "credits": item.credits,
        }
        for (day, service), item in sorted(_figures_of(filters, ("day", "service_id")).items())
    ]


def _call_durations(filters: dict[str, Any]) -> dict[str, tuple[float, float | None]]:
    """(average ms, 95th percentile ms) of the calls per service. From the rollups: the average
    exactly, the p95 estimated from the latency buckets (figures.latency_percentiles, as the
    staff pages do); for a single status code, both exact from the request log (nearest rank)."""
    grouped = _grouped_usage(filters, ("service_id",), latency=True)
    if grouped is not None:
        return {
            service: (usage.avg_ms, latency_percentiles(usage.latency_buckets, (0.95,))[0])
            for (service,), usage in grouped.items()
        }
    calls = usage_filtered(**filters).filter(CALL)
    out: dict[str, tuple[float, float | None]] = {}
    for row in calls.values("service_id").annotate(avg_ms=Avg("duration_ms"), n=Count("id")):
        rank = -(-95 * row["n"] // 100)  # ceil(0.95 × n), the nearest-rank percentile
        p95 = (
            calls.filter(service_id=row["service_id"])
            .order_by("duration_ms")
            .values_list("duration_ms", flat=True)[rank - 1 : rank]
            .first()
        )
        out[row["service_id"]] = (float(row["avg_ms"] or 0), p95)
    return out


def usage_by_service(**filters: Any) -> list[dict[str, Any]]:
    """Per service of `usage_filtered(**filters)`: calls, errors, error rate (0–1), credits
    spent (services.usage.figures) and the average and 95th-percentile duration of the calls
    in ms (_call_durations)."""
    durations = _call_durations(filters)
    figures = _figures_of(filters, ("service_id",))
    out = []
    for (service,), item in sorted(figures.items(), key=lambda kv: (-kv[1].calls, kv[0])):
        avg_ms, p95_ms = durations.get(service, (0.0, None)) if item.calls else (0.0, None)
        out.append(
            {
                "service_id": service,
                "calls": item.calls,
                "errors": item.errors,
                "error_rate": item.error_rate,
                "credits": item.credits,
                "avg_ms": round(avg_ms),
                "p95_ms": round(p95_ms) if p95_ms else 0,
            }
        )
    return out


def _requests_by_key(filters: dict[str, Any]) -> dict[int | None, int]:
    grouped = _grouped_usage(filters, ("api_key_id",), kind=None)
    if grouped is not None:
        return {key: usage.requests for (key,), usage in grouped.items()}
    rows = usage_filtered(**filters).values("api_key_id").annotate(n=Count("id")).order_by()
    return {row["api_key_id"]: int(row["n"]) for row in rows}


def usage_by_key(**filters: Any) -> list[dict[str, Any]]:
    """Per API key of `usage_filtered(**filters)` (None for requests without a key or whose key
    was deleted): requests, calls, errors and credits spent (services.usage.figures), with the
    key's name, prefix, last four, console flag and revocation time."""
    requests = _requests_by_key(filters)
    keys = {
        key.pk: key
        for key in ApiKey.objects.filter(
            account=filters["account"], pk__in=[pk for pk in requests if pk]
        )
    }
    figures = _figures_of(filters, ("api_key_id",))
    out = []
    for pk, count in requests.items():
        key = keys.get(pk) if pk else None
        item = figures.get((pk,), CallFigures())
        out.append(
            {
                "api_key_id": pk,
                "name": key.name if key else None,
                "prefix": key.prefix if key else None,
                "last_four": key.last_four if key else None,
                "is_console": bool(key and key.is_console),
                "revoked_at": key.revoked_at if key else None,
                "requests": count,
                "calls": item.calls,
                "errors": item.errors,
                "credits": item.credits,
            }
        )
    return sorted(out, key=lambda r: (-r["calls"], -r["requests"], r["api_key_id"] or 0))


def usage_exists(*, account: Account) -> bool:
    """Whether the account has any usage row at all (the usage page's empty state)."""
    return UsageLog.objects.filter(account=account).exists()


def calls_by_key(*, account: Account, key_ids: list[int], since: datetime) -> dict[int, int]:
    """Execute calls (CALL) per API key since `since`, for the given keys of `account`,
    in one grouped query on the (api_key, created_at) index. Keys without calls are absent."""
    if not key_ids:
        return {}
    rows = (
        UsageLog.objects.filter(account=account, api_key_id__in=key_ids, created_at__gte=since)
        .filter(CALL)
        .values("api_key_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {int(row["api_key_id"]): int(row["n"]) for row in rows}


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
    """The account's calls, errors and credits spent (services.usage.figures) from `start` to
    `end` (UTC days, both included), per service and per (day, service): calls from the
    UsageDaily rollup (index on account_ref, day) plus the live tail past the rollup watermark
    (a primary-key range), processes and ledger by the account's indexes. Never scans the
    account's whole request log. The caller checks that the user is staff."""
    grouped = usage_grouped(
        start=start, end=end, by=("day", "service_id", "status_class"), account_id=account.pk
    )
    figures = call_figures(
        start=start,
        end=end,
        calls=calls_by_status_class(grouped),
        by=("day", "service_id"),
        account_id=account.pk,
    )
    per_service: dict[str, CallFigures] = {}
    by_day: dict[tuple[date, str], int] = {}
    for (day, service), item in figures.items():
        total = per_service.setdefault(service, CallFigures())
        total.calls += item.calls
        total.request_errors += item.request_errors
        total.finished += item.finished
        total.failed += item.failed
        total.credits += item.credits
        by_day[(day, service)] = by_day.get((day, service), 0) + item.credits
    services: list[dict[str, Any]] = sorted(
        (
            {
                "service_id": service,
                "calls": item.calls,
                "errors": item.errors,
                "credits": item.credits,
                "error_rate": item.error_rate,
            }
            for service, item in per_service.items()
        ),
        key=lambda r: (-r["credits"], -r["calls"], r["service_id"]),
    )
    return AccountUsage(
        start=start,
        end=end,
        by_service=services,
        by_day=by_day,
        calls=sum(r["calls"] for r in services),
        errors=sum(r["errors"] for r in services),
        credits=sum(r["credits"] for r in services),
    )
