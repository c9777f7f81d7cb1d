"""Writes on services, processes, idempotency records and usage logs."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.actions import audit_record, credits_charge, credits_refund
from accounts.models import ApiKey, AuditEvent
from breact.errors import (
    BadRequest,
    BReactError,
    IdempotencyInFlight,
    IdempotencyMismatch,
    ServiceUnavailable,
)
from services.engines.llm import available_models, model_is_unavailable
from services.models import (
    Endpoint,
    IdempotencyRecord,
    ModelProvider,
    Process,
    Service,
    UsageLog,
)
from services.registry import ServiceFailure, all_services, find_service
from services.selectors import ResolvedEndpoint, process_token_hash
from services.webhooks import events as webhook_events
from services.workers import workers_available

logger = logging.getLogger(__name__)

PROCESS_FAILED = "PROCESS_FAILED"
# An in-flight idempotency record older than this belongs to a request that died half-way.
IDEMPOTENCY_STALE_SECONDS = 120


def iso(moment: Any) -> str | None:
    """ISO 8601 in UTC with a Z, or None."""
    if moment is None:
        return None
    text: str = moment.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


@transaction.atomic
def services_sync() -> None:
    """Create the Service and Endpoint rows the registry defines and the database lacks.
    Existing rows keep their staff-edited price and enabled flag."""
    for definition in all_services().values():
        service, _ = Service.objects.get_or_create(
            service_id=definition.id, defaults={"name": definition.name}
        )
        for name, endpoint in definition.endpoints.items():
            Endpoint.objects.get_or_create(
                service=service, name=name, defaults={"price": endpoint.price}
            )


# --- execute ------------------------------------------------------------------------------


@dataclass
class Started:
    process: Process
    access_token: str
    balance: int


def process_start(
    *, api_key: ApiKey, resolved: ResolvedEndpoint, params: dict[str, Any]
) -> Started:
    """Charge the endpoint's price and create the process in one transaction, then enqueue it
    after commit. Raises InsufficientCredits (nothing written), ServiceUnavailable when no
    worker is alive (nothing written; see services.workers) or when the broker refused the task
    (the process is failed and refunded first)."""
    if not workers_available():
        raise ServiceUnavailable(
            "No worker is taking jobs right now, so the call was not started and nothing was "
            "charged. Retry in a few seconds."
        )
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        process = Process.objects.create(
            public_id=f"prc_{secrets.token_urlsafe(18)}",
            account_id=api_key.account_id,
            api_key=api_key,
            service_id=resolved.service.id,
            endpoint=resolved.endpoint.name,
            params=params,
            token_hash=process_token_hash(token),
            credits=resolved.price,
            created_at=now,
            deadline_at=now + timedelta(seconds=settings.BREACT_PROCESS_DEADLINE),
        )
        balance = api_key.account.balance
        if resolved.price > 0:
            balance = credits_charge(process=process).balance_after
        webhook_events.process_webhook_attach(process=process)
        transaction.on_commit(lambda: _enqueue(process))
    if process.state == Process.State.ERROR:
        raise ServiceUnavailable(
            "The job queue is unreachable, so the call was not started; the credits were "
            "returned. Retry in a few seconds."
        )
    return Started(process=process, access_token=token, balance=balance)


def _enqueue(process: Process) -> None:
    from services.tasks import run_process

    try:
        run_process.apply_async(args=(process.pk,), retry=False)
    except Exception:  # any broker failure: connection refused, timeout, auth
        logger.exception("Could not enqueue process %s", process.public_id)
        process_fail(process=process, message="The job queue was unreachable.")
        process.state = Process.State.ERROR


def execute_response_body(started: Started) -> dict[str, Any]:
    process = started.process
    return {
        "status": "pending",
        "process_id": process.public_id,
        "access_token": started.access_token,
        "service": process.service_id,
        "endpoint": process.endpoint,
        "created_at": iso(process.created_at),
        "credits_charged": process.credits,
        "credits_remaining": started.balance,
        "result_url": f"/api/v1/services/result/{process.public_id}"
        f"?access_token={started.access_token}",
    }


# --- idempotency ----------------------------------------------------------------------------


def request_fingerprint(*, service_id: str, endpoint: str, params: dict[str, Any]) -> str:
    canonical = json.dumps([service_id, endpoint, params], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotency_begin(*, account_id: int, key: str, fingerprint: str) -> IdempotencyRecord:
    """Claim (account, key) for this request, or raise: IdempotencyMismatch (422) when it was
    used with another body, IdempotencyInFlight (409) while the first request runs. A finished
    first request is returned with state DONE for the caller to replay."""
    now = timezone.now()
    try:
        with transaction.atomic():
            return IdempotencyRecord.objects.create(
                account_id=account_id, key=key, fingerprint=fingerprint, created_at=now
            )
    except IntegrityError:
        pass
    record = IdempotencyRecord.objects.get(account_id=account_id, key=key)
    if record.fingerprint != fingerprint:
        raise IdempotencyMismatch()
    if record.state == IdempotencyRecord.State.DONE:
        return record
    stale = now - timedelta(seconds=IDEMPOTENCY_STALE_SECONDS)
    if IdempotencyRecord.objects.filter(
        pk=record.pk, state="in_flight", created_at__lt=stale
    ).update(created_at=now):
        return IdempotencyRecord.objects.get(pk=record.pk)
    raise IdempotencyInFlight()


def idempotency_complete(*, record: IdempotencyRecord, status: int, body: dict[str, Any]) -> None:
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        state=IdempotencyRecord.State.DONE, response_status=status, response_body=body
    )


def idempotency_release(*, record: IdempotencyRecord) -> None:
    """Forget a claim whose request failed before anything was charged, so a retry runs anew."""
    IdempotencyRecord.objects.filter(pk=record.pk, state=IdempotencyRecord.State.IN_FLIGHT).delete()


@dataclass
class ExecuteOutcome:
    status: int
    body: dict[str, Any]
    replayed: bool
    started: Started | None = None


def process_execute(
    *,
    api_key: ApiKey,
    resolved: ResolvedEndpoint,
    params: dict[str, Any],
    idempotency_key: str | None = None,
) -> ExecuteOutcome:
    """Start a process, honouring an Idempotency-Key: a retry with the same key and body
    replays the first 202 and charges nothing more."""
    if not idempotency_key:
        started = process_start(api_key=api_key, resolved=resolved, params=params)
        return ExecuteOutcome(202, execute_response_body(started), False, started)
    fingerprint = request_fingerprint(
        service_id=resolved.service.id, endpoint=resolved.endpoint.name, params=params
    )
    record = idempotency_begin(
        account_id=api_key.account_id, key=idempotency_key, fingerprint=fingerprint
    )
    if record.state == IdempotencyRecord.State.DONE:
        return ExecuteOutcome(
            int(record.response_status or 202), dict(record.response_body or {}), True
        )
    try:
        started = process_start(api_key=api_key, resolved=resolved, params=params)
    except BReactError:
        idempotency_release(record=record)
        raise
    body = execute_response_body(started)
    idempotency_complete(record=record, status=202, body=body)
    return ExecuteOutcome(202, body, False, started)


def call_start(
    *,
    api_key: ApiKey,
    resolved: ResolvedEndpoint,
    params: dict[str, Any],
    idempotency_key: str | None = None,
) -> ExecuteOutcome:
    """Everything an execute does after authentication, rate limit and routing, for the API and
    the console alike: validate the parameters against the endpoint's schema, refuse a model no
    provider serves (when so configured), run the endpoint's account checks, then charge and
    queue (process_execute). Raises BadRequest and the errors of process_execute; a 4xx never
    charges. The caller checks the key's scopes."""
    params = webhook_events.webhook_url_take(params)
    errors = resolved.endpoint.validation_errors(params)
    if errors:
        raise BadRequest(
            f"The parameters do not match {resolved.service.id}.{resolved.endpoint.name}: "
            + "; ".join(f"{e['path']}: {e['message']}" for e in errors[:5]),
            details={"errors": errors},
        )
    requested_model = resolved.endpoint.requested_model(params)
    if model_is_unavailable(requested_model):
        models = available_models()
        raise BadRequest(
            f"No provider serves the model {requested_model!r}; available: {', '.join(models)}.",
            details={
                "errors": [
                    {"path": ".".join(resolved.endpoint.model_path), "message": "unknown model"}
                ],
                "available_models": models,
            },
        )
    if resolved.endpoint.prepare is not None:
        params = resolved.endpoint.prepare(params, api_key.account)
    if idempotency_key is not None and len(idempotency_key) > 255:
        raise BadRequest("The Idempotency-Key header is longer than 255 characters.")
    return process_execute(
        api_key=api_key, resolved=resolved, params=params, idempotency_key=idempotency_key
    )


# --- running ----------------------------------------------------------------------------------


def process_run(*, process_pk: int) -> None:
    """Run a queued process in the worker. A process found already running was being run by a
    worker that died (the broker redelivered it): it is failed and refunded, not run twice. A
    process still queued past its deadline (its message waited in a stopped queue) is failed
    and refunded instead of run late."""
    now = timezone.now()
    claimed = Process.objects.filter(
        pk=process_pk, state=Process.State.QUEUED, deadline_at__gt=now
    ).update(state=Process.State.RUNNING, started_at=now)
    process = Process.objects.filter(pk=process_pk).first()
    if process is None:
        return
    if not claimed:
        if process.state == Process.State.RUNNING:
            process_fail(process=process, message="The worker running this process stopped.")
        elif process.state == Process.State.QUEUED:
            process_fail(process=process, message="The process did not start before its deadline.")
        return
    definition = find_service(process.service_id)
    endpoint = definition.endpoints.get(process.endpoint) if definition else None
    if endpoint is None:
        process_fail(process=process, message="This service is no longer available.")
        return
    started = timezone.now()
    try:
        output = endpoint.handler(dict(process.params))
    except ServiceFailure as exc:
        process_complete(
            process=process,
            inner={
                "status": "error",
                "result": None,
                "error": str(exc),
                "metadata": {"created_at": iso(started), "processing_time": _since(started)},
            },
            refund_reason=f"Service error: {exc}",
        )
        return
    except SoftTimeLimitExceeded:
        process_fail(process=process, message="The process ran past its time limit.")
        return
    except Exception:
        logger.exception("Process %s failed", process.public_id)
        process_fail(process=process, message="The process failed with an internal error.")
        return
    metadata = {"created_at": iso(started), **output.metadata}
    metadata.setdefault("processing_time", _since(started))
    process_complete(
        process=process,
        inner={
            "status": "success",
            "result": output.result,
            "error": None,
            **output.extra,
            "metadata": metadata,
        },
    )


def _since(moment: Any) -> float:
    return round((timezone.now() - moment).total_seconds(), 6)


@transaction.atomic
def process_complete(
    *, process: Process, inner: dict[str, Any], refund_reason: str | None = None
) -> bool:
    """Store the result of a running process (state → completed, expiry set). With
    `refund_reason` (a service-level failure) its credits are refunded too. Returns False when
    the process was no longer running (a sweeper failed it first)."""
    now = timezone.now()
    done = Process.objects.filter(pk=process.pk, state=Process.State.RUNNING).update(
        state=Process.State.COMPLETED,
        result=inner,
        finished_at=now,
        expires_at=now + timedelta(seconds=settings.BREACT_RESULT_TTL),
    )
    if done and refund_reason:
        credits_refund(process=process, reason=refund_reason)
    webhook_events.process_finished(process=process, done=bool(done), failed=bool(refund_reason))
    return bool(done)


@transaction.atomic
def process_fail(*, process: Process, message: str) -> bool:
    """Platform failure of an unfinished process: state → error (PROCESS_FAILED) and refund,
    exactly once whoever calls it first. Returns False when it had already finished."""
    now = timezone.now()
    done = Process.objects.filter(pk=process.pk, state__in=["queued", "running"]).update(
        state=Process.State.ERROR,
        error_code=PROCESS_FAILED,
        error_message=message,
        finished_at=now,
        expires_at=now + timedelta(seconds=settings.BREACT_RESULT_TTL),
    )
    if done:
        credits_refund(process=process, reason=message)
    webhook_events.process_finished(process=process, done=bool(done), failed=True)
    return bool(done)


def processes_fail_stuck() -> int:
    """Fail and refund every process still unfinished past its deadline. Returns how many."""
    failed = 0
    stuck = Process.objects.unfinished().filter(deadline_at__lt=timezone.now())
    for process in stuck.only("pk", "public_id", "account_id", "api_key_id").iterator():
        if process_fail(process=process, message="The process did not finish in time."):
            failed += 1
    return failed


def results_purge() -> int:
    """Delete the results and tokens of processes whose expiry has passed, and old idempotency
    records. The process rows, usage and ledger stay. Returns how many results were purged."""
    now = timezone.now()
    purged = Process.objects.filter(purged_at__isnull=True, expires_at__lte=now).update(
        result=None, token_hash="", purged_at=now
    )
    IdempotencyRecord.objects.filter(
        created_at__lt=now - timedelta(seconds=settings.BREACT_IDEMPOTENCY_TTL)
    ).delete()
    return purged


def usage_log_record(**fields: Any) -> None:
    """Write one usage row; a failure here is logged, never turned into a failed request."""
    try:
        UsageLog.objects.create(**fields)
    except Exception:
        logger.exception("Could not write a usage log row")


# --- usage rollups ----------------------------------------------------------------------------

# Rows younger than this are left for the next run: an id allocated before the watermark but
# committed after it would otherwise be skipped.
ROLLUP_SETTLE_SECONDS = 5


def _usage_grain(item: Any) -> tuple[Any, ...]:
    """The unique key of a UsageDaily row (its usage_daily_grain constraint)."""
    return (
        item.day,
        item.account_ref,
        item.api_key_ref,
        item.service_id,
        item.endpoint,
        item.kind,
        item.status_class,
    )


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
        state, _ = RollupState.objects.select_for_update().get_or_create(name="usage")
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
        # Set-based (h13, for catching up on large logs): the grains' existing rows in one
        # locked read per slice of accounts, then one bulk insert and one bulk update, instead
        # of a get_or_create and a save per grain. Several grouped rows can share a grain
        # (GET and PUT are both "read"; no account is 0), so they are summed into one item.
        groups = list(rows)
        days = sorted({row["day"] for row in groups})
        refs = sorted({row["account_id"] or 0 for row in groups})
        existing: dict[tuple[Any, ...], UsageDaily] = {}
        for i in range(0, len(refs), 500):
            for found in UsageDaily.objects.select_for_update().filter(
                day__in=days, account_ref__in=refs[i : i + 500]
            ):
                existing[_usage_grain(found)] = found
        created: dict[tuple[Any, ...], UsageDaily] = {}
        changed: dict[int, UsageDaily] = {}
        folded = 0
        for row in groups:
            cumulative = [row[f"b{i}"] for i in range(len(LATENCY_BUCKETS_MS))]
            buckets = [cumulative[0]]
            buckets += [cumulative[i] - cumulative[i - 1] for i in range(1, len(cumulative))]
            buckets.append(row["total"] - cumulative[-1])
            probe = UsageDaily(
                day=row["day"],
                account_ref=row["account_id"] or 0,
                api_key_ref=row["api_key_id"] or 0,
                service_id=row["service_id"],
                endpoint=row["endpoint"],
                kind="call" if row["method"] == "POST" and row["service_id"] else "read",
                status_class=row["status_class"],
                latency_buckets=[0] * (len(LATENCY_BUCKETS_MS) + 1),
            )
            grain = _usage_grain(probe)
            item = existing.get(grain)
            if item is not None:
                changed[item.pk] = item
            else:
                item = created.setdefault(grain, probe)
            item.requests += row["total"]
            item.credits += int(row["credits_sum"] or 0)
            item.duration_ms_sum += int(row["duration"] or 0)
            item.latency_buckets = [
                a + b for a, b in zip(item.latency_buckets, buckets, strict=True)
            ]
            folded += row["total"]
        UsageDaily.objects.bulk_create(created.values(), batch_size=1000)
        UsageDaily.objects.bulk_update(
            changed.values(),
            ["requests", "credits", "duration_ms_sum", "latency_buckets"],
            batch_size=500,
        )
        state.last_id = upto
        state.save()
    return folded


# --- staff: endpoint prices and switches, model providers (h15) -------------------------------


class EndpointChanged(Exception):
    """The endpoint or its service changed between the read and the write; nothing written."""


class ModelIdTaken(Exception):
    """Another model provider row already answers this model id; nothing written."""


def _endpoint_state(endpoint: Endpoint, service: Service) -> dict[str, Any]:
    return {
        "price": endpoint.price,
        "enabled": endpoint.enabled,
        "service_enabled": service.enabled,
    }


def endpoint_update(
    *,
    endpoint: Endpoint,
    price: int,
    enabled: bool,
    service_enabled: bool,
    actor: Any,
    reason: str,
    ip: str | None,
) -> AuditEvent | None:
    """Set an endpoint's price (credits per call) and enabled flag, and its service's enabled
    flag, with one "endpoint.update" audit event (before/after price, enabled, service_enabled)
    in the same transaction. The rows are locked and updated conditionally on the values read,
    so a concurrent edit raises EndpointChanged instead of being overwritten. Setting the values
    already stored writes nothing and returns None (a double submit is one change). The next
    API call reads the new values (services.selectors.endpoint_resolve). The caller checks
    that the actor is staff."""
    if price < 0:
        raise ValueError("A price is a whole number of credits, 0 or more.")
    with transaction.atomic():
        row = Endpoint.objects.select_for_update().select_related("service").get(pk=endpoint.pk)
        service = Service.objects.select_for_update().get(pk=row.service_id)
        before = _endpoint_state(row, service)
        after = {"price": price, "enabled": enabled, "service_enabled": service_enabled}
        if before == after:
            return None
        now = timezone.now()
        if (before["price"], before["enabled"]) != (price, enabled):
            updated = Endpoint.objects.filter(
                pk=row.pk, price=before["price"], enabled=before["enabled"]
            ).update(price=price, enabled=enabled, updated_at=now)
            if not updated:
                raise EndpointChanged()
        if before["service_enabled"] != service_enabled:
            updated = Service.objects.filter(
                pk=service.pk, enabled=before["service_enabled"]
            ).update(enabled=service_enabled, updated_at=now)
            if not updated:
                raise EndpointChanged()
        row.price, row.enabled, row.service.enabled = price, enabled, service_enabled
        return audit_record(
            action="endpoint.update",
            target=row,
            actor=actor,
            before=before,
            after=after,
            reason=reason,
            ip=ip,
        )


PROVIDER_FIELDS = ("model_id", "base_url", "upstream_model", "timeout_seconds", "enabled")


def _provider_state(provider: ModelProvider) -> dict[str, Any]:
    """What the audit log keeps of a provider: its fields and whether a key is set, never
    the key."""
    state = {name: getattr(provider, name) for name in PROVIDER_FIELDS}
    state["api_key_set"] = bool(provider.api_key)
    return state


def model_provider_create(
    *,
    model_id: str,
    base_url: str,
    api_key: str,
    upstream_model: str,
    timeout_seconds: int,
    enabled: bool,
    actor: Any,
    reason: str,
    ip: str | None,
) -> ModelProvider:
    """Add a model provider row (it takes effect on the next model call) with one
    "model_provider.create" audit event that records whether a key was given, never the key.
    Raises ModelIdTaken when the model id has a row already (a double submit creates one).
    The caller checks that the actor is staff and validated the URL."""
    try:
        with transaction.atomic():
            provider = ModelProvider.objects.create(
                model_id=model_id,
                base_url=base_url,
                api_key=api_key,
                upstream_model=upstream_model,
                timeout_seconds=timeout_seconds,
                enabled=enabled,
            )
            audit_record(
                action="model_provider.create",
                target=provider,
                actor=actor,
                before=None,
                after=_provider_state(provider),
                reason=reason,
                ip=ip,
            )
    except IntegrityError as exc:
        raise ModelIdTaken() from exc
    return provider


def model_provider_update(
    *,
    provider: ModelProvider,
    model_id: str,
    base_url: str,
    api_key: str | None,
    upstream_model: str,
    timeout_seconds: int,
    enabled: bool,
    actor: Any,
    reason: str,
    ip: str | None,
) -> AuditEvent | None:
    """Change a model provider row; `api_key` None keeps the stored key, "" removes it. One
    "model_provider.update" audit event with the fields before and after and `api_key_changed`
    (never the key); no change writes nothing and returns None. The row is locked for the
    read-compare-write. Raises ModelProvider.DoesNotExist when it was deleted meanwhile and
    ModelIdTaken when the new model id has a row already. The caller checks permissions."""
    try:
        with transaction.atomic():
            row = ModelProvider.objects.select_for_update().get(pk=provider.pk)
            before = _provider_state(row)
            key_changed = api_key is not None and api_key != row.api_key
            for name, value in zip(
                PROVIDER_FIELDS,
                (model_id, base_url, upstream_model, timeout_seconds, enabled),
                strict=True,
            ):
                setattr(row, name, value)
            if key_changed:
                row.api_key = api_key or ""
            after = _provider_state(row)
            if before == after and not key_changed:
                return None
            row.save()
            return audit_record(
                action="model_provider.update",
                target=row,
                actor=actor,
                before=before,
                after={**after, "api_key_changed": key_changed},
                reason=reason,
                ip=ip,
            )
    except IntegrityError as exc:
        raise ModelIdTaken() from exc


def model_provider_delete(
    *, provider_id: int, actor: Any, reason: str, ip: str | None
) -> AuditEvent | None:
    """Delete a model provider row (its model falls back to the setting's route or the local
    engine on the next call) with one "model_provider.delete" audit event. A row already gone
    (a double submit) writes nothing and returns None. The caller checks permissions."""
    with transaction.atomic():
        row = ModelProvider.objects.select_for_update().filter(pk=provider_id).first()
        if row is None:
            return None
        before = _provider_state(row)
        event = audit_record(
            action="model_provider.delete",
            target=row,
            actor=actor,
            before=before,
            after=None,
            reason=reason,
            ip=ip,
        )
        row.delete()
        return event
