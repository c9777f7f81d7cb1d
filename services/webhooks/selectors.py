"""Reads of the webhooks domain. Owner-checked getters answer NotFound for "missing" and "not
yours" alike."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from breact.errors import NotFound
from services.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

RECENT_ATTEMPTS = 10


def endpoint_list(*, account_id: int) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(account_id=account_id)


def endpoint_get(*, account_id: int, public_id: str) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.filter(account_id=account_id, public_id=public_id).first()
    if endpoint is None:
        raise NotFound("There is no such webhook endpoint in this account.")
    return endpoint


def delivery_list(*, endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    """The endpoint's deliveries, newest first, with their event and attempts (newest first)."""
    return (
        WebhookDelivery.objects.filter(endpoint=endpoint)
        .select_related("event")
        .prefetch_related(
            Prefetch("tries", queryset=WebhookAttempt.objects.order_by("-started_at", "-id"))
        )
    )


def delivery_get(*, endpoint: WebhookEndpoint, event_id: str) -> WebhookDelivery:
    delivery = (
        WebhookDelivery.objects.filter(endpoint=endpoint, event__public_id=event_id)
        .select_related("event")
        .first()
    )
    if delivery is None:
        raise NotFound("There is no such delivery for this webhook endpoint.")
    return delivery
