"""Idempotency-Key records: claim a key for one request, replay its first answer, forget a
claim whose request failed before anything was charged."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from breact.errors import (
    IdempotencyInFlight,
    IdempotencyMismatch,
)
from services.models import (
    IdempotencyRecord,
)

# An in-flight idempotency record older than this belongs to a request that died half-way.
IDEMPOTENCY_STALE_SECONDS = 120


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
