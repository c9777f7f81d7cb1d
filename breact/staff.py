"""The staff rule, applied once: every URL under /staff/ is wrapped by staff_required at include."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import wraps
from importlib import import_module
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.urls import URLPattern, URLResolver


def staff_required(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Staff pages: anonymous users are sent to log in, logged-in non-staff get 403."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not (request.user.is_active and request.user.is_staff):
            raise PermissionDenied("Staff only.")
        return view(request, *args, **kwargs)

    return wrapper


def staff_guarded(
    patterns: Sequence[URLPattern | URLResolver],
) -> list[URLPattern | URLResolver]:
    """Copies of `patterns` whose every view, at any depth of nested includes, is wrapped by
    staff_required. The modules' own lists are left as they are."""
    guarded: list[URLPattern | URLResolver] = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            guarded.append(
                URLResolver(
                    pattern.pattern,
                    staff_guarded(pattern.url_patterns),
                    pattern.default_kwargs,
                    pattern.app_name,
                    pattern.namespace,
                )
            )
        else:
            guarded.append(
                URLPattern(
                    pattern.pattern,
                    staff_required(pattern.callback),
                    pattern.default_args,
                    pattern.name,
                )
            )
    return guarded


def staff_urlpatterns(*urlconfs: str) -> list[URLPattern | URLResolver]:
    """The URL patterns of the named urlconf modules, in order, all guarded by staff_required:
    what breact/urls.py includes under /staff/. A staff view needs no check of its own."""
    patterns: list[URLPattern | URLResolver] = []
    for name in urlconfs:
        patterns.extend(staff_guarded(import_module(name).urlpatterns))
    return patterns
