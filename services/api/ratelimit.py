"""API rate limits (breact.throttle counters in the cache) and their response headers.

Execute calls are counted per account, over all its keys (the account's rate_limit, else
BREACT_DEFAULT_RATE_LIMIT), and also per key when the key has a limit of its own; polls and
other reads per key (BREACT_POLL_RATE_LIMIT).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from accounts.models import Account, ApiKey
from breact import throttle

EXECUTE = "execute"
READ = "read"


def account_rate(account: Account) -> str:
    """The execute rate of the whole account: its own, else the platform default."""
    return account.rate_limit or settings.BREACT_DEFAULT_RATE_LIMIT


def execute_rate(api_key: ApiKey) -> str:
    """The key's own limit, else its account's (what /account shows as the key's limit)."""
    return api_key.rate_limit or account_rate(api_key.account)


@dataclass(frozen=True)
class _Counter:
    scope: str
    ident: str
    rate: str
    holder: str  # "key" or "account", for the message


def _counters(api_key: ApiKey, group: str) -> list[_Counter]:
    """The counters a request of `group` is held to, the key's first: a request its key
    refuses never uses up the account's allowance for the account's other keys."""
    if group != EXECUTE:
        return [_Counter("key-read", str(api_key.pk), settings.BREACT_POLL_RATE_LIMIT, "key")]
    counters = []
    if api_key.rate_limit:
        counters.append(_Counter("key-execute", str(api_key.pk), api_key.rate_limit, "key"))
    account_counter = _Counter(
        "account-execute", str(api_key.account_id), account_rate(api_key.account), "account"
    )
    return [*counters, account_counter]


def rate_limit_counters(*, api_key: ApiKey, group: str) -> list[tuple[str, str, str]]:
    """The (scope, ident, rate) of each counter a request of `group` is held to, in the order
    they are hit: what breact.throttle counts (accounts.auth counts them ahead, with the key's
    check, when the key's row is cached)."""
    return [(c.scope, c.ident, c.rate) for c in _counters(api_key, group)]


def rate_limit_check(*, api_key: ApiKey, group: str, hits: list[throttle.Hit]) -> throttle.Hit:
    """Raise RateLimitExceeded when one of `hits` (the counts of rate_limit_counters, in order)
    is over its limit; else return the hit that would refuse first (its headers go on the
    response)."""
    for counter, counted in zip(_counters(api_key, group), hits, strict=False):
        if counted.over:
            whose = "this key" if counter.holder == "key" else "this account (all its keys)"
            raise counted.exceeded(
                f"Rate limit of {counted.limit} requests per {counted.window} s exceeded for "
                f"{whose}; retry in {counted.reset} s."
            )
    return min(hits, key=lambda h: (h.remaining, h.limit))


def rate_limit_hit(
    *, api_key: ApiKey, group: str, give_back: throttle.Hit | None = None
) -> throttle.Hit:
    """Count this request against the limits of `group` (see the module docstring); raise
    RateLimitExceeded when over one. Returns the hit that would refuse first (its headers go on
    the response). `give_back` (the request's failed-authentication hit, see accounts.auth) is
    given back in the same round trip. The counters are shared by every server process through
    the cache (Redis); an unreachable cache raises ServiceUnavailable (503)."""
    hits = throttle.hit_all(rate_limit_counters(api_key=api_key, group=group), give_back=give_back)
    return rate_limit_check(api_key=api_key, group=group, hits=hits)
