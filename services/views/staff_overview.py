"""Staff: the billing overview (sold, consumed, refunded; revenue; services; top accounts)."""

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse


def overview(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404("not built yet")


def overview_export(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404("not built yet")
