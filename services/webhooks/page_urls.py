"""Console pages of webhooks."""

from django.urls import path

from services.webhooks import views

urlpatterns = [
    path("webhooks/", views.webhook_list, name="webhooks"),
    path("webhooks/<str:public_id>/", views.webhook_detail, name="webhook-detail"),
    path("webhooks/<str:public_id>/toggle/", views.webhook_toggle, name="webhook-toggle"),
    path("webhooks/<str:public_id>/delete/", views.webhook_delete, name="webhook-delete"),
    path("webhooks/<str:public_id>/roll/", views.webhook_roll, name="webhook-roll"),
    path("webhooks/<str:public_id>/test/", views.webhook_test, name="webhook-test"),
    path(
        "webhooks/<str:public_id>/deliveries/<str:event_id>/resend/",
        views.webhook_resend,
        name="webhook-resend",
    ),
]
