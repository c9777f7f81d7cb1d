"""THE usage figures, defined once. Every page (console home, usage page and its CSV, the staff
overview, services and account pages), the API's /usage and the rollup read them from here:

- a **call** is an execute request: a POST to a service endpoint (CALL). Polls of a process and
  account reads are requests in the log, not calls.
- **credits spent** are the ledger's charges net of refunds (credits_spent): a refunded call
  costs nothing. Usage-log credits (what a request was charged when it was made) are not.
- an **error** is a call answered 4xx/5xx (REQUEST_ERROR), or a call whose process failed:
  a platform failure (state error) or a service error (completed with an inner error, refunded)
  (FAILED_PROCESS, process_failed).
- the **error rate** is errors / calls; the **failure rate** is failed processes / finished
  processes (state completed or error), by the processes' creation day.

Days are whole days of the current time zone (breact.dates.day_bounds). Process outcomes and
credits spent are read from their daily rollups (ProcessDaily, LedgerDaily, folded by
services.usage.actions) plus the rows past each rollup's watermark, so no read scans the process
table or the ledger.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db.models import BigIntegerField, Case, Count, Exists, F, OuterRef, Q, Sum, Value, When
from django.db.models.functions import Coalesce, TruncDate

from accounts.models import LedgerEntry
from breact.dates import day_bounds
from services.models import LATENCY_BUCKETS_MS, LedgerDaily, Process, ProcessDaily
from services.usage import watermarks

# A call: an execute request (POST to a service endpoint). UsageDaily.kind "call" is this.
CALL = Q(method="POST") & ~Q(service_id="")
# A call answered with a client or server error (nothing was charged, or it was refunded).
REQUEST_ERROR = Q(status_code__gte=400)
# Process.error_code of a process completed with a service error (inner status "error").
SERVICE_ERROR = "SERVICE_ERROR"
FINISHED_STATES = (Process.State.COMPLETED, Process.State.ERROR)
# A failed process: a platform failure, or a service error (marked SERVICE_ERROR when it
# completes; older rows are told by their result while it is kept).
FAILED_PROCESS = (
    Q(state=Process.State.ERROR)
    | Q(state=Process.State.COMPLETED, error_code=SERVICE_ERROR)
    | Q(state=Process.State.COMPLETED, result__status="error")
)
SPENT_KINDS = (LedgerEntry.Kind.CHARGE, LedgerEntry.Kind.REFUND)
# The ledger's credit flows, as positive numbers: sold (top-ups), consumed (charges), refunded.
# Grants and adjustments are in none of them. Credits spent are consumed minus refunded.
FLOW_KINDS = (LedgerEntry.Kind.TOPUP, *SPENT_KINDS)


def flow_sums() -> dict[str, Any]:
    """The aggregates of a ledger queryset into sold, consumed and refunded (FLOW_KINDS)."""

    def total(kind: str, sign: int) -> Any:
        return Coalesce(
            sign * Sum("amount", filter=Q(kind=kind)), 0, output_field=BigIntegerField()
        )

    return {
        "sold": total(LedgerEntry.Kind.TOPUP, 1),
        "consumed": total(LedgerEntry.Kind.CHARGE, -1),
        "refunded": total(LedgerEntry.Kind.REFUND, 1),
    }


def is_call(*, method: str, service_id: str) -> bool:
    """CALL for one request (the rollup's kind)."""
    return method == "POST" and bool(service_id)


def is_error_status(status_code: int) -> bool:
    """REQUEST_ERROR for one status code (or a status class × 100)."""
    return status_code >= 400


def process_failed(process: Process) -> bool:
    """FAILED_PROCESS for one process row."""
    if process.state == Process.State.ERROR:
        return True
    if process.state != Process.State.COMPLETED:
        return False
    result = process.result
    return process.error_code == SERVICE_ERROR or (
        isinstance(result, dict) and result.get("status") == "error"
    )


def credits_net_of_refund(process_ref: str) -> Any:
    """An expression for a request-log row: its credits, or 0 when the ledger holds a refund of
    its process (`process_ref`, the row's field holding the process's public id)."""
    refunded = LedgerEntry.objects.filter(
        kind=LedgerEntry.Kind.REFUND, process__public_id=OuterRef(process_ref)
    )
    return Case(When(Exists(refunded), then=Value(0)), default=F("credits"))


def with_credits_net_of_refund(rows: Iterable[Any]) -> list[Any]:
    """credits_net_of_refund for a page of request-log rows, as their `credits_spent`: one
    query on the ledger's refunds of those rows' processes only (the expression's hashed
    lookup reads every refund, fine for a whole export, not for a page of 50)."""
    rows = list(rows)
    refs = {row.process_id for row in rows if row.process_id}
    refunded = set(
        LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND, process__public_id__in=refs)
        .order_by()
        .values_list("process__public_id", flat=True)
        if refs
        else ()
    )
    for row in rows:
        row.credits_spent = 0 if row.process_id in refunded else row.credits
    return rows


def rate(part: int, whole: int) -> float:
    """part / whole (0–1), 0.0 when there is no whole."""
    return part / whole if whole else 0.0


# Grouping keys → the expression on each table.
_PROCESS_KEYS = {
    "day": TruncDate("created_at"),
    "service_id": "service_id",
    "endpoint": "endpoint",
    "api_key_id": "api_key_id",
    "account_id": "account_id",
}
_LEDGER_KEYS = {
    "day": TruncDate("created_at"),
    "service_id": "process__service_id",
    "endpoint": "process__endpoint",
    "api_key_id": "process__api_key_id",
    "account_id": "account_id",
}


def _grouped(rows: Any, keys: Mapping[str, Any], by: Sequence[str], **sums: Any) -> list[Any]:
    names = {f"g_{name}": keys[name] for name in by}
    annotated = rows.annotate(**{k: v for k, v in names.items() if not isinstance(v, str)})
    fields = [v if isinstance(v, str) else k for k, v in names.items()]
    if not by:
        return [((), annotated.aggregate(**sums))]
    out = []
    for row in annotated.values(*fields).annotate(**sums).order_by():
        key = tuple(_normal(row[f]) for f in fields)
        out.append((key, row))
    return out


def _normal(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.date()
    return value


def _in_range(rows: Any, prefix: str, start: date, end: date, **narrow: Any) -> Any:
    """`rows` created on days `start`..`end`, narrowed by account_id, api_key_id, service_id
    and endpoint (None or "" leaves one out); `prefix` reaches the process's fields."""
    lower, upper = day_bounds(start, end)
    rows = rows.filter(created_at__gte=lower, created_at__lt=upper)
    for name, value in narrow.items():
        if value is None or value == "":
            continue
        field = name if name == "account_id" else f"{prefix}{name}"
        rows = rows.filter(**{field: value})
    return rows


# Grouping and narrowing names → the field of the daily rollups (ProcessDaily, LedgerDaily).
_DAILY_KEYS = {
    "day": "day",
    "service_id": "service_id",
    "endpoint": "endpoint",
    "api_key_id": "api_key_ref",
    "account_id": "account_ref",
}


def _daily_grouped(
    model: Any, start: date, end: date, by: Sequence[str], sums: dict[str, Any], **narrow: Any
) -> list[Any]:
    """`model`'s rows of days `start`..`end`, narrowed and grouped as _grouped does the source
    rows; a rollup's 0 or "" (none) comes back as None, as the source's null does."""
    rows = model.objects.filter(day__gte=start, day__lte=end)
    per_account = any(
        name in ("account_id", "api_key_id")
        for name in (*by, *(n for n, v in narrow.items() if v is not None and v != ""))
    )
    # The rows of all accounts and keys (ALL_REFS) answer platform-wide reads; the others
    # answer reads by or for an account or key.
    if per_account:
        rows = rows.filter(account_ref__gte=0)
    else:
        rows = rows.filter(account_ref=model.ALL_REFS)
    for name, value in narrow.items():
        if value is not None and value != "":
            rows = rows.filter(**{_DAILY_KEYS[name]: value})
    if not by:
        return [((), rows.aggregate(**sums))]
    fields = [_DAILY_KEYS[name] for name in by]
    return [
        (tuple(None if (f != "day" and not row[f]) else row[f] for f in fields), row)
        for row in rows.values(*fields).annotate(**sums).order_by()
    ]


@dataclass(frozen=True)
class Flows:
    """Credits sold (top-ups), consumed (charges) and refunded, as positive numbers."""

    sold: int = 0
    consumed: int = 0
    refunded: int = 0

    @property
    def spent(self) -> int:
        """Credits spent: consumed minus refunded."""
        return self.consumed - self.refunded

    def __add__(self, other: Flows) -> Flows:
        return Flows(
            self.sold + other.sold,
            self.consumed + other.consumed,
            self.refunded + other.refunded,
        )


def ledger_flows(
    *,
    start: date,
    end: date,
    by: Sequence[str] = (),
    **narrow: int | str | None,
) -> dict[tuple[Any, ...], Flows]:
    """Credits sold, consumed and refunded (FLOW_KINDS) on days `start`..`end` by the ledger
    entries' time, summed per `by` (names of day, service_id, endpoint, api_key_id,
    account_id; the process's for service, endpoint and key; a top-up has none), `narrow`ed by
    the same names. Read from LedgerDaily plus the ledger entries past its watermark (a
    primary-key range): two grouped queries, never a scan of the ledger. Groups whose flows
    are all 0 are left out."""
    sums = {name: Sum(name) for name in ("sold", "consumed", "refunded")}

    def read(mark: int) -> dict[tuple[Any, ...], Flows]:
        out: dict[tuple[Any, ...], Flows] = {}
        entries = LedgerEntry.objects.filter(kind__in=FLOW_KINDS, id__gt=mark)
        tail = _grouped(
            _in_range(entries, "process__", start, end, **narrow), _LEDGER_KEYS, by, **flow_sums()
        )
        for key, row in [*_daily_grouped(LedgerDaily, start, end, by, sums, **narrow), *tail]:
            flows = Flows(*(int(row[name] or 0) for name in sums))
            out[key] = out.get(key, Flows()) + flows
        return {key: flows for key, flows in out.items() if flows != Flows()}

    return watermarks.read_consistent(watermarks.LEDGER, read)


def top_spenders(*, start: date, end: date, limit: int) -> list[tuple[int, Flows]]:
    """The `limit` accounts that spent the most credits (consumed minus refunded, above 0) on
    days `start`..`end`, most first, ties by account id: the same figures as
    ledger_flows(by=("account_id",)), but ranked in the database, so the read returns `limit`
    rows from the daily rollup whatever the number of accounts. Exact with the live tail:
    the accounts with ledger entries past the watermark are summed apart (rollup plus tail) and
    left out of the ranked read, whose top `limit` then holds every other contender."""

    def read(mark: int) -> list[tuple[int, Flows]]:
        entries = LedgerEntry.objects.filter(kind__in=FLOW_KINDS, id__gt=mark)
        tail = _grouped(
            _in_range(entries, "", start, end), _LEDGER_KEYS, ("account_id",), **flow_sums()
        )
        in_tail = [key[0] for key, _ in tail]
        daily = LedgerDaily.objects.filter(day__gte=start, day__lte=end, account_ref__gt=0)
        names = ("sold", "consumed", "refunded")
        sums = {f"n_{name}": Sum(name) for name in names}
        ranked = (
            daily.exclude(account_ref__in=in_tail)
            .values("account_ref")
            .annotate(**sums, spent=Sum("consumed") - Sum("refunded"))
            .order_by("-spent", "account_ref")[:limit]
        )
        totals: dict[int, Flows] = {}

        def add(account_id: int, row: Mapping[str, Any], prefix: str) -> None:
            flows = Flows(*(int(row[prefix + name] or 0) for name in names))
            totals[account_id] = totals.get(account_id, Flows()) + flows

        for row in ranked:
            add(row["account_ref"], row, "n_")
        if in_tail:
            rolled = daily.filter(account_ref__in=in_tail).values("account_ref").annotate(**sums)
            for row in rolled.order_by():
                add(row["account_ref"], row, "n_")
            for (account_id,), row in tail:
                add(account_id, row, "")
        best = sorted(
            ((a, f) for a, f in totals.items() if f.spent > 0), key=lambda af: (-af[1].spent, af[0])
        )
        return best[:limit]

    return watermarks.read_consistent(watermarks.LEDGER, read)


def credits_spent(
    *,
    start: date,
    end: date,
    by: Sequence[str] = (),
    **narrow: int | str | None,
) -> dict[tuple[Any, ...], int]:
    """Credits spent (charges net of refunds, positive) per `by`, from ledger_flows; groups
    that spent nothing are left out."""
    flows = ledger_flows(start=start, end=end, by=by, **narrow)
    return {key: f.spent for key, f in flows.items() if f.spent}


@dataclass(frozen=True)
class Outcomes:
    """Finished processes (state completed or error) and how many of them failed."""

    finished: int = 0
    failed: int = 0


def process_outcomes(
    *,
    start: date,
    end: date,
    by: Sequence[str] = (),
    **narrow: int | str | None,
) -> dict[tuple[Any, ...], Outcomes]:
    """Finished and failed processes (FAILED_PROCESS) created on days `start`..`end`, free
    calls included, per `by`; queued and running processes are not counted. Read from
    ProcessDaily plus the processes past its watermark (a primary-key range): two grouped
    queries, never a scan of the process table."""

    def read(mark: int) -> dict[tuple[Any, ...], Outcomes]:
        counts: dict[tuple[Any, ...], tuple[int, int]] = {}
        sums = {"finished": Sum("finished"), "failed": Sum("failed")}
        tail = _in_range(
            Process.objects.filter(state__in=FINISHED_STATES, id__gt=mark), "", start, end, **narrow
        )
        tail_rows = _grouped(
            tail,
            _PROCESS_KEYS,
            by,
            finished=Count("id"),
            failed=Count("id", filter=FAILED_PROCESS),
        )
        for key, row in [*_daily_grouped(ProcessDaily, start, end, by, sums, **narrow), *tail_rows]:
            finished, failed = counts.get(key, (0, 0))
            counts[key] = (finished + int(row["finished"] or 0), failed + int(row["failed"] or 0))
        return {
            key: Outcomes(finished=finished, failed=failed)
            for key, (finished, failed) in counts.items()
            if finished
        }

    return watermarks.read_consistent(watermarks.PROCESSES, read)


def calls_by_status_class(
    grouped: Mapping[tuple[Any, ...], Any],
) -> dict[tuple[Any, ...], tuple[int, int]]:
    """(calls, request errors) per group from usage grouped with the HTTP status class last in
    its key (services.usage.rollups.usage_grouped(by=(..., "status_class"))): the call_figures
    input from the rollups."""
    out: dict[tuple[Any, ...], tuple[int, int]] = {}
    for (*key, status_class), usage in grouped.items():
        calls, errors = out.get(tuple(key), (0, 0))
        bad = usage.requests if is_error_status(int(status_class) * 100) else 0
        out[tuple(key)] = (calls + usage.requests, errors + bad)
    return out


@dataclass
class CallFigures:
    """The figures of a group of calls: calls, calls answered 4xx/5xx, processes finished and
    failed, credits spent. `errors` = request errors + failed processes."""

    calls: int = 0
    request_errors: int = 0
    finished: int = 0
    failed: int = 0
    credits: int = 0

    @property
    def errors(self) -> int:
        return self.request_errors + self.failed

    @property
    def error_rate(self) -> float:
        return rate(self.errors, self.calls)

    @property
    def failure_rate(self) -> float:
        return rate(self.failed, self.finished)


def call_figures(
    *,
    start: date,
    end: date,
    calls: Mapping[tuple[Any, ...], tuple[int, int]],
    by: Sequence[str] = (),
    **narrow: Any,
) -> dict[tuple[Any, ...], CallFigures]:
    """Per `by` group: `calls` (the caller's (calls, request errors) per group, from the
    request log or the rollups) with the process outcomes and credits spent of the same days
    and filters. Every group of any of the three is present."""
    out: dict[tuple[Any, ...], CallFigures] = {}
    for key, (count, request_errors) in calls.items():
        item = out.setdefault(key, CallFigures())
        item.calls += count
        item.request_errors += request_errors
    for key, outcome in process_outcomes(start=start, end=end, by=by, **narrow).items():
        item = out.setdefault(key, CallFigures())
        item.finished += outcome.finished
        item.failed += outcome.failed
    for key, spent in credits_spent(start=start, end=end, by=by, **narrow).items():
        out.setdefault(key, CallFigures()).credits += spent
    return out


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


# How a run is shown everywhere (home, playground, run page, staff account page): one status.
RUN_STATUSES = {
    "queued": ("queued", ""),
    "running": ("running", "badge-warn"),
    "completed": ("completed", "badge-ok"),
    "failed": ("failed", "badge-danger"),
    "service_error": ("failed: service error", "badge-danger"),
}


def run_status(process: Process) -> str:
    """One of RUN_STATUSES: a process that returned a service error (refunded) is failed, not
    completed."""
    if process.state == Process.State.COMPLETED and process_failed(process):
        return "service_error"
    if process.state == Process.State.ERROR:
        return "failed"
    return str(process.state)
