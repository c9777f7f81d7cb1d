"""The project's URLs plus two pages that fail on purpose, for the error page tests."""

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django_ratelimit.exceptions import Ratelimited

from breact.urls import handler400, handler403, handler404, handler500, urlpatterns

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]


def broken(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug")


def throttled(request: HttpRequest) -> HttpResponse:
    raise Ratelimited()


urlpatterns = [
    path("broken/", broken),
    path("throttled/", throttled),
    path("api/v1/broken", broken),
    *urlpatterns,
]
