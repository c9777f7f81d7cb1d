"""Usage read from the daily rollups plus the live tail, for any account or all of them.

Usage figures are exact without scanning the request log: UsageDaily holds every UsageLog row up
to the rollup watermark (RollupState "usage"), and the few rows past it (the "live tail") are
aggregated from UsageLog with `id > watermark`, a primary-key range. `usage_read_consistent`
re-reads the watermark after the reads and retries if a rollup committed in between, so no row
is counted twice or missed. Days are whole UTC days (settings.TIME_ZONE), as UsageDaily.day.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar

from django.db.models import (
    BigIntegerField,
    Case,
    CharField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce, TruncDate

from accounts.models import Account
from breact.dates import day_bounds
from services.models import LATENCY_BUCKETS_MS, UsageDaily, UsageLog
from services.usage import watermarks
from services.usage.figures import CALL

T = TypeVar("T")


# The RollupState row of services.usage.actions.usage_rollup.
USAGE_ROLLUP_NAME = watermarks.USAGE


BUCKETS = len(LATENCY_BUCKETS_MS) + 1


def usage_watermark() -> int:
    """The id of the last UsageLog row folded into UsageDaily (0 before the first rollup)."""
    return watermarks.watermark(USAGE_ROLLUP_NAME)


def usage_read_consistent(read: Callable[[int], T], *, attempts: int = 3) -> T:
    """`read(watermark)` consistent with the usage rollup (watermarks.read_consistent)."""
    return watermarks.read_consistent(USAGE_ROLLUP_NAME, read, attempts=attempts)


def usage_live_tail(*, start: date, end: date, watermark: int) -> QuerySet[UsageLog]:
    """UsageLog rows not yet rolled up (id > watermark) created on days `start`..`end`.
    Index-backed by the primary key range (small while usage_rollup keeps up)."""
    lower, upper = day_bounds(start, end)
    return UsageLog.objects.filter(
        id__gt=watermark, created_at__gte=lower, created_at__lt=upper
    ).order_by()


@dataclass
class UsageFigures:
    """Summed usage of one group. `latency_buckets` counts requests per LATENCY_BUCKETS_MS
    bound plus one overflow bucket; empty unless asked for (latency=True)."""

    requests: int = 0
    credits: int = 0
    duration_ms_sum: int = 0
    latency_buckets: list[int] = field(default_factory=list)

    def add(self, other: UsageFigures) -> None:
        self.requests += other.requests
        self.credits += other.credits
        self.duration_ms_sum += other.duration_ms_sum
        if other.latency_buckets:
            mine = self.latency_buckets or [0] * len(other.latency_buckets)
            self.latency_buckets = [a + b for a, b in zip(mine, other.latency_buckets, strict=True)]

    @property
    def avg_ms(self) -> float:
        return self.duration_ms_sum / self.requests if self.requests else 0.0


# Grouping keys of usage_grouped → (UsageDaily expression, UsageLog expression).
USAGE_GROUP_KEYS = (
    "day",
    "account_id",
    "api_key_id",
    "service_id",
    "endpoint",
    "kind",
    "status_class",
)


def _daily_key(name: str) -> Any:
    return {
        "day": F("day"),
        "account_id": F("account_ref"),
        "api_key_id": F("api_key_ref"),
        "service_id": F("service_id"),
        "endpoint": F("endpoint"),
        "kind": F("kind"),
        "status_class": F("status_class"),
    }[name]


def _tail_key(name: str) -> Any:
    # The same expressions as usage_rollup, so a row lands in the same group either way.
    return {
        "day": TruncDate("created_at"),
        "account_id": Coalesce(F("account_id"), Value(0), output_field=BigIntegerField()),
        "api_key_id": Coalesce(F("api_key_id"), Value(0), output_field=BigIntegerField()),
        "service_id": F("service_id"),
        "endpoint": F("endpoint"),
        "kind": Case(
            When(CALL, then=Value(UsageDaily.Kind.CALL)),
            default=Value(UsageDaily.Kind.READ),
            output_field=CharField(),
        ),
        "status_class": ExpressionWrapper(F("status_code") / 100, output_field=IntegerField()),
    }[name]


def usage_grouped(
    *,
    start: date,
    end: date,
    by: Sequence[str] = (),
    kind: str | None = UsageDaily.Kind.CALL,
    account_id: int | None = None,
    api_key_id: int | None = None,
    service_id: str | None = None,
    endpoint: str | None = None,
    status_class: int | None = None,
    latency: bool = False,
    watermark: int | None = None,
) -> dict[tuple[Any, ...], UsageFigures]:
    """Exact usage on days `start`..`end` (UTC, both included) summed per `by` (names from
    USAGE_GROUP_KEYS; () = one grand total under the key ()), from UsageDaily plus the live
    tail: two grouped queries, never a scan of UsageLog. `kind` "call" (default: execute
    requests), "read" or None (all requests); the other arguments narrow it (`status_class`:
    2, 4 or 5 for 2xx, 4xx, 5xx). `account_id` and
    `api_key_id` are 0 for requests without an account/key. With `latency`, the per-bucket
    counts are summed too (in SQL). Pass the `watermark` of a surrounding
    usage_read_consistent; without one this call makes its own consistent read. Groups with
    no requests are absent."""
    unknown = set(by) - set(USAGE_GROUP_KEYS)
    if unknown:
        raise ValueError(f"Unknown usage grouping: {sorted(unknown)}")
    if watermark is None:
        return usage_read_consistent(
            lambda mark: usage_grouped(
                start=start,
                end=end,
                by=by,
                kind=kind,
                account_id=account_id,
                api_key_id=api_key_id,
                service_id=service_id,
                endpoint=endpoint,
                status_class=status_class,
                latency=latency,
                watermark=mark,
            )
        )
    keys = [f"g_{name}" for name in by]

    daily = UsageDaily.objects.filter(day__gte=start, day__lte=end)
    # The rows of all accounts and keys (ALL_REFS) answer platform-wide reads; the others
    # answer reads by or for an account or key.
    if account_id is not None or api_key_id is not None or {"account_id", "api_key_id"} & set(by):
        daily = daily.filter(account_ref__gte=0)
    else:
        daily = daily.filter(account_ref=UsageDaily.ALL_REFS)
    tail = usage_live_tail(start=start, end=end, watermark=watermark)
    if kind == UsageDaily.Kind.CALL:
        daily, tail = daily.filter(kind=kind), tail.filter(CALL)
    elif kind == UsageDaily.Kind.READ:
        daily, tail = daily.filter(kind=kind), tail.exclude(CALL)
    elif kind is not None:
        raise ValueError(f"Unknown usage kind: {kind!r}")
    if account_id is not None:
        daily, tail = daily.filter(account_ref=account_id), tail.filter(account_id=account_id)
    if api_key_id is not None:
        daily, tail = daily.filter(api_key_ref=api_key_id), tail.filter(api_key_id=api_key_id)
    if service_id is not None:
        daily, tail = daily.filter(service_id=service_id), tail.filter(service_id=service_id)
    if endpoint is not None:
        daily, tail = daily.filter(endpoint=endpoint), tail.filter(endpoint=endpoint)
    if status_class is not None:
        daily = daily.filter(status_class=status_class)
        tail = tail.filter(
            status_code__gte=status_class * 100, status_code__lt=status_class * 100 + 100
        )

    daily_sums: dict[str, Any] = {
        "n_requests": Sum("requests"),
        "n_credits": Sum("credits"),
        "n_duration": Sum("duration_ms_sum"),
    }
    tail_sums: dict[str, Any] = {
        "n_requests": Count("id"),
        "n_credits": Sum("credits"),
        "n_duration": Sum("duration_ms"),
    }
    if latency:
        lower_bound = 0
        for i in range(BUCKETS):
            daily_sums[f"b{i}"] = Sum(
                Cast(KeyTextTransform(str(i), "latency_buckets"), BigIntegerField())
            )
            # The rollup's buckets: bucket i holds LATENCY_BUCKETS_MS[i-1] < ms <= [i].
            in_bucket = Q(duration_ms__gt=lower_bound) if i else Q()
            if i < len(LATENCY_BUCKETS_MS):
                in_bucket &= Q(duration_ms__lte=LATENCY_BUCKETS_MS[i])
                lower_bound = LATENCY_BUCKETS_MS[i]
            tail_sums[f"b{i}"] = Count("id", filter=in_bucket)

    result: dict[tuple[Any, ...], UsageFigures] = {}
    for source, key_of, sums in ((daily, _daily_key, daily_sums), (tail, _tail_key, tail_sums)):
        if keys:
            source = source.annotate(**{k: key_of(n) for k, n in zip(keys, by, strict=True)})
            rows: Iterable[dict[str, Any]] = source.values(*keys).annotate(**sums).order_by()
        else:
            rows = [source.aggregate(**sums)]
        for row in rows:
            requests = int(row["n_requests"] or 0)
            if not requests:
                continue
            figures = UsageFigures(
                requests=requests,
                credits=int(row["n_credits"] or 0),
                duration_ms_sum=int(row["n_duration"] or 0),
                latency_buckets=[int(row[f"b{i}"] or 0) for i in range(BUCKETS)] if latency else [],
            )
            key = tuple(_normalise(name, row[k]) for name, k in zip(by, keys, strict=True))
            result.setdefault(key, UsageFigures()).add(figures)
    return result


def _normalise(name: str, value: Any) -> Any:
    if name == "day" and isinstance(value, datetime):
        return value.date()
    if name in ("account_id", "api_key_id", "status_class"):
        return int(value or 0)
    return value


def usage_active_accounts_count(*, start: date, end: date, watermark: int | None = None) -> int:
    """How many accounts made at least one execute call on days `start`..`end`: one UNION
    (distinct) of the accounts with a rolled-up call (an EXISTS on UsageDaily's (account_ref,
    day) index per account, so the read does not grow with the days of history) and the live
    tail's account ids, counted in SQL."""
    if watermark is None:
        return usage_read_consistent(
            lambda mark: usage_active_accounts_count(start=start, end=end, watermark=mark)
        )
    rolled = UsageDaily.objects.filter(
        account_ref=OuterRef("pk"), day__gte=start, day__lte=end, kind=UsageDaily.Kind.CALL
    )
    daily = Account.objects.filter(Exists(rolled)).values_list("pk", flat=True).order_by()
    tail = (
        usage_live_tail(start=start, end=end, watermark=watermark)
        .filter(CALL, account_id__isnull=False)
        .values_list("account_id", flat=True)
    )
    return daily.union(tail).count()
