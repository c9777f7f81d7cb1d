"""Fixed-window counters: atomic hits, undo, clear, and an unreachable cache."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings as django_settings

from breact import throttle
from tests.integration.live import need_redis


def test_hits_count_up_and_go_over_the_limit(still_rate_clock):
    counts = [throttle.hit("t", "client-a", "3/m") for _ in range(5)]

    assert [h.count for h in counts] == [1, 2, 3, 4, 5]
    assert [h.over for h in counts] == [False, False, False, True, True]
    assert [h.remaining for h in counts] == [2, 1, 0, 0, 0]
    assert all(h.limit == 3 and h.window == 60 and 1 <= h.reset <= 60 for h in counts)


def test_scopes_identities_and_rates_count_apart(still_rate_clock):
    throttle.hit("t", "a", "3/m")

    assert throttle.hit("t", "b", "3/m").count == 1
    assert throttle.hit("u", "a", "3/m").count == 1
    assert throttle.hit("t", "a", "3/h").count == 1
    assert throttle.hit("t", "a", "3/m").count == 2


def test_undo_gives_a_hit_back(still_rate_clock):
    throttle.hit("t", "a", "3/m")
    throttle.undo(throttle.hit("t", "a", "3/m"))

    assert throttle.hit("t", "a", "3/m").count == 2


def test_undo_never_recreates_an_expired_counter(still_rate_clock):
    from django.core.cache import cache

    counted = throttle.hit("t", "a", "3/m")
    throttle.clear("t", "a", "3/m")

    throttle.undo(counted)

    assert cache.get(counted.cache_key) is None
    assert throttle.hit("t", "a", "3/m").count == 1


def test_the_window_moves_on(monkeypatch):
    from types import SimpleNamespace

    now = [1_700_000_000.0]
    monkeypatch.setattr(throttle, "time", SimpleNamespace(time=lambda: now[0]))
    first = throttle.hit("t", "a", "2/10s")
    now[0] += 10

    assert throttle.hit("t", "a", "2/10s").count == 1
    assert first.count == 1


def test_an_unreachable_cache_raises_throttle_unavailable(cache_down):
    with pytest.raises(throttle.ThrottleUnavailable):
        throttle.hit("t", "a", "3/m")


def test_undo_and_clear_survive_an_unreachable_cache(cache_down):
    counted = throttle.Hit(cache_key="throttle:x", count=1, limit=1, window=60, reset=60)

    throttle.undo(counted)
    throttle.clear("t", "a", "3/m")


@pytest.mark.parametrize("rate", ["lots", "60/M", "60/x", "0/m", "5/0m", ""])
def test_a_bad_rate_is_a_value_error(rate):
    with pytest.raises(ValueError):
        throttle.hit("t", "a", rate)


def test_parallel_hits_on_redis_get_distinct_counts(still_rate_clock):
    """The counter is one atomic INCR: 40 threads firing at once get the counts 1..40, so
    exactly `limit` of them are within it."""
    need_redis()
    assert django_settings.CACHES["default"]["BACKEND"] == "django_redis.cache.RedisCache"

    with ThreadPoolExecutor(max_workers=40) as pool:
        hits = list(pool.map(lambda _n: throttle.hit("race", "one", "5/m"), range(40)))

    assert sorted(h.count for h in hits) == list(range(1, 41))
    assert sum(not h.over for h in hits) == 5
