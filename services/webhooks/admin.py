"""Admin of webhooks: read-only views of endpoints (secrets left out), events, deliveries and
attempts, for support."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from accounts.admin import ViewOnlyAdmin
from breact.params import ascii_int
from services.webhooks.models import (
    ProcessWebhook,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ViewOnlyAdmin):
    list_display = ("public_id", "account", "url", "enabled", "failing_since", "created_at")
    list_filter = ("enabled",)
    search_fields = ("public_id", "url")
    exclude = ("secret", "previous_secret")


@admin.register(WebhookEvent)
class WebhookEventAdmin(ViewOnlyAdmin):
    list_display = ("public_id", "account", "type", "created_at")
    list_filter = ("type",)
    search_fields = ("public_id",)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ViewOnlyAdmin):
    list_display = ("event", "url", "state", "attempts", "last_status_code", "created_at")
    list_filter = ("state",)


@admin.register(WebhookAttempt)
class WebhookAttemptAdmin(ViewOnlyAdmin):
    list_display = ("delivery", "number", "status_code", "duration_ms", "started_at")


@admin.register(ProcessWebhook)
class ProcessWebhookAdmin(ViewOnlyAdmin):
    list_display = ("process", "url")

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Any:
        """None (the admin's "does not exist") for an id that is not a bigint. The key is the
        process's own (a one-to-one), whose lookup Django does not range-check as it does an
        AutoField's: SQLite refused an id past 64 bits with an OverflowError (a 500)."""
        if from_field is None and ascii_int(object_id) is None:
            return None
        return super().get_object(request, object_id, from_field)
