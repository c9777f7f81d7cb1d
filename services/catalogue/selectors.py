"""Reads on the catalogue: endpoint rows, resolving `service.endpoint` to a callable endpoint,
the enabled services with their prices. Reads only: a registry entry without its rows (the
catalogue was not synced since it was added) is absent here, never created."""

from __future__ import annotations

from dataclasses import dataclass

from breact.errors import ServiceNotFound
from breact.hot_cache import HotCache
from services.catalogue.registry import (
    EndpointDefinition,
    ServiceDefinition,
    all_services,
    find_service,
)
from services.models import Endpoint


@dataclass(frozen=True)
class ResolvedEndpoint:
    service: ServiceDefinition
    endpoint: EndpointDefinition
    row: Endpoint

    @property
    def price(self) -> int:
        return self.row.price


def endpoint_rows() -> dict[tuple[str, str], Endpoint]:
    """Every endpoint row by (service id, endpoint name). Rows are made by services_sync (on
    migrate and `manage.py sync_catalogue`), never here."""
    return {
        (row.service.service_id, row.name): row
        for row in Endpoint.objects.select_related("service")
    }


ENDPOINT_ROWS = HotCache("endpoint rows")


def endpoint_resolve(
    *, service_id: str, endpoint: str, generation: str | None = None
) -> ResolvedEndpoint:
    """The enabled endpoint `service_id`.`endpoint` (aliases allowed) or ServiceNotFound. With
    the request's hot-path cache generation (breact.hot_cache), the row may come from the
    process's cache, current for that generation."""
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
    row = ENDPOINT_ROWS.get_or_load(
        (definition.id, endpoint),
        generation,
        lambda: (
            Endpoint.objects.select_related("service")
            .filter(service__service_id=definition.id, name=endpoint)
            .first()
        ),
    )
    if row is None:
        # Defined in code but not synced yet (deployed without `manage.py sync_catalogue`).
        raise ServiceNotFound(f"{definition.id}.{endpoint} is not available on this platform yet.")
    if not (row.enabled and row.service.enabled):
        raise ServiceNotFound(f"{definition.id}.{endpoint} is disabled on this platform.")
    return ResolvedEndpoint(service=definition, endpoint=endpoint_definition, row=row)


def service_catalogue() -> list[
    tuple[ServiceDefinition, list[tuple[EndpointDefinition, Endpoint]]]
]:
    """Enabled services with their enabled endpoints and rows, in id order (an endpoint without
    its row, not synced yet, is left out)."""
    rows = endpoint_rows()
    out = []
    for definition in sorted(all_services().values(), key=lambda s: s.id):
        endpoints = [
            (e, row)
            for name, e in definition.endpoints.items()
            if (row := rows.get((definition.id, name))) is not None and row.enabled
        ]
        if endpoints and endpoints[0][1].service.enabled:
            out.append((definition, endpoints))
    return out
