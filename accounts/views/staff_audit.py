"""Staff: the audit log (filter, CSV) and the reconciliation of balances and ledgers."""

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse


def audit_log(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404("not built yet")


def audit_export(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404("not built yet")


def reconciliation(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    raise Http404("not built yet")
