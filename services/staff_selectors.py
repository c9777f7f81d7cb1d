"""Staff reads across all accounts: usage from the daily rollups plus the live tail, credit flows
from the ledger, revenue, top and struggling accounts. Nothing here checks permissions: the
staff views do (accounts.permissions.staff_required).

Usage figures are exact without scanning the request log: UsageDaily holds every UsageLog row up
to the rollup watermark (RollupState "usage"), and the few rows past it (the "live tail") are
aggregated from UsageLog with `id > watermark`, a primary-key range. `usage_read_consistent`
re-reads the watermark after the reads and retries if a rollup committed in between, so no row
is counted twice or missed. Days are whole UTC days (settings.TIME_ZONE), as UsageDaily.day.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal, TypeVar

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
from django.utils import timezone

from accounts.models import Account, LedgerEntry, Payment
from services.models import LATENCY_BUCKETS_MS, Process, RollupState, UsageDaily, UsageLog

T = TypeVar("T")

# The RollupState row of services.actions.usage_rollup.
USAGE_ROLLUP_NAME = "usage"
# An execute request is a "call" (as UsageDaily.kind and services.selectors.USAGE_CALL).
CALL = Q(method="POST") & ~Q(service_id="")
BUCKETS = len(LATENCY_BUCKETS_MS) + 1

Granularity = Literal["day", "week", "month"]
GRANULARITIES: tuple[Granularity, ...] = ("day", "week", "month")


def day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, (end + 1 day) 00:00) in the current time zone: whole days, both included."""
    tz = timezone.get_current_timezone()
    return (
        datetime.combine(start, time.min, tzinfo=tz),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz),
    )


# --- usage: rollups + live tail ----------------------------------------------------------------


def usage_watermark() -> int:
    """The id of the last UsageLog row folded into UsageDaily (0 before the first rollup)."""
    value = (
        RollupState.objects.filter(name=USAGE_ROLLUP_NAME).values_list("last_id", flat=True).first()
    )
    return int(value or 0)


def usage_read_consistent(read: Callable[[int], T], *, attempts: int = 3) -> T:
    """`read(watermark)` between two reads of the watermark; run again when a rollup committed
    meanwhile (the watermark moved), so rollups and tail count every row exactly once. The
    rollup moves rows and watermark in one transaction and the watermark only grows, so an
    unchanged watermark proves nothing moved. After `attempts` tries the last result is
    returned (a busy rollup every few ms would be needed to get there)."""
    watermark = usage_watermark()
    result = read(watermark)
    for _ in range(attempts - 1):
        now = usage_watermark()
        if now == watermark:
            break
        watermark = now
        result = read(watermark)
    return result


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
    service_id: str | None = None,
    endpoint: str | None = None,
    latency: bool = False,
    watermark: int | None = None,
) -> dict[tuple[Any, ...], UsageFigures]:
    """Exact usage on days `start`..`end` (UTC, both included) summed per `by` (names from
    USAGE_GROUP_KEYS; () = one grand total under the key ()), from UsageDaily plus the live
    tail: two grouped queries, never a scan of UsageLog. `kind` "call" (default: execute
    requests), "read" or None (all requests); the other arguments narrow it. `account_id` and
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
                service_id=service_id,
                endpoint=endpoint,
                latency=latency,
                watermark=mark,
            )
        )
    keys = [f"g_{name}" for name in by]

    daily = UsageDaily.objects.filter(day__gte=start, day__lte=end)
    tail = usage_live_tail(start=start, end=end, watermark=watermark)
    if kind == UsageDaily.Kind.CALL:
        daily, tail = daily.filter(kind=kind), tail.filter(CALL)
    elif kind == UsageDaily.Kind.READ:
        daily, tail = daily.filter(kind=kind), tail.exclude(CALL)
    elif kind is not None:
        raise ValueError(f"Unknown usage kind: {kind!r}")
    if account_id is not None:
        daily, tail = daily.filter(account_ref=account_id), tail.filter(account_id=account_id)
    if service_id is not None:
        daily, tail = daily.filter(service_id=service_id), tail.filter(service_id=service_id)
    if endpoint is not None:
        daily, tail = daily.filter(endpoint=endpoint), tail.filter(endpoint=endpoint)

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
    (distinct) of the rollups' account refs and the live tail's account ids, counted in SQL."""
    if watermark is None:
        return usage_read_consistent(
            lambda mark: usage_active_accounts_count(start=start, end=end, watermark=mark)
        )
    daily = (
        UsageDaily.objects.filter(
            day__gte=start, day__lte=end, kind=UsageDaily.Kind.CALL, account_ref__gt=0
        )
        .values_list("account_ref", flat=True)
        .order_by()
    )
    tail = (
        usage_live_tail(start=start, end=end, watermark=watermark)
        .filter(CALL, account_id__isnull=False)
        .values_list("account_id", flat=True)
    )
    return daily.union(tail).count()


@dataclass(frozen=True)
class ServiceCalls:
    """Execute calls of one service in a range, by HTTP status class, with its credits, plus
    the outcome of the processes created in that range (process_outcomes_by_service). Rates
    are 0–1; the *_pct properties are the same in percent (for templates)."""

    service_id: str
    calls: int
    ok: int
    client_errors: int
    server_errors: int
    credits: int
    processes_finished: int = 0
    processes_failed: int = 0

    @property
    def server_error_rate(self) -> float:
        return self.server_errors / self.calls if self.calls else 0.0

    @property
    def client_error_rate(self) -> float:
        return self.client_errors / self.calls if self.calls else 0.0

    @property
    def process_failure_rate(self) -> float:
        return self.processes_failed / self.processes_finished if self.processes_finished else 0.0

    @property
    def server_error_pct(self) -> float:
        return 100 * self.server_error_rate

    @property
    def client_error_pct(self) -> float:
        return 100 * self.client_error_rate

    @property
    def process_failure_pct(self) -> float:
        return 100 * self.process_failure_rate


def service_calls(*, start: date, end: date, watermark: int | None = None) -> list[ServiceCalls]:
    """Per service active on days `start`..`end`: execute calls, how many were answered
    2xx/3xx (ok), 4xx and 5xx, the credits logged (usage_grouped: rollups + tail), and the
    finished and failed processes among those created in the range
    (process_outcomes_by_service); busiest first, then by id."""
    grouped = usage_grouped(
        start=start, end=end, by=("service_id", "status_class"), watermark=watermark
    )
    return _service_rows(grouped, process_outcomes_by_service(start=start, end=end))


def _service_rows(
    grouped: Mapping[tuple[Any, ...], UsageFigures], outcomes: Mapping[str, tuple[int, int]]
) -> list[ServiceCalls]:
    """ServiceCalls from usage grouped by (service_id, status_class) and process outcomes."""
    totals: dict[str, dict[str, int]] = {
        service: {"calls": 0, "ok": 0, "client": 0, "server": 0, "credits": 0}
        for service in outcomes
    }
    for (service, status_class), figures in grouped.items():
        row = totals.setdefault(
            service, {"calls": 0, "ok": 0, "client": 0, "server": 0, "credits": 0}
        )
        row["calls"] += figures.requests
        row["credits"] += figures.credits
        if status_class == 4:
            row["client"] += figures.requests
        elif status_class >= 5:
            row["server"] += figures.requests
        else:
            row["ok"] += figures.requests
    rows = [
        ServiceCalls(
            service_id=service,
            calls=row["calls"],
            ok=row["ok"],
            client_errors=row["client"],
            server_errors=row["server"],
            credits=row["credits"],
            processes_finished=outcomes.get(service, (0, 0))[0],
            processes_failed=outcomes.get(service, (0, 0))[1],
        )
        for service, row in totals.items()
    ]
    return sorted(rows, key=lambda r: (-r.calls, r.service_id))


def process_outcomes_by_service(*, start: date, end: date) -> dict[str, tuple[int, int]]:
    """Per service: (finished, failed) processes created on days `start`..`end` — finished =
    state completed or error, failed = state error (a platform failure, refunded; a service
    error completes with an error result). One grouped query on the process table's
    created_at index; processes still queued or running are not counted."""
    lower, upper = day_bounds(start, end)
    rows = (
        Process.objects.filter(
            created_at__gte=lower,
            created_at__lt=upper,
            state__in=[Process.State.COMPLETED, Process.State.ERROR],
        )
        .values("service_id")
        .annotate(
            finished=Count("id"),
            failed=Count("id", filter=Q(state=Process.State.ERROR)),
        )
        .order_by()
    )
    return {row["service_id"]: (int(row["finished"]), int(row["failed"])) for row in rows}


# --- credits: the ledger ------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """A bucket of the overview: `start`..`end` (both included), clipped to the range asked."""

    start: date
    end: date
    granularity: Granularity

    @property
    def label(self) -> str:
        if self.granularity == "month":
            return f"{self.start:%b %Y}"
        if self.start == self.end:
            return self.start.isoformat()
        return f"{self.start.isoformat()} – {self.end.isoformat()}"


def period_start(day: date, granularity: Granularity) -> date:
    """The first day of the period holding `day`: itself, its ISO week's Monday, or the 1st."""
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    if granularity == "month":
        return day.replace(day=1)
    return day


def periods_between(start: date, end: date, granularity: Granularity) -> list[Period]:
    """The periods covering `start`..`end` in order, the first and last clipped to the range."""
    out: list[Period] = []
    day = start
    while day <= end:
        first = period_start(day, granularity)
        if granularity == "day":
            following = first + timedelta(days=1)
        elif granularity == "week":
            following = first + timedelta(days=7)
        else:
            following = (first + timedelta(days=32)).replace(day=1)
        last = min(following - timedelta(days=1), end)
        out.append(Period(start=day, end=last, granularity=granularity))
        day = last + timedelta(days=1)
    return out


@dataclass
class CreditFlows:
    """Credits sold (top-ups), consumed (charges, positive) and refunded in a period, with the
    execute calls of the same days."""

    sold: int = 0
    consumed: int = 0
    refunded: int = 0
    calls: int = 0

    @property
    def net_consumed(self) -> int:
        """Consumed minus refunded: what the period's calls really cost."""
        return self.consumed - self.refunded


def ledger_flows_by_day(*, start: date, end: date) -> dict[date, CreditFlows]:
    """Credits sold (kind topup), consumed (kind charge, as a positive number) and refunded
    (kind refund) per UTC day `start`..`end`, from one grouped query on the ledger's
    (created_at, kind) index. Grants and adjustments are not in these columns. Days without
    any of them are absent."""
    lower, upper = day_bounds(start, end)
    rows = (
        LedgerEntry.objects.filter(
            created_at__gte=lower,
            created_at__lt=upper,
            kind__in=[LedgerEntry.Kind.TOPUP, LedgerEntry.Kind.CHARGE, LedgerEntry.Kind.REFUND],
        )
        .annotate(day=TruncDate("created_at"))
        .values("day", "kind")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    out: dict[date, CreditFlows] = {}
    for row in rows:
        day = row["day"].date() if isinstance(row["day"], datetime) else row["day"]
        flows = out.setdefault(day, CreditFlows())
        total = int(row["total"] or 0)
        if row["kind"] == LedgerEntry.Kind.TOPUP:
            flows.sold += total
        elif row["kind"] == LedgerEntry.Kind.CHARGE:
            flows.consumed += -total
        else:
            flows.refunded += total
    return out


def credit_flows_by_period(
    *,
    start: date,
    end: date,
    granularity: Granularity,
    watermark: int | None = None,
    calls_by_day: Mapping[date, int] | None = None,
) -> list[tuple[Period, CreditFlows]]:
    """Every period of `start`..`end` (none left out, zeros included) with its credits sold,
    consumed and refunded (ledger_flows_by_day) and its execute calls (usage_grouped by day,
    unless the caller already has them: `calls_by_day`), bucketed here (at most 366 days)."""
    ledger = ledger_flows_by_day(start=start, end=end)
    if calls_by_day is None:
        grouped = usage_grouped(start=start, end=end, by=("day",), watermark=watermark)
        calls_by_day = {day: figures.requests for (day,), figures in grouped.items()}
    buckets = periods_between(start, end, granularity)
    by_start = {p.start: CreditFlows() for p in buckets}

    def bucket_of(day: date) -> CreditFlows:
        first = max(period_start(day, granularity), start)
        return by_start[first]

    for day, flows in ledger.items():
        target = bucket_of(day)
        target.sold += flows.sold
        target.consumed += flows.consumed
        target.refunded += flows.refunded
    for day, calls in calls_by_day.items():
        bucket_of(day).calls += calls
    return [(p, by_start[p.start]) for p in buckets]


@dataclass(frozen=True)
class Revenue:
    """Paid payments of one provider and currency: count, money (cents) and credits sold."""

    provider: str
    currency: str
    payments: int
    amount_cents: int
    credits: int

    @property
    def provider_label(self) -> str:
        if self.provider in Payment.Provider.values:
            return str(Payment.Provider(self.provider).label)
        return self.provider

    @property
    def moved_money(self) -> bool:
        """False for test-mode top-ups: credited for free, their amount is only a list price."""
        return self.provider != Payment.Provider.TEST

    @property
    def amount(self) -> Decimal:
        """The money in the currency's main unit (cents / 100); 0 when no money moved."""
        return Decimal(self.amount_cents if self.moved_money else 0) / 100


def revenue_by_provider(*, start: date, end: date) -> list[Revenue]:
    """Payments with status paid whose paid_at falls on days `start`..`end`, summed per provider
    and currency (amount_cents, credits), largest first. One grouped query; payments are one
    per top-up, a small table, so no index is needed."""
    lower, upper = day_bounds(start, end)
    rows = (
        Payment.objects.filter(status=Payment.Status.PAID, paid_at__gte=lower, paid_at__lt=upper)
        .values("provider", "currency")
        .annotate(n=Count("id"), cents=Sum("amount_cents"), credits_sum=Sum("credits"))
        .order_by()
    )
    out = [
        Revenue(
            provider=row["provider"],
            currency=str(row["currency"]).upper(),
            payments=int(row["n"]),
            amount_cents=int(row["cents"] or 0),
            credits=int(row["credits_sum"] or 0),
        )
        for row in rows
    ]
    return sorted(out, key=lambda r: (-r.amount_cents, r.provider, r.currency))


@dataclass(frozen=True)
class TopAccount:
    """An account's consumption in a range: charged, refunded and their difference."""

    account_id: int
    email: str
    balance: int
    status: str
    charged: int
    refunded: int

    @property
    def net(self) -> int:
        return self.charged - self.refunded


def top_accounts_by_consumption(*, start: date, end: date, limit: int = 10) -> list[TopAccount]:
    """The `limit` accounts with the most credits charged minus refunded on days `start`..`end`
    (ties by account id), only those above 0. One grouped ledger query on (created_at, kind)
    and one query for their emails and balances."""
    lower, upper = day_bounds(start, end)
    rows = list(
        LedgerEntry.objects.filter(
            created_at__gte=lower,
            created_at__lt=upper,
            kind__in=[LedgerEntry.Kind.CHARGE, LedgerEntry.Kind.REFUND],
        )
        .values("account_id")
        .annotate(
            charged=Coalesce(
                -Sum("amount", filter=Q(kind=LedgerEntry.Kind.CHARGE)),
                0,
                output_field=BigIntegerField(),
            ),
            refunded=Coalesce(
                Sum("amount", filter=Q(kind=LedgerEntry.Kind.REFUND)),
                0,
                output_field=BigIntegerField(),
            ),
            net=-Sum("amount"),
        )
        .filter(net__gt=0)
        .order_by("-net", "account_id")[:limit]
    )
    accounts = {
        a["pk"]: a
        for a in Account.objects.filter(pk__in=[r["account_id"] for r in rows]).values(
            "pk", "owner__email", "balance", "status"
        )
    }
    return [
        TopAccount(
            account_id=row["account_id"],
            email=accounts[row["account_id"]]["owner__email"],
            balance=int(accounts[row["account_id"]]["balance"]),
            status=accounts[row["account_id"]]["status"],
            charged=int(row["charged"]),
            refunded=int(row["refunded"]),
        )
        for row in rows
        if row["account_id"] in accounts
    ]


# --- struggling accounts --------------------------------------------------------------------------


def accounts_below_threshold() -> QuerySet[Account]:
    """Accounts whose balance is under their own low-balance threshold (threshold > 0), lowest
    balance first, with their owners. A filter on the accounts table (no index: it is one row
    per customer); slice it for display and count() it for the total."""
    return (
        Account.objects.filter(low_balance_threshold__gt=0, balance__lt=F("low_balance_threshold"))
        .select_related("owner")
        .order_by("balance", "id")
    )


def accounts_empty_with_recent_calls(*, since: date, watermark: int) -> QuerySet[Account]:
    """Accounts with a balance of 0 that made an execute call on or after day `since` (UTC):
    an EXISTS on UsageDaily's (account_ref, day) index or on the live tail (id > watermark,
    by the (account, created_at) index) per zero-balance account; newest accounts first, with
    their owners. Pass a watermark from usage_watermark / usage_read_consistent."""
    lower, _ = day_bounds(since, since)
    rolled = UsageDaily.objects.filter(
        account_ref=OuterRef("pk"), day__gte=since, kind=UsageDaily.Kind.CALL
    )
    live = UsageLog.objects.filter(
        CALL, account_id=OuterRef("pk"), created_at__gte=lower, id__gt=watermark
    )
    return (
        Account.objects.filter(balance=0)
        .filter(Exists(rolled) | Exists(live))
        .select_related("owner")
        .order_by("-id")
    )


# --- the overview page ------------------------------------------------------------------------

LOW_BALANCE_LIMIT = 50
RECENT_CALL_DAYS = 7


@dataclass(frozen=True)
class StaffOverview:
    """Everything the staff overview shows for days `start`..`end` (UTC) and a granularity."""

    start: date
    end: date
    granularity: Granularity
    periods: list[tuple[Period, CreditFlows]]
    totals: CreditFlows
    revenue: list[Revenue]
    active_accounts: int
    services: list[ServiceCalls]
    top_accounts: list[TopAccount]
    below_threshold: list[Account]
    below_threshold_count: int
    empty_recent: list[Account]
    empty_recent_count: int
    empty_recent_since: date

    @property
    def revenue_by_currency(self) -> list[tuple[str, Decimal]]:
        """Paid revenue per currency, all providers together, largest first. Test-mode top-ups
        moved no money and are left out (their rows still show in the per-provider table)."""
        sums: dict[str, int] = {}
        for row in self.revenue:
            if not row.moved_money:
                continue
            sums[row.currency] = sums.get(row.currency, 0) + row.amount_cents
        ordered = sorted(sums.items(), key=lambda item: (-item[1], item[0]))
        return [(currency, Decimal(cents) / 100) for currency, cents in ordered]

    @property
    def is_empty(self) -> bool:
        t = self.totals
        return not (
            t.sold or t.consumed or t.refunded or t.calls or self.revenue or self.active_accounts
        )


def staff_overview(
    *, start: date, end: date, granularity: Granularity, today: date | None = None
) -> StaffOverview:
    """The staff overview's figures (see StaffOverview); the usage figures are read under one
    watermark (usage_read_consistent). About 14 queries whatever the data size: grouped reads
    of UsageDaily, the live tail, the ledger (created_at, kind) and payments; never a scan of
    UsageLog. The caller checks that the user is staff."""
    today = today or timezone.now().date()
    since = today - timedelta(days=RECENT_CALL_DAYS - 1)

    def usage_part(
        mark: int,
    ) -> tuple[dict[tuple[Any, ...], UsageFigures], int, list[Account], int]:
        # One grouped read serves the calls per day and the calls per service.
        grouped = usage_grouped(
            start=start, end=end, by=("day", "service_id", "status_class"), watermark=mark
        )
        active = usage_active_accounts_count(start=start, end=end, watermark=mark)
        empty = accounts_empty_with_recent_calls(since=since, watermark=mark)
        empty_rows = list(empty[:LOW_BALANCE_LIMIT])
        empty_count = len(empty_rows) if len(empty_rows) < LOW_BALANCE_LIMIT else empty.count()
        return grouped, active, empty_rows, empty_count

    grouped, active, empty_rows, empty_count = usage_read_consistent(usage_part)
    calls_by_day: dict[date, int] = {}
    by_service: dict[tuple[Any, ...], UsageFigures] = {}
    for (day, service, status_class), figures in grouped.items():
        calls_by_day[day] = calls_by_day.get(day, 0) + figures.requests
        by_service.setdefault((service, status_class), UsageFigures()).add(figures)
    periods = credit_flows_by_period(
        start=start, end=end, granularity=granularity, calls_by_day=calls_by_day
    )
    services = _service_rows(by_service, process_outcomes_by_service(start=start, end=end))
    totals = CreditFlows()
    for _, flows in periods:
        totals.sold += flows.sold
        totals.consumed += flows.consumed
        totals.refunded += flows.refunded
        totals.calls += flows.calls
    below = accounts_below_threshold()
    below_rows = list(below[:LOW_BALANCE_LIMIT])
    return StaffOverview(
        start=start,
        end=end,
        granularity=granularity,
        periods=periods,
        totals=totals,
        revenue=revenue_by_provider(start=start, end=end),
        active_accounts=active,
        services=services,
        top_accounts=top_accounts_by_consumption(start=start, end=end),
        below_threshold=below_rows,
        below_threshold_count=(
            len(below_rows) if len(below_rows) < LOW_BALANCE_LIMIT else below.count()
        ),
        empty_recent=empty_rows,
        empty_recent_count=empty_count,
        empty_recent_since=since,
    )
