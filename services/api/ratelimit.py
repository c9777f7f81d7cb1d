"""Per-key rate limits (django-ratelimit counters in the cache) and their response headers."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage

from accounts.models import ApiKey
from accounts.rates import parse_rate
from breact.errors import RateLimitExceeded, ServiceUnavailable

EXECUTE = "execute"
READ = "read"


@dataclass(frozen=True)
class RateState:
    limit: int
    remaining: int
    reset: int
    window: int

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }


def execute_rate(api_key: ApiKey) -> str:
    """The key's own limit, else its account's, else the platform default."""
    return api_key.rate_limit or api_key.account.rate_limit or settings.BREACT_DEFAULT_RATE_LIMIT


def rate_for(api_key: ApiKey, group: str) -> str:
    return execute_rate(api_key) if group == EXECUTE else settings.BREACT_POLL_RATE_LIMIT


def _window_seconds(rate: str) -> int:
    return parse_rate(rate)[1]


def rate_limit_hit(request: HttpRequest, *, api_key: ApiKey, group: str) -> RateState:
    """Count this request against the key's limit for `group`; raise RateLimitExceeded when
    over it. The counter is shared by every server process through the cache (Redis)."""
    rate = rate_for(api_key, group)
    try:
        usage = get_usage(
            request,
            group=f"key-{group}",
            key=lambda _group, _request: str(api_key.pk),
            rate=rate,
            increment=True,
        )
    except Exception as exc:  # the cache (Redis) is down
        raise ServiceUnavailable("The rate-limit store is unreachable; retry shortly.") from exc
    if usage is None:  # RATELIMIT_ENABLE is off
        return RateState(limit=0, remaining=0, reset=0, window=0)
    if usage["time_left"] < 0:
        raise ServiceUnavailable("The rate-limit store is unreachable; retry shortly.")
    reset = max(int(usage["time_left"]), 1)
    state = RateState(
        limit=int(usage["limit"]),
        remaining=max(int(usage["limit"]) - int(usage["count"]), 0),
        reset=reset,
        window=_window_seconds(rate),
    )
    if usage["should_limit"]:
        raise RateLimitExceeded(
            f"Rate limit of {state.limit} requests per {state.window} s exceeded for this key; "
            f"retry in {reset} s.",
            details={"limit": state.limit, "remaining": 0, "window": state.window, "reset": reset},
            headers={**state.headers(), "Retry-After": str(reset)},
        )
    return state
