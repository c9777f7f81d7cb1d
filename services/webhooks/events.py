"""The one-line hooks the rest of the product calls where something happens: they count it
(breact.metrics), log it (one line per process) and emit its webhook event after commit."""

from __future__ import annotations

import logging
from contextvars import ContextVar
from datetime import timedelta
from functools import lru_cache
from typing import Any

from django.utils import timezone

from breact import metrics
from breact.dates import iso
from breact.errors import BadRequest
from services.webhooks.actions import event_emit, url_check
from services.webhooks.actions import process_webhook_attach as attach

process_logger = logging.getLogger("breact.process")


def process_finished(*, process: Any, done: bool, failed: bool) -> None:
    """A process reached completed or error (`done`: this caller made the change; `failed`: its
    credits were refunded, for a service-level error or a platform failure). Counts it, logs one
    line (with the request id of the execute that started it, kept on the row), and emits
    `process.completed` or `process.failed` (with the refund) after commit, with the poll's
    body. Call inside the finishing transaction. No query: the key's prefix is remembered per
    worker process, and whether the execute passed a webhook_url is a column of the row."""
    if not done:
        return
    outcome = "failed" if failed else "completed"
    duration = (timezone.now() - process.created_at).total_seconds()
    metrics.process_finished(
        service=process.service_id, outcome=outcome, refunded=process.credits if failed else 0
    )
    process_logger.info(
        "process %s %s.%s %s%s",
        process.public_id,
        process.service_id,
        process.endpoint,
        outcome,
        f" {process.request_id}" if process.request_id else "",
        extra={
            "process_id": process.public_id,
            "request_id": process.request_id,
            "account": process.account_id,
            "key_prefix": _key_prefix(process.api_key_id),
            "service": process.service_id,
            "endpoint": process.endpoint,
            "outcome": outcome,
            "duration_ms": int(duration * 1000),
        },
    )
    event_type = "process.failed" if failed else "process.completed"
    event_emit(
        account_id=process.account_id,
        event_type=event_type,
        dedupe_key=f"{event_type}:{process.public_id}",
        data=lambda: _process_body(process.pk, failed),
        # The row says whether the execute passed a webhook_url (never the cache, which may
        # have been emptied since): only then does recording the event read its URL.
        per_call_process_pk=process.pk if process.has_webhook_url else None,
    )


@lru_cache(maxsize=4096)
def _key_prefix(api_key_id: int | None) -> str:
    """A key's public prefix (it never changes), read once per worker process."""
    from accounts.models import ApiKey

    if api_key_id is None:
        return ""
    return ApiKey.objects.filter(pk=api_key_id).values_list("prefix", flat=True).first() or ""


def _process_body(process_pk: int, failed: bool) -> dict[str, Any]:
    from services.execution.selectors import poll_body
    from services.models import Process

    process = Process.objects.get(pk=process_pk)
    body = poll_body(process)
    body["process_created_at"] = body.pop("created_at")
    body["process_id"] = process.public_id
    if failed:
        body["refund"] = {"credits": process.credits}
    return body


def credits_low(*, account_id: int) -> None:
    """The balance fell below the account's alert threshold (once per crossing)."""
    event_emit(
        account_id=account_id,
        event_type="credits.low",
        dedupe_key=f"credits.low:{account_id}:{timezone.now().isoformat()}",
        data=lambda: _balance_body(account_id),
    )


def _balance_body(account_id: int) -> dict[str, Any]:
    from accounts.models import Account

    account = Account.objects.get(pk=account_id)
    return {"balance": account.balance, "threshold": account.low_balance_threshold}


def payment_succeeded(*, payment: Any) -> None:
    """A payment was credited (Stripe or test mode)."""
    event_emit(
        account_id=payment.account_id,
        event_type="payment.succeeded",
        dedupe_key=f"payment.succeeded:{payment.pk}",
        data=lambda: _payment_body(payment.pk),
    )


def _payment_body(payment_pk: int) -> dict[str, Any]:
    from accounts.models import Payment

    payment = Payment.objects.get(pk=payment_pk)
    return {
        "payment": {
            "provider": payment.provider,
            "pack_id": payment.pack_id,
            "credits": payment.credits,
            "amount_cents": payment.amount_cents,
            "currency": payment.currency,
            "paid_at": iso(payment.paid_at),
        },
        **_balance_body(payment.account_id),
    }


KEY_EXPIRING_NOTICE = timedelta(days=7)


def keys_expiring_scan() -> int:
    """Beat (hourly): `key.expiring` for every usable key that expires within 7 days, once per
    key and expiry date (a key whose expiry moves gets a new event). Returns how many."""
    from accounts.models import ApiKey

    now = timezone.now()
    keys = ApiKey.objects.usable().filter(
        is_console=False, expires_at__isnull=False, expires_at__lte=now + KEY_EXPIRING_NOTICE
    )
    count = 0
    for key in keys.only("pk", "account_id", "name", "prefix", "last_four", "expires_at"):
        event_emit(
            account_id=key.account_id,
            event_type="key.expiring",
            dedupe_key=f"key.expiring:{key.pk}:{iso(key.expires_at)}",
            data=lambda key=key: {  # type: ignore[misc]
                "key": {
                    "name": key.name,
                    "prefix": key.prefix,
                    "last_four": key.last_four,
                    "expires_at": iso(key.expires_at),
                }
            },
        )
        count += 1
    return count


# --- per-call webhook_url (an extension of execute) -------------------------------------------

_call_webhook_url: ContextVar[str | None] = ContextVar("call_webhook_url", default=None)


def webhook_url_take(params: dict[str, Any]) -> dict[str, Any]:
    """Execute: take the optional `webhook_url` out of the body (before schema validation), check
    it (BadRequest when refused) and keep it for process_webhook_attach in this context. Returns
    the parameters without it; without one, they are returned unchanged."""
    url = params.get("webhook_url") if isinstance(params, dict) else None
    _call_webhook_url.set(None)
    if url is None:
        return params
    if not isinstance(url, str):
        raise BadRequest(
            "webhook_url must be a string (an http(s) URL).",
            details={"errors": [{"path": "webhook_url", "message": "not a string"}]},
        )
    _call_webhook_url.set(url_check(url))
    return {name: value for name, value in params.items() if name != "webhook_url"}


def webhook_url_given() -> bool:
    """Execute: whether this call passed a webhook_url (Process.has_webhook_url). No query."""
    return _call_webhook_url.get() is not None


def process_webhook_attach(*, process: Any) -> None:
    """Inside the execute transaction: keep the call's webhook_url (if it passed one) for the
    process's events. No query when none was passed."""
    url = _call_webhook_url.get()
    if url:
        _call_webhook_url.set(None)
        attach(process=process, url=url)
