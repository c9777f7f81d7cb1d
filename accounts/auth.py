"""API key authentication for the REST API (x-api-key header, or Authorization: Bearer)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django_ratelimit.core import get_usage
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from accounts.actions import api_key_touch
from accounts.models import ApiKey
from accounts.rates import parse_rate
from accounts.selectors import api_key_verify
from breact.errors import RateLimitExceeded, Unauthorized

AUTH_FAILURE_GROUP = "auth-failure"
QUERY_KEY_NAMES = ("api_key", "apikey", "key", "x-api-key")


def raw_key_from(request: Request) -> str | None:
    """The key the client sent, or None when it sent none."""
    header = request.headers.get("x-api-key")
    if header:
        return header.strip()
    authorization = request.headers.get("Authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def _auth_failures(request: Request, *, increment: bool) -> dict[str, Any] | None:
    return get_usage(
        request._request,
        group=AUTH_FAILURE_GROUP,
        key="ip",
        rate=settings.BREACT_AUTH_FAILURE_RATE_LIMIT,
        increment=increment,
    )


def _too_many_failures(usage: dict[str, Any]) -> RateLimitExceeded:
    reset = max(int(usage["time_left"]), 1)
    window = parse_rate(settings.BREACT_AUTH_FAILURE_RATE_LIMIT)[1]
    return RateLimitExceeded(
        f"Too many failed authentication attempts from this address; retry in {reset} s.",
        details={"limit": usage["limit"], "remaining": 0, "window": window, "reset": reset},
        headers={
            "Retry-After": str(reset),
            "X-RateLimit-Limit": str(usage["limit"]),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(reset),
        },
    )


class ApiKeyAuthentication(BaseAuthentication):
    """Returns None when no key was sent (so the answer is MISSING_API_KEY), raises on a bad key."""

    def authenticate(self, request: Request) -> tuple[Any, ApiKey] | None:
        if any(name in request.query_params for name in QUERY_KEY_NAMES):
            raise Unauthorized("API keys are not accepted in the URL; send the x-api-key header.")
        raw_key = raw_key_from(request)
        if raw_key is None:
            return None
        usage = _auth_failures(request, increment=False)
        if usage and usage["should_limit"]:
            raise _too_many_failures(usage)
        try:
            key = api_key_verify(raw_key=raw_key)
        except Unauthorized:
            usage = _auth_failures(request, increment=True)
            if usage and usage["should_limit"]:
                raise _too_many_failures(usage) from None
            raise
        api_key_touch(api_key=key)
        request._request.api_key = key  # type: ignore[attr-defined]
        return key.account.owner, key

    def authenticate_header(self, request: Request) -> str:
        return 'ApiKey header="x-api-key"'
