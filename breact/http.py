"""Request helpers shared by the API and the pages: the htmx request type, the client's IP, the
signed-in user's account and the 303 after a form post."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponseRedirect
from django_htmx.middleware import HtmxDetails

# Longest value read from a client-address header; anything longer is not an address list.
_MAX_HEADER_CHARS = 2048


class HtmxHttpRequest(HttpRequest):
    """A request that went through django-htmx's middleware (request.htmx)."""

    htmx: HtmxDetails


def _meta_name(header: str) -> str:
    """The request.META key of a header named either way: X-Real-IP or HTTP_X_REAL_IP."""
    name = header.strip().upper().replace("-", "_")
    if name.startswith("HTTP_") or name == "REMOTE_ADDR":
        return name
    return f"HTTP_{name}"


def _address(value: str) -> str | None:
    """`value` as a normalized IP address, or None. Accepts "1.2.3.4:port" and "[::1]:port",
    as some proxies write them; an IPv4-mapped IPv6 address becomes the IPv4 one."""
    value = value.strip().strip('"')
    candidates = [value]
    if value.startswith("[") and "]" in value:
        candidates.append(value[1 : value.index("]")])
    elif value.count(":") == 1:
        candidates.append(value.partition(":")[0])
    for candidate in candidates:
        try:
            address = ipaddress.ip_address(candidate)
        except ValueError:
            continue
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            return str(address.ipv4_mapped)
        return str(address)
    return None


def client_ip(request: HttpRequest) -> str | None:
    """The address of the client that sent `request`, for rate limits, log-in throttles,
    sign-up limits and audit rows alike; None when there is no valid one.

    Without BREACT_CLIENT_IP_HEADER: REMOTE_ADDR. With it, behind reverse proxies: the header's
    comma-separated list is read from the right, because each proxy appends the address it
    received the request from, and only entries written by the operator's own proxies can be
    trusted; whatever the client sent itself sits further left. The client is the entry
    BREACT_TRUSTED_PROXY_COUNT places from the right (1: the right-most, as written by the
    one proxy in front of the app); a shorter list gives its left-most entry. A missing,
    empty, oversized or unparsable header falls back to REMOTE_ADDR, never to an error.
    """
    header = settings.BREACT_CLIENT_IP_HEADER
    if header:
        raw = str(request.META.get(_meta_name(header), ""))
        entries = [entry for entry in raw.split(",") if entry.strip()]
        if entries and len(raw) <= _MAX_HEADER_CHARS:
            position = max(int(settings.BREACT_TRUSTED_PROXY_COUNT), 1)
            address = _address(entries[-min(position, len(entries))])
            if address is not None:
                return address
    return _address(str(request.META.get("REMOTE_ADDR") or ""))


def see_other(url: str) -> HttpResponseRedirect:
    """POST → redirect → GET: a 303, so reloading the page never re-submits the form."""
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response
