"""Reads on services, endpoints, processes and usage."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import Account
from breact.errors import NotFound, ServiceNotFound
from services.models import Endpoint, Process, UsageLog
from services.registry import EndpointDefinition, ServiceDefinition, all_services, find_service


def process_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class ResolvedEndpoint:
    service: ServiceDefinition
    endpoint: EndpointDefinition
    row: Endpoint

    @property
    def price(self) -> int:
        return self.row.price


def endpoint_rows() -> dict[tuple[str, str], Endpoint]:
    """Every endpoint row by (service id, endpoint name), synced from the registry if missing."""
    from services.actions import services_sync

    rows = {
        (row.service.service_id, row.name): row
        for row in Endpoint.objects.select_related("service")
    }
    expected = {(s.id, e) for s in all_services().values() for e in s.endpoints}
    if not expected <= rows.keys():
        services_sync()
        return endpoint_rows()
    return rows


def endpoint_resolve(*, service_id: str, endpoint: str) -> ResolvedEndpoint:
    """The enabled endpoint `service_id`.`endpoint` (aliases allowed) or ServiceNotFound."""
    definition = find_service(service_id)
    if definition is None:
        raise ServiceNotFound(
            f"There is no service {service_id!r}. GET /api/v1/services lists them."
        )
    endpoint_definition = definition.endpoints.get(endpoint)
    if endpoint_definition is None:
        names = ", ".join(sorted(definition.endpoints))
        raise ServiceNotFound(
            f"Service {definition.id!r} has no endpoint {endpoint!r}; it has: {names}.",
            details={"endpoints": sorted(definition.endpoints)},
        )
    row = (
        Endpoint.objects.select_related("service")
        .filter(service__service_id=definition.id, name=endpoint)
        .first()
    )
    if row is None:
        row = endpoint_rows()[(definition.id, endpoint)]
    if not (row.enabled and row.service.enabled):
        raise ServiceNotFound(f"{definition.id}.{endpoint} is disabled on this platform.")
    return ResolvedEndpoint(service=definition, endpoint=endpoint_definition, row=row)


def service_catalogue() -> list[
    tuple[ServiceDefinition, list[tuple[EndpointDefinition, Endpoint]]]
]:
    """Enabled services with their enabled endpoints and rows, in id order."""
    rows = endpoint_rows()
    out = []
    for definition in sorted(all_services().values(), key=lambda s: s.id):
        endpoints = [
            (e, rows[(definition.id, name)])
            for name, e in definition.endpoints.items()
            if rows[(definition.id, name)].enabled
        ]
        if endpoints and endpoints[0][1].service.enabled:
            out.append((definition, endpoints))
    return out


def process_for_poll(*, account: Account, public_id: str, token: str | None) -> Process:
    """The process, if it belongs to `account`, `token` matches and its result has not expired.

    Every other case raises the same NotFound, so a caller learns nothing about other ids.
    """
    not_found = NotFound(
        "No result for this process id and access token. Results are deleted 60 s after "
        "they are ready."
    )
    process = Process.objects.filter(public_id=public_id, account=account).first()
    if process is None or not token or not process.token_hash:
        raise not_found
    if not hmac.compare_digest(process.token_hash, process_token_hash(token)):
        raise not_found
    if process.is_expired(timezone.now()):
        raise not_found
    return process


def _day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    tz = timezone.get_current_timezone()
    return (
        datetime.combine(start, time.min, tzinfo=tz),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz),
    )


def usage_by_day_and_service(
    *, account: Account, start: date, end: date, service_id: str | None = None
) -> list[dict[str, Any]]:
    """Calls, errors and credits per (day, service) from the usage log, index-backed on
    (account, created_at)."""
    lower, upper = _day_bounds(start, end)
    # Execute requests only (POST); polls of the same process are not calls of their own.
    rows = UsageLog.objects.filter(
        account=account, created_at__gte=lower, created_at__lt=upper, method="POST"
    ).exclude(service_id="")
    if service_id:
        rows = rows.filter(service_id=service_id)
    grouped = (
        rows.annotate(day=TruncDate("created_at"))
        .values("day", "service_id")
        .annotate(
            calls=Count("id"),
            errors=Count("id", filter=Q(status_code__gte=400)),
            credits=Sum("credits"),
        )
        .order_by("day", "service_id")
    )
    return [
        {
            "date": row["day"].isoformat(),
            "service": row["service_id"],
            "calls": row["calls"],
            "errors": row["errors"],
            "credits": int(row["credits"] or 0),
        }
        for row in grouped
    ]
