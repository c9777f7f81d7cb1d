from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_catalogue(sender: AppConfig, **kwargs: Any) -> None:
    from services.catalogue.actions import services_sync

    services_sync()


class ServicesConfig(AppConfig):
    name = "services"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        post_migrate.connect(_sync_catalogue, sender=self)
        from breact.hot_cache import watch
        from services.models import Endpoint, Service

        for model in (Service, Endpoint):  # what an execute's endpoint check reads
            watch(model)
