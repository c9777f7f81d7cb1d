"""Writes of the webhooks domain: endpoints (create, change, roll the secret, delete), events
(recorded after the commit of what they report) and delivery attempts."""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from breact import metrics
from breact.dates import iso
from breact.errors import BadRequest
from services.webhooks import signing, transport
from services.webhooks.models import (
    EVENT_TYPES,
    ProcessWebhook,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

logger = logging.getLogger(__name__)

# The per-account flag "has an enabled endpoint" (1/0), so events of accounts without
# endpoints cost one cache read and no query. Only a hint that saves a query: a missing flag
# (first event, an emptied cache) or a cache error costs one EXISTS query instead, and never an
# event. Whether a process has a per-call webhook_url is a column of its row
# (Process.has_webhook_url), not a cache entry.
FLAG_KEY = "webhooks:account:{}"
FLAG_TTL = 300


def flag_reset(*, account_id: int) -> None:
    """After a change of the account's endpoints commits: the flag says "maybe" (1), so events
    ask the database until it expires (FLAG_TTL). Set rather than deleted: a worker that read
    the database before the change and stores its answer after it (_flag_store adds, never
    overwrites) cannot hide a new endpoint. When the cache cannot be reached the change still
    stands; a 0 cached before the outage may then hide a new endpoint until it expires."""
    try:
        cache.set(FLAG_KEY.format(account_id), 1, FLAG_TTL)
    except Exception:
        logger.warning("Could not reset the webhook flag of account %s", account_id, exc_info=True)


def _flag_store(account_id: int, flag: int) -> None:
    """Cache what the database said, unless a flag is there already (see flag_reset)."""
    try:
        cache.add(FLAG_KEY.format(account_id), flag, FLAG_TTL)
    except Exception:
        logger.warning("Could not cache the webhook flag", exc_info=True)


def _account_has_endpoints(account_id: int) -> bool:
    def exists() -> bool:
        return WebhookEndpoint.objects.filter(account_id=account_id, enabled=True).exists()

    try:
        flag = cache.get(FLAG_KEY.format(account_id))
    except Exception:  # the cache is down: ask the database (and do not wait on it twice)
        logger.warning("Webhook flag unreadable, asking the database", exc_info=True)
        return exists()
    if flag is None:
        flag = int(exists())
        _flag_store(account_id, flag)
    return bool(flag)


# --- endpoints --------------------------------------------------------------------------------


def url_check(url: str) -> str:
    """The URL as given, or BadRequest when it cannot receive webhooks (not http(s), has
    credentials, names a refused address). Deliveries check again after DNS."""
    url = (url or "").strip()
    if not url or len(url) > 2000:
        raise BadRequest("url: give an http(s) URL of at most 2,000 characters.")
    reason = transport.url_refusal(url, allow_loopback=settings.BREACT_WEBHOOK_ALLOW_LOOPBACK)
    if reason:
        raise BadRequest(f"url: {reason}", details={"errors": [{"path": "url", "message": reason}]})
    return url


def events_check(events: list[str] | None) -> list[str]:
    events = list(events or [])
    unknown = [e for e in events if e not in EVENT_TYPES]
    if unknown:
        message = f"unknown event types {unknown}; known: {', '.join(EVENT_TYPES)}"
        raise BadRequest(
            f"events: {message}", details={"errors": [{"path": "events", "message": message}]}
        )
    return sorted(set(events))


def endpoint_create(
    *, account_id: int, url: str, events: list[str] | None, description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint for the account. Returns (row, secret): the secret signs its
    deliveries and is shown to the caller this once. The caller checks the account is theirs."""
    endpoint = WebhookEndpoint.objects.create(
        public_id=f"whe_{secrets.token_urlsafe(12)}",
        account_id=account_id,
        url=url_check(url),
        events=events_check(events),
        description=description[:200],
        secret=signing.secret_new(),
    )
    transaction.on_commit(lambda: flag_reset(account_id=account_id))
    return endpoint, endpoint.secret


def endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    url: str | None = None,
    events: list[str] | None = None,
    enabled: bool | None = None,
    description: str | None = None,
) -> WebhookEndpoint:
    """Change an endpoint's URL, events, description or switch; enabling it again clears its
    failure streak. The caller checks ownership."""
    if url is not None:
        endpoint.url = url_check(url)
    if events is not None:
        endpoint.events = events_check(events)
    if description is not None:
        endpoint.description = description[:200]
    if enabled is not None:
        if enabled and not endpoint.enabled:
            endpoint.failing_since = None
            endpoint.disabled_reason = ""
        endpoint.enabled = enabled
    endpoint.save()
    transaction.on_commit(lambda: flag_reset(account_id=endpoint.account_id))
    return endpoint


def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    account_id = endpoint.account_id
    endpoint.delete()
    transaction.on_commit(lambda: flag_reset(account_id=account_id))


@transaction.atomic
def endpoint_secret_roll(*, endpoint: WebhookEndpoint, grace: timedelta) -> str:
    """A new signing secret, returned this once. For `grace` the old one signs too (each
    delivery carries one v1 per secret), so receivers can switch without missing one; a zero
    grace drops it at once. Locks the row against a concurrent roll."""
    row = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    now = timezone.now()
    row.previous_secret = row.secret if grace > timedelta(0) else ""
    row.previous_secret_expires_at = now + grace if grace > timedelta(0) else None
    row.secret = signing.secret_new()
    row.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at"])
    endpoint.secret, endpoint.previous_secret = row.secret, row.previous_secret
    endpoint.previous_secret_expires_at = row.previous_secret_expires_at
    return row.secret


def per_call_secret(*, account_id: int) -> str:
    """The secret that signs deliveries to a per-call `webhook_url` (no endpoint row to hold
    one): derived from the server's key, so it is stable and shown on the webhooks page."""
    digest = hmac.new(
        settings.BREACT_WEBHOOK_SECRET_KEY.encode(), f"per-call:{account_id}".encode(), "sha256"
    ).hexdigest()
    return signing.SECRET_PREFIX + digest[:43]


# --- per-call webhook_url ---------------------------------------------------------------------


def process_webhook_attach(*, process: Any, url: str | None) -> None:
    """Inside the execute transaction: remember the call's `webhook_url` (already checked by
    url_check; the process row has has_webhook_url set). Nothing when no URL was passed."""
    if not url:
        return
    ProcessWebhook.objects.create(process_id=process.pk, url=url)


# --- events -----------------------------------------------------------------------------------


def event_emit(
    *,
    account_id: int,
    event_type: str,
    dedupe_key: str,
    data: Callable[[], dict[str, Any]],
    per_call_process_pk: int | None = None,
) -> None:
    """Schedule the event for after the current transaction commits (a rollback sends
    nothing); outside a transaction it is recorded at once. `per_call_process_pk`: a process
    whose execute passed a webhook_url (Process.has_webhook_url), which gets the event too.
    `data` builds the body lazily, so an account with no endpoint and no per-call URL costs one
    cache read and no query."""
    transaction.on_commit(
        lambda: _event_record(account_id, event_type, dedupe_key, data, per_call_process_pk),
        robust=True,
    )


def _targets(
    account_id: int, event_type: str, per_call_process_pk: int | None
) -> tuple[list[WebhookEndpoint], str | None]:
    """The endpoints that want the event, and the per-call URL. Cost: one cache read for an
    account without endpoints (one EXISTS query when the flag is missing or the cache is down),
    one query for its endpoints otherwise, and one for the per-call URL only when the process
    has one."""
    endpoints: list[WebhookEndpoint] = []
    if _account_has_endpoints(account_id):
        endpoints = [
            e
            for e in WebhookEndpoint.objects.filter(account_id=account_id, enabled=True)
            if e.wants(event_type)
        ]
    url = None
    if per_call_process_pk is not None:
        url = (
            ProcessWebhook.objects.filter(pk=per_call_process_pk)
            .values_list("url", flat=True)
            .first()
        )
    return endpoints, url


def _event_record(
    account_id: int,
    event_type: str,
    dedupe_key: str,
    data: Callable[[], dict[str, Any]],
    per_call_process_pk: int | None,
) -> WebhookEvent | None:
    endpoints, url = _targets(account_id, event_type, per_call_process_pk)
    if not endpoints and not url:
        return None
    now = timezone.now()
    try:
        with transaction.atomic():
            event = _event_create(account_id, event_type, dedupe_key, data(), now)
            deliveries = [
                WebhookDelivery(event=event, endpoint=e, url=e.url, next_attempt_at=now)
                for e in endpoints
            ]
            if url:
                deliveries.append(WebhookDelivery(event=event, url=url, next_attempt_at=now))
            WebhookDelivery.objects.bulk_create(deliveries)
    except IntegrityError:  # this happening was already recorded
        return None
    for delivery in deliveries:
        delivery_enqueue(delivery_pk=delivery.pk)
    return event


def _event_create(
    account_id: int, event_type: str, dedupe_key: str | None, data: dict[str, Any], now: Any
) -> WebhookEvent:
    """The event row; its body is `data` after `id`, `event` and `created_at` (data has none of
    those keys). No dedupe key: the event is unique by its own id."""
    public_id = f"evt_{secrets.token_urlsafe(15)}"
    return WebhookEvent.objects.create(
        public_id=public_id,
        account_id=account_id,
        type=event_type,
        dedupe_key=(dedupe_key or f"{event_type}:{public_id}")[:200],
        payload={"id": public_id, "event": event_type, "created_at": iso(now), **data},
        created_at=now,
    )


def delivery_enqueue(*, delivery_pk: int, countdown: float = 0) -> None:
    """Queue an attempt; a broker failure is left to the sweeper (deliveries_sweep), which
    picks up every due pending delivery."""
    from services.webhooks.tasks import deliver

    try:
        deliver.apply_async(args=(delivery_pk,), countdown=countdown, retry=False)
    except Exception:
        logger.exception("Could not enqueue webhook delivery %s", delivery_pk)


def test_event_send(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """A `test` event to this one endpoint (whatever its event filter), delivered like any other."""
    now = timezone.now()
    with transaction.atomic():
        data = {"message": "A test event from BReact Console.", "endpoint_id": endpoint.public_id}
        event = _event_create(endpoint.account_id, "test", None, data, now)
        delivery = WebhookDelivery.objects.create(
            event=event, endpoint=endpoint, url=endpoint.url, next_attempt_at=now, is_test=True
        )
        transaction.on_commit(lambda: delivery_enqueue(delivery_pk=delivery.pk))
    return delivery


def delivery_resend(*, delivery: WebhookDelivery) -> bool:
    """Send a delivery again now (asked for by its owner): a finished one is re-armed as
    pending with a fresh retry window. Returns False while it is still pending (already
    going to be sent)."""
    now = timezone.now()
    rearmed = (
        WebhookDelivery.objects.filter(pk=delivery.pk)
        .exclude(state=WebhookDelivery.State.PENDING)
        .update(state=WebhookDelivery.State.PENDING, next_attempt_at=now, created_at=now)
    )
    if rearmed:
        transaction.on_commit(lambda: delivery_enqueue(delivery_pk=delivery.pk))
    return bool(rearmed)


# --- attempts ---------------------------------------------------------------------------------


def retry_delay(failures: int) -> float:
    """Seconds before the next attempt after `failures` failed ones: exponential from
    BREACT_WEBHOOK_RETRY_BASE, doubled each time, at most 6 hours."""
    return float(min(settings.BREACT_WEBHOOK_RETRY_BASE * 2 ** (failures - 1), 6 * 3600))


def delivery_attempt(*, delivery_pk: int) -> str:
    """Make one attempt of a due pending delivery, exactly once whoever runs it: the delivery
    is claimed by moving `next_attempt_at` past the attempt's timeout (a lease). Records the
    attempt (status, time, snippet). Success → succeeded; refused target → failed at once;
    otherwise the next attempt is scheduled with backoff until the retry window
    (BREACT_WEBHOOK_RETRY_WINDOW from the delivery's creation) is over. An endpoint failing
    for BREACT_WEBHOOK_DISABLE_AFTER is disabled and its owner emailed. Returns the outcome."""
    now = timezone.now()
    timeout = float(settings.BREACT_WEBHOOK_TIMEOUT)
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_pk, state=WebhookDelivery.State.PENDING, next_attempt_at__lte=now
    ).update(next_attempt_at=now + timedelta(seconds=timeout + 30))
    if not claimed:
        return "skipped"
    delivery = WebhookDelivery.objects.select_related("event", "endpoint").get(pk=delivery_pk)
    endpoint = delivery.endpoint
    if endpoint is not None and not endpoint.enabled and not delivery.is_test:
        _finish(delivery, state=WebhookDelivery.State.FAILED, error="endpoint disabled")
        return "dropped"
    body = json.dumps(delivery.event.payload, separators=(",", ":"), sort_keys=True).encode()
    secrets_in_force = (
        endpoint.signing_secrets(now)
        if endpoint is not None
        else [per_call_secret(account_id=delivery.event.account_id)]
    )
    number = delivery.attempts + 1
    headers = {
        signing.SIGNATURE_HEADER: signing.signature_header(
            secrets_in_force=secrets_in_force, body=body, timestamp=int(time.time())
        ),
        "BReact-Event": delivery.event.type,
        "BReact-Event-Id": delivery.event.public_id,
        "BReact-Delivery-Attempt": str(number),
    }
    try:
        answer = transport.post(
            delivery.url,
            body=body,
            headers=headers,
            timeout=timeout,
            allow_loopback=settings.BREACT_WEBHOOK_ALLOW_LOOPBACK,
        )
    except transport.Refused as exc:
        answer = transport.Answer(None, "", 0, error=str(exc)[:300])
        outcome = "refused"
    else:
        outcome = (
            "succeeded" if answer.ok else ("timeout" if "timed out" in answer.error else "failed")
        )
    WebhookAttempt.objects.create(
        delivery=delivery,
        number=number,
        started_at=now,
        duration_ms=answer.duration_ms,
        status_code=answer.status_code,
        error=answer.error[:300],
        response_snippet=answer.snippet[:500],
    )
    metrics.webhook_delivered(outcome=outcome)
    delivery.attempts = number
    delivery.last_status_code = answer.status_code
    delivery.last_error = answer.error[:300] or ("" if answer.ok else f"HTTP {answer.status_code}")
    if answer.ok:
        _finish(delivery, state=WebhookDelivery.State.SUCCEEDED, delivered_at=timezone.now())
        if endpoint is not None and endpoint.failing_since is not None:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
        return outcome
    if endpoint is not None:
        _failure_streak(endpoint)
    window = timedelta(seconds=settings.BREACT_WEBHOOK_RETRY_WINDOW)
    delay = retry_delay(number)
    later = timezone.now() + timedelta(seconds=delay)
    if outcome == "refused" or later > delivery.created_at + window:
        _finish(delivery, state=WebhookDelivery.State.FAILED)
        return outcome
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        attempts=number,
        last_status_code=answer.status_code,
        last_error=delivery.last_error,
        next_attempt_at=later,
    )
    delivery_enqueue(delivery_pk=delivery.pk, countdown=delay)
    return outcome


def _finish(delivery: WebhookDelivery, *, state: str, error: str = "", **fields: Any) -> None:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        state=state,
        attempts=delivery.attempts,
        last_status_code=delivery.last_status_code,
        last_error=error or delivery.last_error,
        next_attempt_at=None,
        **fields,
    )


def _failure_streak(endpoint: WebhookEndpoint) -> None:
    """Start the endpoint's failure streak, or disable it (once) when the streak has lasted
    BREACT_WEBHOOK_DISABLE_AFTER seconds, and email its owner after commit."""
    now = timezone.now()
    WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(
        failing_since=now
    )
    limit = now - timedelta(seconds=settings.BREACT_WEBHOOK_DISABLE_AFTER)
    reason = "Every delivery failed for a day."
    disabled = WebhookEndpoint.objects.filter(
        pk=endpoint.pk, enabled=True, failing_since__lte=limit
    ).update(enabled=False, disabled_reason=reason)
    if disabled:
        flag_reset(account_id=endpoint.account_id)
        _disabled_email(endpoint)


def _disabled_email(endpoint: WebhookEndpoint) -> None:
    from django.core.mail import send_mail
    from django.urls import reverse

    from accounts.models import Account

    account = Account.objects.select_related("owner").get(pk=endpoint.account_id)
    link = settings.BREACT_PUBLIC_URL + reverse("webhook-detail", args=[endpoint.public_id])
    try:
        send_mail(
            subject="A BReact webhook endpoint was disabled",
            message=(
                f"Every delivery to {endpoint.url} failed for a day, so the endpoint was "
                f"disabled and no more events are sent to it.\n\nSee its deliveries, fix the "
                f"receiver and enable it again: {link}\n"
            ),
            from_email=None,
            recipient_list=[account.contact_email],
        )
    except Exception:
        logger.exception("Could not email about disabled webhook endpoint %s", endpoint.public_id)


def deliveries_sweep() -> int:
    """Re-queue pending deliveries that are due (a lost message, a broker outage, an expired
    lease). Beat runs it every minute. Returns how many were queued."""
    due = WebhookDelivery.objects.filter(
        state=WebhookDelivery.State.PENDING, next_attempt_at__lte=timezone.now()
    ).values_list("pk", flat=True)[:500]
    count = 0
    for pk in due:
        delivery_enqueue(delivery_pk=pk)
        count += 1
    return count


def events_prune() -> int:
    """Delete events (with their deliveries and attempts) older than BREACT_WEBHOOK_KEEP_DAYS
    that have nothing pending. Their bodies hold results, so they are not kept for long."""
    old = timezone.now() - timedelta(days=settings.BREACT_WEBHOOK_KEEP_DAYS)
    deleted, _ = (
        WebhookEvent.objects.filter(created_at__lt=old)
        .exclude(deliveries__state=WebhookDelivery.State.PENDING)
        .delete()
    )
    return deleted
