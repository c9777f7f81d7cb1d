"""An expired session during an htmx request: send the whole browser to the login page and back."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlencode, urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme

REDIRECTS = (301, 302, 303, 307, 308)
# The login page reads this to say why the user is there.
EXPIRED_PARAM = "expired"


def _same_site_path(request: HttpRequest, url: str) -> str | None:
    """`url` as a path + query on this site, or None (another host, no URL)."""
    if not url or not url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return None
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def return_path(request: HttpRequest) -> str:
    """Where the user was: the page the browser shows (htmx's HX-Current-URL, else the Referer)
    for a POST or an htmx request — not the URL of the form or region — else this request's path."""
    if getattr(request, "htmx", False) or request.method != "GET":
        for header in ("HTTP_HX_CURRENT_URL", "HTTP_REFERER"):
            path = _same_site_path(request, request.META.get(header, ""))
            if path:
                return path
    return request.get_full_path()


class ExpiredSessionMiddleware:
    """login_required's redirect to the login page, made to work for htmx and form posts.

    An htmx request would follow the redirect inside the XMLHttpRequest and swap the whole login
    page into the form; it gets 401 with HX-Redirect instead, so htmx loads the login page as a
    page. Either way `next` is the page the user was on (a POST-only URL would answer 405 after
    logging in), and `expired=1` lets the login page say why. The browser keeps what was typed
    (static/js/console.js) and puts it back on return."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if response.status_code not in REDIRECTS or request.user.is_authenticated:
            return response
        login = resolve_url(settings.LOGIN_URL)
        location = urlsplit(response.get("Location", ""))
        if location.path != login or "next" not in parse_qs(location.query):
            return response  # not login_required's redirect (e.g. logging out)
        htmx = bool(getattr(request, "htmx", False))
        if not htmx and request.method == "GET":
            return response  # a plain page visit: Django's redirect is right as it is
        query = urlencode({"next": return_path(request), EXPIRED_PARAM: "1"})
        target = f"{login}?{query}"
        if htmx:
            expired = HttpResponse(status=401)
            expired["HX-Redirect"] = target
            return expired
        response["Location"] = target
        return response
