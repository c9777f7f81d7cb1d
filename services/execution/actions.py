"""Writes on processes: start a call (validate, charge, queue), run it in the worker, complete
or fail it (refunding exactly once), fail the stuck ones, purge expired results."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from accounts.alerts.actions import low_balance_watch
from accounts.ledger.actions import credits_charge, credits_refund
from accounts.ledger.selectors import account_balance
from accounts.models import ApiKey
from breact.dates import iso
from breact.errors import (
    BadRequest,
    BReactError,
    ServiceUnavailable,
)
from services.catalogue.registry import ServiceFailure, find_service
from services.catalogue.selectors import ResolvedEndpoint
from services.engines.llm import available_models, model_is_unavailable
from services.execution.charged_insert import process_insert_charged
from services.execution.idempotency import (
    idempotency_begin,
    idempotency_complete,
    idempotency_release,
    request_fingerprint,
)
from services.execution.process_rows import columns, process_fetch, process_table
from services.execution.selectors import PROCESS_FAILED, process_token_hash
from services.models import (
    IdempotencyRecord,
    Process,
)
from services.usage.figures import SERVICE_ERROR
from services.webhooks import events as webhook_events
from services.workers import workers_available

logger = logging.getLogger(__name__)


@dataclass
class Started:
    process: Process
    access_token: str
    balance: int


def process_start(
    *, api_key: ApiKey, resolved: ResolvedEndpoint, params: dict[str, Any], request_id: str = ""
) -> Started:
    """Charge the endpoint's price and create the process in one transaction, then enqueue it
    after commit. `request_id` (the execute's X-Request-ID) is kept on the process for the
    worker's log line. Raises InsufficientCredits (nothing written), ServiceUnavailable when no
    worker is alive (nothing written; see services.workers) or when the broker refused the task
    (the process is failed and refunded first)."""
    if not workers_available():
        raise ServiceUnavailable(
            "No worker is taking jobs right now, so the call was not started and nothing was "
            "charged. Retry in a few seconds."
        )
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    process = Process(
        public_id=f"prc_{secrets.token_urlsafe(18)}",
        account_id=api_key.account_id,
        api_key=api_key,
        service_id=resolved.service.id,
        endpoint=resolved.endpoint.name,
        params=params,
        token_hash=process_token_hash(token),
        credits=resolved.price,
        has_webhook_url=webhook_events.webhook_url_given(),
        request_id=request_id[:128],
        created_at=now,
        deadline_at=now + timedelta(seconds=settings.BREACT_PROCESS_DEADLINE),
    )
    charged = None
    if resolved.price > 0 and api_key.spend_cap is None and connection.vendor == "postgresql":
        charged = process_insert_charged(process)  # one round trip, or nothing written
    if charged is not None:
        try:
            webhook_events.process_webhook_attach(process=process)
        except BaseException:
            process_fail(process=process, message="The call's webhook could not be recorded.")
            raise
        balance = charged.balance
        low_balance_watch(
            account_id=process.account_id,
            state=(charged.balance, charged.low_balance_threshold, charged.low_balance_alerted_at),
        )
        transaction.on_commit(lambda: _enqueue(process))
    else:
        with transaction.atomic():
            process.save(force_insert=True)
            if resolved.price > 0:
                balance = credits_charge(process=process).balance_after
            else:
                balance = account_balance(account=api_key.account)
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
    request_id: str = "",
) -> ExecuteOutcome:
    """Start a process, honouring an Idempotency-Key: a retry with the same key and body
    replays the first 202 and charges nothing more."""
    if not idempotency_key:
        started = process_start(
            api_key=api_key, resolved=resolved, params=params, request_id=request_id
        )
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
        started = process_start(
            api_key=api_key, resolved=resolved, params=params, request_id=request_id
        )
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
    request_id: str = "",
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
        api_key=api_key,
        resolved=resolved,
        params=params,
        idempotency_key=idempotency_key,
        request_id=request_id,
    )


def process_run(*, process_pk: int) -> None:
    """Run a queued process in the worker. A process found already running was being run by a
    worker that died (the broker redelivered it): it is failed and refunded, not run twice. A
    process still queued past its deadline (its message waited in a stopped queue) is failed
    and refunded instead of run late."""
    process = _process_claim(process_pk)
    if process is None:
        process = Process.objects.filter(pk=process_pk).first()
        if process is None:
            return
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


# On PostgreSQL the claim's commit does not wait for the disk (synchronous_commit off for its
# own transaction only, set inside the statement: no extra round trip, nothing left on the
# connection). The completion's commit does wait, and it flushes the log up to itself, claim
# included; so a database crash can only lose the claim of a process that has not completed,
# which then stays queued instead of running: its message is run again if redelivered, else
# the sweeper fails and refunds it at its deadline, as it does a process left running. Nothing
# a client was told is lost, and the call's path loses one disk flush (0.1 to 4 ms measured on
# the benchmark's machine, bench/api_benchmark.py).
_CLAIM_COMMITS_WITHOUT_WAITING = " AND set_config('synchronous_commit', 'off', true) <> ''"


def _process_claim(process_pk: int) -> Process | None:
    """Queued → running, and the row, in one statement (UPDATE … RETURNING); None when the
    process was not queued or its deadline has passed. The claim is a task's first statement:
    when the worker's kept connection turns out broken (the database restarted since the last
    task; see breact.celery), it is tried once more on a new connection. Should the broken
    one have committed it after all, the second try finds the process running, and
    process_run fails and refunds it: never run twice, never charged for nothing."""
    try:
        return _claim(process_pk)
    except (OperationalError, InterfaceError):
        if connection.in_atomic_block:
            raise
        logger.warning("The database connection broke before claiming a process; reconnecting")
        connection.close()
        return _claim(process_pk)


def _claim(process_pk: int) -> Process | None:
    now = timezone.now()
    # Only as a transaction of its own: inside a caller's, the setting would hold for all of it.
    alone = connection.vendor == "postgresql" and not connection.in_atomic_block
    unwaited = _CLAIM_COMMITS_WITHOUT_WAITING if alone else ""
    return process_fetch(
        f"UPDATE {process_table()} SET state = %s, started_at = %s "  # noqa: S608 (names)
        f"WHERE id = %s AND state = %s AND deadline_at > %s{unwaited} RETURNING {columns()}",
        [Process.State.RUNNING, now, process_pk, Process.State.QUEUED, now],
    )


def _since(moment: Any) -> float:
    return round((timezone.now() - moment).total_seconds(), 6)


def process_complete(
    *, process: Process, inner: dict[str, Any], refund_reason: str | None = None
) -> bool:
    """Store the result of a running process (state → completed, expiry set). With
    `refund_reason` (a service-level failure) its credits are refunded too, in the same
    transaction; a success is one UPDATE on its own, visible to a poller at once, and its
    follow-ups (metrics, log line, webhook event) come after. Returns False when the process
    was no longer running (a sweeper failed it first)."""
    if refund_reason:
        with transaction.atomic():
            return _process_complete(process=process, inner=inner, refund_reason=refund_reason)
    return _process_complete(process=process, inner=inner, refund_reason=None)


def _process_complete(
    *, process: Process, inner: dict[str, Any], refund_reason: str | None
) -> bool:
    now = timezone.now()
    done = Process.objects.filter(pk=process.pk, state=Process.State.RUNNING).update(
        state=Process.State.COMPLETED,
        # A service error stays known as one after the result is purged (usage.figures).
        error_code=SERVICE_ERROR if refund_reason else "",
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
    fields = ("pk", "public_id", "account_id", "api_key_id", "has_webhook_url", "request_id")
    for process in stuck.only(*fields).iterator():
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
