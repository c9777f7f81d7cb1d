"""Staff reads across all accounts for the billing overview: credit flows from the ledger,
revenue, calls and failures per service, top and struggling accounts. Usage comes from
services.usage.rollups (daily rollups plus the live tail). Nothing here checks permissions:
the staff views do (accounts.permissions.staff_required).

About 500 lines on purpose: everything the one overview page reads under one rollup watermark
(staff_overview), kept together so its figures are read consistently."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from django.db.models import (
    Count,
    Exists,
    F,
    OuterRef,
    QuerySet,
    Sum,
)
from django.utils import timezone

from accounts.models import Account, Payment
from breact.dates import day_bounds
from services.models import UsageDaily, UsageLog
from services.usage.figures import (
    CALL,
    Outcomes,
    credits_spent,
    ledger_flows,
    process_outcomes,
    rate,
    top_spenders,
)
from services.usage.rollups import (
    UsageFigures,
    usage_active_accounts_count,
    usage_grouped,
    usage_read_consistent,
)

Granularity = Literal["day", "week", "month"]


GRANULARITIES: tuple[Granularity, ...] = ("day", "week", "month")


@dataclass(frozen=True)
class ServiceCalls:
    """Calls of one service in a range, by HTTP status class, its credits spent, and the
    outcome of the processes created in that range (services.usage.figures). Rates are 0–1;
    the *_pct properties are the same in percent (for templates)."""

    service_id: str
    calls: int
    ok: int
    client_errors: int
    server_errors: int
    credits: int
    processes_finished: int = 0
    processes_failed: int = 0

    @property
    def errors(self) -> int:
        """Calls answered 4xx/5xx plus failed processes (figures: an error)."""
        return self.client_errors + self.server_errors + self.processes_failed

    @property
    def error_rate(self) -> float:
        return rate(self.errors, self.calls)

    @property
    def server_error_rate(self) -> float:
        return rate(self.server_errors, self.calls)

    @property
    def client_error_rate(self) -> float:
        return rate(self.client_errors, self.calls)

    @property
    def process_failure_rate(self) -> float:
        return rate(self.processes_failed, self.processes_finished)

    @property
    def error_pct(self) -> float:
        return 100 * self.error_rate

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
    """Per service active on days `start`..`end`: calls, how many were answered 2xx/3xx (ok),
    4xx and 5xx (usage_grouped: rollups + tail), the credits spent, and the finished and failed
    processes among those created in the range (services.usage.figures); busiest first."""
    grouped = usage_grouped(
        start=start, end=end, by=("service_id", "status_class"), watermark=watermark
    )
    return _service_rows(grouped, start=start, end=end)


UsageGroups = dict[tuple[Any, ...], UsageFigures]


def _service_rows(
    grouped: Mapping[tuple[Any, ...], UsageFigures], *, start: date, end: date
) -> list[ServiceCalls]:
    """ServiceCalls from usage grouped by (service_id, status_class), with the process
    outcomes and credits spent of the same days (services.usage.figures)."""
    outcomes = process_outcomes(start=start, end=end, by=("service_id",))
    spent = credits_spent(start=start, end=end, by=("service_id",))
    empty = {"calls": 0, "ok": 0, "client": 0, "server": 0}
    totals: dict[str, dict[str, int]] = {service: dict(empty) for (service,) in outcomes}
    for (service,) in spent:
        totals.setdefault(service, dict(empty))
    for (service, status_class), figures in grouped.items():
        row = totals.setdefault(service, dict(empty))
        row["calls"] += figures.requests
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
            credits=spent.get((service,), 0),
            processes_finished=outcomes.get((service,), Outcomes()).finished,
            processes_failed=outcomes.get((service,), Outcomes()).failed,
        )
        for service, row in totals.items()
    ]
    return sorted(rows, key=lambda r: (-r.calls, r.service_id))


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
    (kind refund) per UTC day `start`..`end` (ledger_flows: the ledger's daily rollup and its
    tail). Grants and adjustments are not in these columns. Days without any of them are
    absent."""
    return {
        day: CreditFlows(sold=f.sold, consumed=f.consumed, refunded=f.refunded)
        for (day,), f in ledger_flows(start=start, end=end, by=("day",)).items()
    }


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
    (ties by account id), only those above 0: top_spenders (ranked in the database from the
    ledger's daily rollup, with its tail) and one query for their emails and balances."""
    ranked = top_spenders(start=start, end=end, limit=limit)
    rows = [
        {"account_id": account_id, "charged": f.consumed, "refunded": f.refunded}
        for account_id, f in ranked
    ]
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

    def usage_part(mark: int) -> tuple[dict[date, int], UsageGroups, int, list[Account], int]:
        # Two small grouped reads (per day; per service and status class) rather than one per
        # day, service and status class, whose rows grow with the days times the services.
        per_day = usage_grouped(start=start, end=end, by=("day",), watermark=mark)
        by_service = usage_grouped(
            start=start, end=end, by=("service_id", "status_class"), watermark=mark
        )
        active = usage_active_accounts_count(start=start, end=end, watermark=mark)
        empty = accounts_empty_with_recent_calls(since=since, watermark=mark)
        empty_rows = list(empty[:LOW_BALANCE_LIMIT])
        empty_count = len(empty_rows) if len(empty_rows) < LOW_BALANCE_LIMIT else empty.count()
        calls_by_day = {day: figures.requests for (day,), figures in per_day.items()}
        return calls_by_day, by_service, active, empty_rows, empty_count

    calls_by_day, by_service, active, empty_rows, empty_count = usage_read_consistent(usage_part)
    periods = credit_flows_by_period(
        start=start, end=end, granularity=granularity, calls_by_day=calls_by_day
    )
    services = _service_rows(by_service, start=start, end=end)
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
