"""Reads on one account's usage: the request log with its filters, the usage page's tables and
charts, the home page's figures, calls per key, the staff account page's usage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Avg, Count, F, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import Account
from breact.dates import day_bounds
from services.models import UsageLog
from services.usage.figures import (
    CALL,
    REQUEST_ERROR,
    CallFigures,
    call_figures,
    calls_by_status_class,
    credits_net_of_refund,
)


def usage_by_day_and_service(
    *, account: Account, start: date, end: date, service_id: str | None = None
) -> list[dict[str, Any]]:
    """Calls, errors and credits spent per (day, service), as services.usage.figures defines
    them: calls and 4xx/5xx from the request log (index on account, created_at), failed
    processes and the ledger's charges net of refunds of the same days."""
    rows = usage_filtered(account=account, start=start, end=end, service_id=service_id)
    figures = _call_figures(
        rows,
        by=("day", "service_id"),
        account=account,
        start=start,
        end=end,
        service_id=service_id,
    )
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
    account: Account,
    start: date,
    end: date,
    api_key_id: int | None = None,
    service_id: str | None = None,
    processes: bool = True,
) -> dict[tuple[Any, ...], CallFigures]:
    """figures.call_figures for the calls among `rows` (grouped in the database by `by`) and
    the account's processes and ledger narrowed the same way; `processes` False leaves out
    processes and credits (a status filter that excludes the 202 of an accepted call)."""
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


def _figures_of(filters: dict[str, Any], by: tuple[str, ...]) -> dict[tuple[Any, ...], CallFigures]:
    return _call_figures(
        usage_filtered(**filters),
        by=by,
        account=filters["account"],
        start=filters["start"],
        end=filters["end"],
        api_key_id=filters.get("api_key_id"),
        service_id=filters.get("service_id") or None,
        processes=_accepts_202(filters.get("status")),
    )


def usage_log(**filters: Any) -> QuerySet[UsageLog]:
    """`usage_filtered(**filters)` with each row's `credits_spent`: what the request was charged,
    0 once its process was refunded (services.usage.figures: credits net of refunds), so the
    rows of the log and its CSV add up to the page's credits. One lookup per row on the ledger's
    unique (process, kind) index."""
    return usage_filtered(**filters).annotate(credits_spent=credits_net_of_refund("process_id"))


def usage_totals(**filters: Any) -> dict[str, int]:
    """Requests, calls, errors and credits spent of `usage_filtered(**filters)`, as
    services.usage.figures defines them."""
    total = _figures_of(filters, ()).get((), CallFigures())
    return {
        "requests": usage_filtered(**filters).count(),
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


def usage_by_service(**filters: Any) -> list[dict[str, Any]]:
    """Per service of `usage_filtered(**filters)`: calls, errors, error rate (0–1), credits
    spent (services.usage.figures) and the average and 95th-percentile (nearest rank) duration
    of the calls in ms. The p95 costs one single-value query per service listed."""
    calls = usage_filtered(**filters).filter(CALL)
    durations = {
        row["service_id"]: row["avg_ms"]
        for row in calls.values("service_id").annotate(avg_ms=Avg("duration_ms")).order_by()
    }
    figures = _figures_of(filters, ("service_id",))
    out = []
    for (service,), item in sorted(figures.items(), key=lambda kv: (-kv[1].calls, kv[0])):
        count = item.calls
        rank = -(-95 * count // 100)  # ceil(0.95 × n), the nearest-rank percentile
        p95 = (
            calls.filter(service_id=service)
            .order_by("duration_ms")
            .values_list("duration_ms", flat=True)[rank - 1 : rank]
            .first()
            if count
            else None
        )
        out.append(
            {
                "service_id": service,
                "calls": count,
                "errors": item.errors,
                "error_rate": item.error_rate,
                "credits": item.credits,
                "avg_ms": round(durations.get(service) or 0),
                "p95_ms": p95 or 0,
            }
        )
    return out


def usage_by_key(**filters: Any) -> list[dict[str, Any]]:
    """Per API key of `usage_filtered(**filters)` (None for requests without a key or whose key
    was deleted): requests, calls, errors and credits spent (services.usage.figures), with the
    key's name, prefix, last four, console flag and revocation time."""
    keys = (
        usage_filtered(**filters)
        .values(
            "api_key_id",
            "api_key__name",
            "api_key__prefix",
            "api_key__last_four",
            "api_key__is_console",
            "api_key__revoked_at",
        )
        .annotate(requests=Count("id"))
        .order_by()
    )
    figures = _figures_of(filters, ("api_key_id",))
    out = []
    for row in keys:
        item = figures.get((row["api_key_id"],), CallFigures())
        out.append(
            {
                "api_key_id": row["api_key_id"],
                "name": row["api_key__name"],
                "prefix": row["api_key__prefix"],
                "last_four": row["api_key__last_four"],
                "is_console": bool(row["api_key__is_console"]),
                "revoked_at": row["api_key__revoked_at"],
                "requests": row["requests"],
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
    from services.usage.rollups import usage_grouped

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
