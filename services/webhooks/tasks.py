"""Celery tasks of webhooks: thin wrappers that take ids and call an action."""

from __future__ import annotations

from celery import shared_task

from services.webhooks import actions, events


@shared_task(acks_late=True)
def deliver(delivery_pk: int) -> str:
    return actions.delivery_attempt(delivery_pk=delivery_pk)


@shared_task
def sweep_deliveries() -> int:
    return actions.deliveries_sweep()


@shared_task
def scan_expiring_keys() -> int:
    return events.keys_expiring_scan()


@shared_task
def prune_events() -> int:
    return actions.events_prune()
