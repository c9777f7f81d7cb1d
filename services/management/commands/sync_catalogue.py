"""`manage.py sync_catalogue`: create the Service and Endpoint rows of services defined in code
since the last sync (run on deploy; `migrate` runs it too). Staff-edited prices and switches are
kept."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from services.catalogue.actions import services_sync
from services.models import Endpoint


class Command(BaseCommand):
    help = "Create the catalogue rows the code defines and the database lacks (run on deploy)."

    def handle(self, *args: Any, **options: Any) -> None:
        before = Endpoint.objects.count()
        services_sync()
        added = Endpoint.objects.count() - before
        self.stdout.write(f"Catalogue synced: {added} endpoint row(s) added.")
