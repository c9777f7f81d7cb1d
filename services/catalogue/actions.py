"""Writes on the catalogue: the Service and Endpoint rows that the registry defines.

Run on `post_migrate` (services.apps) and by `manage.py sync_catalogue` on deploy; never from a
read path."""

from __future__ import annotations

from django.db import transaction

from services.catalogue.registry import all_services
from services.models import (
    Endpoint,
    Service,
)


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
