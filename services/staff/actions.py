"""Staff writes on the services app: endpoint prices and switches, model provider rows; each
with its audit event in the same transaction. The staff views check permissions."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.audit.actions import audit_record
from accounts.models import AuditEvent
from services.models import (
    Endpoint,
    ModelProvider,
    Service,
)


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
    API call reads the new values (services.catalogue.selectors.endpoint_resolve). The caller checks
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
