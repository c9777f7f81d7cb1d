"""Staff pages of the services app (under /staff/)."""

from django.urls import path

from services.staff.views import overview as staff_overview
from services.staff.views import services as staff_services

urlpatterns = [
    path("", staff_overview.overview, name="staff-overview"),
    path("overview.csv", staff_overview.overview_export, name="staff-overview-export"),
    path("services/", staff_services.service_list, name="staff-services"),
    path(
        "services/<str:service_id>/<str:endpoint>/",
        staff_services.endpoint_edit,
        name="staff-endpoint-edit",
    ),
    path("models/", staff_services.provider_list, name="staff-providers"),
    path("models/new/", staff_services.provider_create, name="staff-provider-create"),
    path("models/<int:pk>/", staff_services.provider_edit, name="staff-provider-edit"),
    path("models/<int:pk>/delete/", staff_services.provider_delete, name="staff-provider-delete"),
]
