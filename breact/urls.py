"""Root URLs: the API under /api/v1/, its docs, the admin and the pages."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularSwaggerView

from accounts.signin.views import admin_login
from breact.metrics import metrics_view
from breact.staff import staff_urlpatterns

urlpatterns = [
    # First: the API is what is called most, and Django tries the patterns in order.
    path("api/v1/", include("services.api.urls")),
    path("", include("services.urls")),
    path("", include("accounts.signin.urls")),
    path("", include("accounts.console.urls")),
    path("", include("accounts.orgs.urls")),
    path("", include("services.webhooks.page_urls")),
    # Every staff page, from both apps, behind the one staff check (breact.staff).
    path("staff/", include(staff_urlpatterns("services.staff.urls", "accounts.staff.urls"))),
    path("metrics", metrics_view, name="metrics"),
    path(
        "api/docs",
        SpectacularSwaggerView.as_view(
            url_name="schema", authentication_classes=[], permission_classes=[]
        ),
        name="api-docs",
    ),
    # Before the admin's own URLs: its log-in page is the console's, behind the same throttles.
    path("admin/login/", admin_login, name="admin-login"),
    path("admin/", admin.site.urls),
]

handler400 = "services.api.errors.handler400"
handler403 = "services.api.errors.handler403"
handler404 = "services.api.errors.handler404"
handler500 = "services.api.errors.handler500"
