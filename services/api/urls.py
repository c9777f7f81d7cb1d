"""Routes of REST API v1."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from services.api import health, views

urlpatterns = [
    path("services", views.ServiceListApi.as_view(), name="service-list"),
    path(
        "services/result/<str:process_id>", views.ProcessResultApi.as_view(), name="process-result"
    ),
    path("services/<str:service_id>", views.ServiceDetailApi.as_view(), name="service-detail"),
    path(
        "services/<str:service_id>/<str:endpoint>",
        views.ServiceExecuteApi.as_view(),
        name="service-execute",
    ),
    path("account", views.AccountApi.as_view(), name="account"),
    path("usage", views.UsageApi.as_view(), name="api-usage"),
    path("health", views.HealthApi.as_view(), name="health"),
    path("health/live", health.LivenessApi.as_view(), name="health-live"),
    path("health/ready", health.ReadinessApi.as_view(), name="health-ready"),
    path("", include("services.api.kb_urls")),
    path("", include("services.webhooks.urls")),
    path(
        "schema",
        SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]),
        name="schema",
    ),
]
