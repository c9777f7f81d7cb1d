"""Usage: calls and credits by day, service and key; the request log; CSV export."""

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse


def usage(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404("not built yet")


def usage_export(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404("not built yet")
