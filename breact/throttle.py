"""Fixed-window counters in the cache (Redis in production), shared by every server process:
the API's rate limits, failed-authentication and log-in throttles, sign-up and reset limits.

Each hit is one atomic increment that returns the new count, so the count decides on its own:
of N parallel requests exactly `limit` see a count within the limit, however they interleave.
A caller that must count only failures (wrong passwords) hits first, checks, and gives the hit
back with `undo` when the attempt turns out fine or was refused unheard.

`hit_all` counts several counters, and may give one hit back first, in one round trip to Redis
(one Lua script, atomic): the API's rate limits and the failed-authentication give-back of the
same request cost one round trip, not three. `hit_all_if_current` goes further for a request
whose key is already known good: it reads the failure counter instead of counting it, and counts
the rate limits in the same script.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import secrets
import time
import zlib
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest

from accounts.rates import parse_rate
from breact.errors import RateLimitExceeded, ServiceUnavailable
from breact.http import client_ip

logger = logging.getLogger(__name__)

# Counters outlive their window by this much, so a late read never finds a fresh zero.
EXPIRY_FUDGE_SECONDS = 5
# IPv6 clients usually hold a whole /64: count them as one.
IPV6_PREFIX = 64


class ThrottleUnavailable(ServiceUnavailable):
    """The counter store (the cache) cannot be reached: nothing can be counted, so nothing is
    let through."""

    default_message = (
        "The rate-limit store is unreachable, so the request was refused; nothing was charged. "
        "Retry shortly."
    )


@dataclass(frozen=True)
class Hit:
    """One counted request: the window's count including it, and the limit it is held to."""

    cache_key: str
    count: int
    limit: int
    window: int  # seconds per window
    reset: int  # seconds until the window ends (>= 1)

    @property
    def over(self) -> bool:
        return self.count > self.limit

    @property
    def remaining(self) -> int:
        return max(self.limit - self.count, 0)

    def headers(self) -> dict[str, str]:
        """The X-RateLimit-* response headers of this counter."""
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }

    def exceeded(self, message: str) -> RateLimitExceeded:
        """The 429 for a hit over its limit: the contract's details, rate-limit headers and
        Retry-After."""
        return RateLimitExceeded(
            message,
            details={
                "limit": self.limit,
                "remaining": 0,
                "window": self.window,
                "reset": self.reset,
            },
            headers={**self.headers(), "Retry-After": str(self.reset)},
        )


def _cache_key(scope: str, ident: str, rate: str) -> tuple[str, int, int, int]:
    """(cache key, limit, window seconds, seconds left) for the current window of `ident`.
    Windows are aligned to the epoch plus a per-identity offset, so the counters of many
    clients do not all restart in the same second."""
    limit, period = parse_rate(rate)
    digest = hashlib.sha256(f"{scope}\0{ident}".encode()).hexdigest()[:32]
    offset = zlib.crc32(digest.encode()) % period
    now = int(time.time())
    index = (now - offset) // period
    reset = max((index + 1) * period + offset - now, 1)
    return f"throttle:{scope}:{limit}/{period}:{digest}:{index}", limit, period, reset


def _increment(key: str, ttl: int) -> int:
    """INCR with expiry: increment an existing counter, else create it at 1 with `ttl`. Both
    steps are atomic on Redis (and locmem), so concurrent callers get distinct counts."""
    for _ in range(3):
        try:
            return int(cache.incr(key))
        except ValueError:  # no counter in this window yet (or it just expired)
            if cache.add(key, 1, timeout=ttl):
                return 1
    raise RuntimeError(f"The counter {key} could neither be incremented nor created.")


def hit(scope: str, ident: str, rate: str) -> Hit:
    """Count one request of `ident` under `rate` (such as 60/m) in `scope`; the returned Hit
    says whether it is over the limit. Raises ThrottleUnavailable when the cache is down."""
    key, limit, period, reset = _cache_key(scope, ident, rate)
    try:
        count = _increment(key, reset + EXPIRY_FUDGE_SECONDS)
    except Exception as exc:
        raise ThrottleUnavailable() from exc
    return Hit(cache_key=key, count=count, limit=limit, window=period, reset=reset)


# KEYS[1]: a counter to hit, ARGV[1] its expiry; KEYS[2]: a value to read in the same round trip,
# set to ARGV[2] first when it does not exist (so it is never missing). Returns {count, value}.
_HIT_READING_LUA = """
local count = redis.call("INCR", KEYS[1])
if count == 1 then
  redis.call("EXPIRE", KEYS[1], ARGV[1])
end
redis.call("SET", KEYS[2], ARGV[2], "NX")
return {count, redis.call("GET", KEYS[2])}
"""


def hit_reading(scope: str, ident: str, rate: str, *, read: str | None) -> tuple[Hit, str | None]:
    """`hit`, and the value of the raw Redis key `read` in the same round trip (created with a
    random value when missing): the API's failed-authentication counter and the hot-path cache
    generation (breact.hot_cache). Without Redis (or `read`), `hit` alone and None."""
    client = _redis_client()
    if client is None or read is None:
        return hit(scope, ident, rate), None
    key, limit, period, reset = _cache_key(scope, ident, rate)
    try:
        count, value = client.get_client(write=True).eval(
            _HIT_READING_LUA,
            2,
            str(client.make_key(key)),
            read,
            reset + EXPIRY_FUDGE_SECONDS,
            secrets.token_hex(12),
        )
    except Exception as exc:
        raise ThrottleUnavailable() from exc
    generation = value.decode() if isinstance(value, bytes) else str(value)
    return Hit(cache_key=key, count=int(count), limit=limit, window=period, reset=reset), generation


def _hits_lua(first: int, into: str) -> str:
    """The Lua loop both scripts below end with: hit KEYS[first..n] in order (ARGV[2i-2] and
    ARGV[2i-1] the limit and expiry of KEYS[i]), each count appended to the table `into`,
    stopping after the first counter over its limit; returns `into`."""
    return f"""
for i = {first}, #KEYS do
  local count = redis.call("INCR", KEYS[i])
  if count == 1 then
    redis.call("EXPIRE", KEYS[i], ARGV[2 * i - 1])
  end
  {into}[#{into} + 1] = count
  if count > tonumber(ARGV[2 * i - 2]) then
    break
  end
end
return {into}
"""


# KEYS[1]: the counter to give a hit back to when ARGV[1] is "1" (never re-created: a counter
# that expired stays gone); KEYS[2..n]: the counters to hit, in order, ARGV[2i-2] and ARGV[2i-1]
# the limit and expiry of KEYS[i]. A counter is created at 1 with its expiry, as `_increment`
# does; the counting stops after the first counter over its limit (the later ones are not
# used up by a refused request). Returns the counts.
_HIT_ALL_LUA = """
if ARGV[1] == "1" and redis.call("EXISTS", KEYS[1]) == 1 then
  redis.call("DECR", KEYS[1])
end
local counts = {}
""" + _hits_lua(2, "counts")


def _redis_client() -> Any | None:
    """The raw redis-py client behind the cache when it is django-redis, else None."""
    client = getattr(cache, "client", None)
    if client is None or not hasattr(client, "get_client"):
        return None
    return client


def hit_all(counters: list[tuple[str, str, str]], *, give_back: Hit | None = None) -> list[Hit]:
    """Give `give_back` back (see `undo`), then count one request on each (scope, ident, rate)
    in order, stopping after the first one over its limit; returns the hits counted. On Redis
    this is one round trip (one atomic script); on other caches, `undo` and `hit` one by one.
    Raises ThrottleUnavailable when the cache is down."""
    windows = [_cache_key(scope, ident, rate) for scope, ident, rate in counters]
    client = _redis_client()
    if client is None:
        if give_back is not None:
            undo(give_back)
        hits = []
        for scope, ident, rate in counters:
            hits.append(hit(scope, ident, rate))
            if hits[-1].over:
                break
        return hits
    keys = [give_back.cache_key if give_back else windows[0][0], *(w[0] for w in windows)]
    args: list[Any] = ["1" if give_back else "0"]
    for _, limit, _, reset in windows:
        args += [limit, reset + EXPIRY_FUDGE_SECONDS]
    try:
        redis = client.get_client(write=True)
        counts = redis.eval(
            _HIT_ALL_LUA, len(keys), *(str(client.make_key(k)) for k in keys), *args
        )
    except Exception as exc:
        raise ThrottleUnavailable() from exc
    return [
        Hit(cache_key=key, count=int(count), limit=limit, window=period, reset=reset)
        for (key, limit, period, reset), count in zip(windows, counts, strict=False)
    ]


# KEYS[1]: a failure counter, read and never changed; KEYS[2]: a value to read, set to ARGV[2]
# first when it does not exist; KEYS[3..n]: the counters to hit as in _HIT_ALL_LUA, ARGV[2i-2]
# and ARGV[2i-1] the limit and expiry of KEYS[i]. Only when the failure counter has room for one
# more (count + 1 <= ARGV[1], what an INCR-then-check would allow) and the value is ARGV[3] are
# the counters hit. Returns {failures, value, counts...}: no counts when nothing was hit.
_HIT_ALL_IF_CURRENT_LUA = """
local failures = tonumber(redis.call("GET", KEYS[1]) or "0")
redis.call("SET", KEYS[2], ARGV[2], "NX")
local value = redis.call("GET", KEYS[2])
local result = {failures, value}
if failures + 1 > tonumber(ARGV[1]) or value ~= ARGV[3] then
  return result
end
""" + _hits_lua(3, "result")


@dataclass(frozen=True)
class Guarded:
    """What `hit_all_if_current` found, and the hits it counted (none when it counted none)."""

    attempt: Hit  # the failure counter as a hit would have counted it; never counted
    value: str
    hits: list[Hit]


def hit_all_if_current(
    failures: tuple[str, str, str],
    counters: list[tuple[str, str, str]],
    *,
    read: str,
    expect: str,
) -> Guarded | None:
    """`hit_all(counters)` in one round trip, but only when the failure counter `failures`
    (scope, ident, rate) has room for one more attempt and the raw Redis key `read` (created
    with a random value when missing, as in `hit_reading`) holds `expect`; otherwise nothing is
    counted. The failure counter is only read: `attempt` is the hit an increment would have
    returned, so `attempt.over` is what `hit_reading` would have decided. For a request whose
    credentials are already known good (accounts.auth): today's count-then-give-back of its
    attempt would leave the counter as it found it. None without Redis. Raises
    ThrottleUnavailable when the cache is down."""
    client = _redis_client()
    if client is None:
        return None
    key, limit, period, reset = _cache_key(*failures)
    windows = [_cache_key(scope, ident, rate) for scope, ident, rate in counters]
    keys = [key, read, *(w[0] for w in windows)]
    args: list[Any] = [limit, secrets.token_hex(12), expect]
    for _, counter_limit, _, counter_reset in windows:
        args += [counter_limit, counter_reset + EXPIRY_FUDGE_SECONDS]
    try:
        failed, value, *counts = client.get_client(write=True).eval(
            _HIT_ALL_IF_CURRENT_LUA,
            len(keys),
            str(client.make_key(key)),
            read,
            *(str(client.make_key(k)) for k in keys[2:]),
            *args,
        )
    except Exception as exc:
        raise ThrottleUnavailable() from exc
    attempt = Hit(cache_key=key, count=int(failed) + 1, limit=limit, window=period, reset=reset)
    hits = [
        Hit(cache_key=k, count=int(count), limit=lim, window=per, reset=res)
        for (k, lim, per, res), count in zip(windows, counts, strict=False)
    ]
    return Guarded(
        attempt=attempt,
        value=value.decode() if isinstance(value, bytes) else str(value),
        hits=hits,
    )


def undo(counted: Hit) -> None:
    """Give back a counted hit. Best effort: a counter that expired meanwhile is left alone
    (never re-created without an expiry), and an unreachable cache only costs one count."""
    try:
        cache.decr(counted.cache_key)
    except ValueError:
        pass
    except Exception:
        logger.warning("Could not give back a hit on %s", counted.cache_key, exc_info=True)


def clear(scope: str, ident: str, rate: str) -> None:
    """Forget the current window's count of `ident` (best effort, like `undo`)."""
    key = _cache_key(scope, ident, rate)[0]
    try:
        cache.delete(key)
    except Exception:
        logger.warning("Could not clear %s", key, exc_info=True)


def client_network(request: HttpRequest) -> str:
    """The identity per-IP counters use: the client's address (see breact.http.client_ip),
    its /64 for IPv6, or "unknown" (one shared counter) when there is no valid address."""
    address = client_ip(request)
    if address is None:
        return "unknown"
    if ":" in address:
        network = ipaddress.ip_network(f"{address}/{IPV6_PREFIX}", strict=False)
        return str(network.network_address)
    return address
