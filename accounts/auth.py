"""API key authentication for the REST API (x-api-key header, or Authorization: Bearer)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from accounts.keys.actions import api_key_touch
from accounts.keys.selectors import api_key_cached, api_key_verify
from accounts.models import ApiKey
from breact import hot_cache, throttle
from breact.access_log import API_KEY_QUERY_NAMES
from breact.errors import Unauthorized

AUTH_FAILURE_SCOPE = "auth-failure"
QUERY_KEY_NAMES = API_KEY_QUERY_NAMES
KEY_IN_URL = (
    "API keys are not accepted in the URL, where logs and browser histories keep them. "
    "Send the key in the x-api-key header (or Authorization: Bearer), and replace this one: "
    "it may have been logged on the way."
)


def _locked_out(attempt: throttle.Hit) -> Exception:
    return attempt.exceeded(
        f"Too many failed authentication attempts from this address; retry in {attempt.reset} s."
    )


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


class ApiKeyAuthentication(BaseAuthentication):
    """Returns None when no key was sent (so the answer is MISSING_API_KEY), raises on a bad key.

    Failed authentications are limited per client network (BREACT_AUTH_FAILURE_RATE_LIMIT):
    each attempt is counted before its key is checked, atomically, and given back unless the
    key turns out wrong; so of many parallel guesses at most the limit are checked. An
    unreachable counter store answers 503 SERVICE_UNAVAILABLE (breact.throttle).

    A view whose `defers_auth_give_back` is true takes the give-back of a good key's attempt
    over: it finds the hit on `request.auth_attempt` and gives it back with its rate-limit
    hit, in one round trip (services.api.ratelimit). Other views get it back here.

    A view whose `hot_path` is true (execute, poll) reads the hot-path cache generation in the
    counter's round trip and may get its key from the process's cache (breact.hot_cache);
    `request.hot_cache_generation` keeps the generation for the view's other cached reads.
    When the process already holds a row that the key passes (api_key_cached), that round trip
    is the only one: see `_authenticate_cached`."""

    def authenticate(self, request: Request) -> tuple[Any, ApiKey] | None:
        if any(name in request.query_params for name in QUERY_KEY_NAMES):
            raise Unauthorized(KEY_IN_URL)
        raw_key = raw_key_from(request)
        if raw_key is None:
            return None
        view = (request.parser_context or {}).get("view")
        hot_path = getattr(view, "hot_path", False)
        checked: tuple[ApiKey, str | None] | None = None
        if hot_path:
            checked = self._authenticate_cached(request, view, raw_key)
        if checked is None:
            checked = self._authenticate_counted(request, view, raw_key, hot_path=hot_path)
        key, generation = checked
        api_key_touch(api_key=key)
        request._request.api_key = key  # type: ignore[attr-defined]
        request._request.hot_cache_generation = generation  # type: ignore[attr-defined]
        # The person the call acts for: who made the key, else the user the organisation was
        # made for (an organisation created later has none: then its key's maker always is).
        return key.created_by or key.account.owner, key

    def _authenticate_counted(
        self, request: Request, view: Any, raw_key: str, *, hot_path: bool
    ) -> tuple[ApiKey, str | None]:
        """Count the attempt, check the key, give the attempt back unless the key is wrong."""
        attempt, generation = throttle.hit_reading(
            AUTH_FAILURE_SCOPE,
            throttle.client_network(request._request),
            settings.BREACT_AUTH_FAILURE_RATE_LIMIT,
            read=hot_cache.generation_key() if hot_path else None,
        )
        if attempt.over:
            throttle.undo(attempt)  # refused unchecked: not a failure
            raise _locked_out(attempt)
        try:
            key = api_key_verify(raw_key=raw_key, generation=generation)
        except Unauthorized:
            raise  # a wrong key: the attempt stays counted
        except BaseException:
            throttle.undo(attempt)
            raise
        if getattr(view, "defers_auth_give_back", False):
            request._request.auth_attempt = attempt  # type: ignore[attr-defined]
        else:
            throttle.undo(attempt)
        return key, generation

    def _authenticate_cached(
        self, request: Request, view: Any, raw_key: str
    ) -> tuple[ApiKey, str] | None:
        """One round trip for a key whose row the process holds and that passes it now: one
        script reads the failure counter (a good key's attempt would be counted and given back:
        it is not counted at all), confirms the row's generation is still the current one and
        counts the view's rate limits, left on `request.rate_hits` for its check_throttles.
        None (the counted path) when the process holds no such row or nothing is counted
        without Redis.

        A locked-out network is refused as the counted path refuses it, with nothing counted.
        When the generation has moved (a key, account or price changed since the row was
        cached), nothing was counted either: the key is checked against the database (at the
        new generation), and the view counts its rate limits as usual; a key that no longer
        passes counts as a failed attempt, as it would have on the counted path."""
        cached = api_key_cached(raw_key=raw_key)
        read = hot_cache.generation_key()
        counters_of = getattr(view, "rate_limit_counters", None)
        if cached is None or read is None or counters_of is None:
            return None
        key, generation = cached
        if (key.created_by or key.account.owner) is None:
            return None  # refused by the permission check: no rate limit to count ahead
        failures = (
            AUTH_FAILURE_SCOPE,
            throttle.client_network(request._request),
            settings.BREACT_AUTH_FAILURE_RATE_LIMIT,
        )
        guarded = throttle.hit_all_if_current(
            failures, counters_of(key), read=read, expect=generation
        )
        if guarded is None:
            return None
        if guarded.attempt.over:
            raise _locked_out(guarded.attempt)
        if guarded.value == generation:
            request._request.rate_hits = guarded.hits  # type: ignore[attr-defined]
            return key, generation
        try:
            return api_key_verify(raw_key=raw_key, generation=guarded.value), guarded.value
        except Unauthorized:
            attempt = throttle.hit(*failures)  # the failure the counted path would have kept
            if attempt.over:
                throttle.undo(attempt)
                raise _locked_out(attempt) from None
            raise

    def authenticate_header(self, request: Request) -> str:
        return 'ApiKey header="x-api-key"'
