"""Writes on usage: one request-log row per request, and the rollup that folds the request
log into UsageDaily (run by beat)."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from services.models import (
    ALL_REFS,
    UsageLog,
)
from services.usage import watermarks
from services.usage.figures import is_call

logger = logging.getLogger(__name__)


# With Redis, request-log rows go to this stream first (one XADD, no database round trip on the
# request path) and are folded into UsageLog by beat every second (usage_log_fold).
USAGE_STREAM = "usage-log:stream"
_ROW_FIELDS = (
    "api_key_id",
    "account_id",
    "method",
    "route",
    "service_id",
    "endpoint",
    "process_id",
    "status_code",
    "error_code",
    "duration_ms",
    "credits",
    "request_id",
)


def _stream() -> tuple[Any, str] | None:
    """(redis-py client, stream key) when the buffer is on and the cache is Redis, else None."""
    if not settings.BREACT_USAGE_LOG_BUFFER:
        return None
    client = getattr(cache, "client", None)
    if client is None or not hasattr(client, "get_client"):
        return None
    return client.get_client(write=True), str(client.make_key(USAGE_STREAM))


def usage_log_record(*, direct: bool = False, **fields: Any) -> None:
    """Record one request-log row: appended to the Redis stream when buffered (unless `direct`),
    else (or when Redis refuses it) written to the database. A failure here is logged, never
    turned into a failed request."""
    api_key = fields.pop("api_key", None)
    fields.setdefault("api_key_id", api_key.pk if api_key is not None else None)
    fields.setdefault("created_at", timezone.now())
    stream = None if direct else _stream()
    if stream is not None:
        redis, key = stream
        row = {name: fields.get(name) for name in _ROW_FIELDS}
        row["created_at"] = fields["created_at"].isoformat()
        try:
            redis.xadd(key, {"row": json.dumps(row)})
            return
        except Exception:
            logger.warning("Could not buffer a usage row; writing it directly", exc_info=True)
    try:
        UsageLog.objects.create(**fields)
    except Exception:
        logger.exception("Could not write a usage log row")


def usage_log_fold(*, batch: int = 5000) -> int:
    """Move up to `batch` buffered rows from the stream into UsageLog; returns how many were
    read. Exactly once: each row carries its stream entry id into the unique `stream_id`, the
    insert skips ids already there, and entries are deleted from the stream only after their
    rows are committed, so a fold that dies half-way (or two folds at once) neither loses nor
    doubles a row. A row whose key was deleted meanwhile keeps no key (as SET_NULL would have
    done); one whose account was deleted is dropped with it (as CASCADE would have done)."""
    from accounts.models import Account, ApiKey

    stream = _stream()
    if stream is None:
        return 0
    redis, key = stream
    entries = redis.xrange(key, count=batch)
    if not entries:
        return 0
    rows = []
    for entry_id, values in entries:
        data = json.loads(values[b"row"])
        data["created_at"] = datetime.fromisoformat(data["created_at"])
        rows.append(UsageLog(stream_id=entry_id.decode(), **data))
    key_ids = {row.api_key_id for row in rows if row.api_key_id is not None}
    account_ids = {row.account_id for row in rows if row.account_id is not None}
    live_keys = set(ApiKey.objects.filter(pk__in=key_ids).values_list("pk", flat=True))
    live_accounts = set(Account.objects.filter(pk__in=account_ids).values_list("pk", flat=True))
    kept = []
    for row in rows:
        if row.account_id is not None and row.account_id not in live_accounts:
            continue
        if row.api_key_id is not None and row.api_key_id not in live_keys:
            row.api_key_id = None
        kept.append(row)
    UsageLog.objects.bulk_create(kept, ignore_conflicts=True)
    redis.xdel(key, *(entry_id for entry_id, _ in entries))
    return len(entries)


def usage_log_fold_all() -> int:
    """Fold until the stream is empty (bounded); returns the rows read. An unreachable Redis
    or database is logged and left for the next fold (nothing is lost: the stream keeps the
    entries until their rows are committed)."""
    folded = 0
    try:
        for _ in range(20):
            count = usage_log_fold()
            folded += count
            if not count:
                break
    except Exception:
        logger.warning("Could not fold the buffered usage rows", exc_info=True)
    return folded


# Rows younger than this are left for the next run: an id allocated before the watermark but
# committed after it would otherwise be skipped.
ROLLUP_SETTLE_SECONDS = 5


def usage_rollup(*, batch: int = 50_000) -> int:
    """Fold request-log rows past the watermark into UsageDaily, at most `batch` rows, in one
    transaction with the watermark (so a row is counted exactly once). Returns how many rows
    were folded; run it until it returns 0 to catch up. Safe to run concurrently: the
    watermark row is locked."""
    from django.db.models import Count, ExpressionWrapper, F, IntegerField, Q, Sum
    from django.db.models.functions import TruncDate

    from services.models import LATENCY_BUCKETS_MS, RollupState, UsageDaily, UsageLog

    settled = timezone.now() - timedelta(seconds=ROLLUP_SETTLE_SECONDS)
    with transaction.atomic():
        state, _ = RollupState.objects.select_for_update().get_or_create(name=watermarks.USAGE)
        source = UsageLog.objects.filter(id__gt=state.last_id, created_at__lt=settled)
        ids = list(source.order_by("id").values_list("id", flat=True)[:batch])
        if not ids:
            return 0
        upto = ids[-1]
        rows = (
            UsageLog.objects.filter(id__gt=state.last_id, id__lte=upto)
            .annotate(
                day=TruncDate("created_at"),
                status_class=ExpressionWrapper(F("status_code") / 100, output_field=IntegerField()),
            )
            .values(
                "day",
                "account_id",
                "api_key_id",
                "service_id",
                "endpoint",
                "method",
                "status_class",
            )
            .annotate(
                total=Count("id"),
                credits_sum=Sum("credits"),
                duration=Sum("duration_ms"),
                **{
                    f"b{i}": Count("id", filter=Q(duration_ms__lte=bound))
                    for i, bound in enumerate(LATENCY_BUCKETS_MS)
                },
            )
        )
        groups = []
        for row in rows:
            cumulative = [row[f"b{i}"] for i in range(len(LATENCY_BUCKETS_MS))]
            buckets = [cumulative[0]]
            buckets += [cumulative[i] - cumulative[i - 1] for i in range(1, len(cumulative))]
            buckets.append(row["total"] - cumulative[-1])
            call = is_call(method=row["method"], service_id=row["service_id"])
            groups.append(
                {
                    "day": row["day"],
                    "account_ref": row["account_id"] or 0,
                    "api_key_ref": row["api_key_id"] or 0,
                    "service_id": row["service_id"],
                    "endpoint": row["endpoint"],
                    "kind": UsageDaily.Kind.CALL if call else UsageDaily.Kind.READ,
                    "status_class": row["status_class"],
                    "requests": row["total"],
                    "credits": row["credits_sum"],
                    "duration_ms_sum": row["duration"],
                    "latency_buckets": buckets,
                }
            )
        _fold_into(
            UsageDaily, groups, ("requests", "credits", "duration_ms_sum", "latency_buckets")
        )
        state.last_id = upto
        state.save()
    return sum(group["requests"] for group in groups)


def _fold_into(model: Any, groups: list[dict[str, Any]], sums: tuple[str, ...]) -> None:
    """Add each group's `sums` (numbers, or lists added item by item) into `model`'s row of
    its grain (`model.GRAIN`: UsageDaily, ProcessDaily, LedgerDaily), and into the row of all
    accounts and keys (ALL_REFS) of the rest of its grain. Set-based, for catching up on large
    sources: the grains' existing rows in one locked read per slice of accounts, then one bulk
    insert and one bulk update. Several groups may share a grain; they are summed."""
    days = sorted({group["day"] for group in groups})
    refs = sorted({group["account_ref"] for group in groups} | {ALL_REFS})
    existing: dict[tuple[Any, ...], Any] = {}
    for i in range(0, len(refs), 500):
        for found in model.objects.select_for_update().filter(
            day__in=days, account_ref__in=refs[i : i + 500]
        ):
            existing[tuple(getattr(found, f) for f in model.GRAIN)] = found
    created: dict[tuple[Any, ...], Any] = {}
    changed: dict[int, Any] = {}
    for group in groups:
        everyone = {**group, "account_ref": ALL_REFS, "api_key_ref": ALL_REFS}
        for target in (group, everyone):
            grain = tuple(target[f] for f in model.GRAIN)
            item = existing.get(grain)
            if item is not None:
                changed[item.pk] = item
            else:
                item = created.setdefault(
                    grain, model(**dict(zip(model.GRAIN, grain, strict=True)))
                )
            for name in sums:
                value = target[name]
                if isinstance(value, list):
                    current = getattr(item, name) or [0] * len(value)
                    setattr(item, name, [a + b for a, b in zip(current, value, strict=True)])
                else:
                    setattr(item, name, getattr(item, name) + int(value or 0))
    model.objects.bulk_create(created.values(), batch_size=1000)
    model.objects.bulk_update(changed.values(), list(sums), batch_size=500)


def _grain_values(rows: Any, **refs: str) -> Any:
    """`rows` grouped by the figure grain: its UTC day and the (coalesced) account, key,
    service and endpoint fields named in `refs`."""
    from django.db.models import BigIntegerField, CharField, F, Value
    from django.db.models.functions import Coalesce, TruncDate

    def ref(field: str) -> Any:
        return Coalesce(F(field), Value(0), output_field=BigIntegerField())

    def text(field: str) -> Any:
        return Coalesce(F(field), Value(""), output_field=CharField())

    return rows.annotate(
        day=TruncDate("created_at"),
        account_ref=ref(refs["account"]),
        api_key_ref=ref(refs["api_key"]),
        g_service=text(refs["service"]),
        g_endpoint=text(refs["endpoint"]),
    ).values("day", "account_ref", "api_key_ref", "g_service", "g_endpoint")


def outcomes_rollup(*, batch: int = 50_000) -> int:
    """Fold finished processes past the "processes" watermark into ProcessDaily, in id order,
    stopping before the first process still queued or running (or younger than the settle
    time), at most `batch`; watermark and rows move in one transaction. A finished process
    never changes state again, so a folded one is counted exactly once. Returns how many were
    folded; run it until it returns 0 to catch up."""
    from django.db.models import Count

    from services.models import Process, ProcessDaily, RollupState
    from services.usage.figures import FAILED_PROCESS, FINISHED_STATES

    settled = timezone.now() - timedelta(seconds=ROLLUP_SETTLE_SECONDS)
    with transaction.atomic():
        state, _ = RollupState.objects.select_for_update().get_or_create(name=watermarks.PROCESSES)
        upto = state.last_id
        candidates = (
            Process.objects.filter(id__gt=state.last_id)
            .order_by("id")
            .values_list("id", "state", "created_at")[:batch]
        )
        for pk, process_state, created_at in candidates:
            if process_state not in FINISHED_STATES or created_at >= settled:
                break
            upto = pk
        if upto == state.last_id:
            return 0
        rows = _grain_values(
            Process.objects.filter(id__gt=state.last_id, id__lte=upto),
            account="account_id",
            api_key="api_key_id",
            service="service_id",
            endpoint="endpoint",
        ).annotate(finished=Count("id"), failed=Count("id", filter=FAILED_PROCESS))
        groups = [_grain_row(row) for row in rows]
        _fold_into(ProcessDaily, groups, ("finished", "failed"))
        state.last_id = upto
        state.save()
    return sum(row["finished"] for row in groups)


def ledger_rollup(*, batch: int = 50_000) -> int:
    """Fold ledger entries past the "ledger" watermark (older than the settle time, at most
    `batch`) into LedgerDaily: credits sold, consumed and refunded per ledger day and the grain
    of the entry's process; watermark and rows move in one transaction. Returns how many
    entries were read; run it until it returns 0 to catch up."""
    from accounts.models import LedgerEntry
    from services.models import LedgerDaily, RollupState
    from services.usage.figures import FLOW_KINDS, flow_sums

    settled = timezone.now() - timedelta(seconds=ROLLUP_SETTLE_SECONDS)
    with transaction.atomic():
        state, _ = RollupState.objects.select_for_update().get_or_create(name=watermarks.LEDGER)
        ids = list(
            LedgerEntry.objects.filter(id__gt=state.last_id, created_at__lt=settled)
            .order_by("id")
            .values_list("id", flat=True)[:batch]
        )
        if not ids:
            return 0
        rows = _grain_values(
            LedgerEntry.objects.filter(id__gt=state.last_id, id__lte=ids[-1], kind__in=FLOW_KINDS),
            account="account_id",
            api_key="process__api_key_id",
            service="process__service_id",
            endpoint="process__endpoint",
        ).annotate(**flow_sums())
        groups = [_grain_row(row) for row in rows]
        _fold_into(LedgerDaily, groups, ("sold", "consumed", "refunded"))
        state.last_id = ids[-1]
        state.save()
    return len(ids)


def _grain_row(row: dict[str, Any]) -> dict[str, Any]:
    day = row["day"]
    return {
        **row,
        "day": day.date() if isinstance(day, datetime) else day,
        "service_id": row["g_service"],
        "endpoint": row["g_endpoint"],
    }
