"""Routes of /api/v1/webhooks… (included at the root of services/api/urls.py)."""

from django.urls import path

from services.webhooks import api

urlpatterns = [
    path("webhooks", api.WebhooksApi.as_view(), name="webhook-list-api"),
    path("webhooks/<str:webhook_id>", api.WebhookDetailApi.as_view(), name="webhook-detail-api"),
    path(
        "webhooks/<str:webhook_id>/roll-secret",
        api.WebhookSecretRollApi.as_view(),
        name="webhook-roll-api",
    ),
    path("webhooks/<str:webhook_id>/test", api.WebhookTestApi.as_view(), name="webhook-test-api"),
    path(
        "webhooks/<str:webhook_id>/deliveries",
        api.WebhookDeliveriesApi.as_view(),
        name="webhook-deliveries-api",
    ),
    path(
        "webhooks/<str:webhook_id>/deliveries/<str:event_id>/resend",
        api.WebhookResendApi.as_view(),
        name="webhook-resend-api",
    ),
]
