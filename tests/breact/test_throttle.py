"""Fixed-window counters: atomic hits, undo, clear, and an unreachable cache."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

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


# --- hit_all_if_current: one script for a request whose key is already known good -------------

READ_KEY = "throttle-test:value"  # a raw Redis key, as the hot cache's generation key is


@pytest.fixture
def raw_redis() -> Iterator[Any]:
    need_redis()
    from django.core.cache import cache

    client = cache.client.get_client(write=True)  # type: ignore[attr-defined]
    client.delete(READ_KEY)
    yield client
    client.delete(READ_KEY)


def _current(expect: str, counters: list[tuple[str, str, str]]) -> throttle.Guarded:
    guarded = throttle.hit_all_if_current(
        ("failures", "net", "2/m"), counters, read=READ_KEY, expect=expect
    )
    assert guarded is not None
    return guarded


def test_hit_all_if_current_counts_only_at_the_expected_value(still_rate_clock, raw_redis):
    moved = _current("not-yet-set", [("c", "k", "5/m")])  # creates the value: a random one
    current = _current(moved.value, [("c", "k", "5/m")])

    assert moved.hits == [] and moved.value != "not-yet-set"
    assert [h.count for h in current.hits] == [1]
    assert current.attempt.count == 1 and not current.attempt.over
    assert throttle.hit("c", "k", "5/m").count == 2


def test_hit_all_if_current_refuses_a_locked_out_client_and_changes_no_count(
    still_rate_clock, raw_redis
):
    value = _current("", [("c", "k", "5/m")]).value
    throttle.hit("failures", "net", "2/m")
    throttle.hit("failures", "net", "2/m")

    locked = _current(value, [("c", "k", "5/m")])

    assert locked.attempt.over and locked.attempt.count == 3 and locked.hits == []
    assert throttle.hit("failures", "net", "2/m").count == 3
    assert throttle.hit("c", "k", "5/m").count == 1


def test_hit_all_if_current_stops_after_the_first_counter_over_its_limit(
    still_rate_clock, raw_redis
):
    value = _current("", []).value
    counters = [("key", "k", "1/m"), ("account", "a", "5/m")]

    first, second = _current(value, counters), _current(value, counters)

    assert [h.count for h in first.hits] == [1, 1]
    assert [(h.count, h.over) for h in second.hits] == [(2, True)]
    assert throttle.hit("account", "a", "5/m").count == 2


def test_hit_all_if_current_is_none_without_redis(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

    assert throttle.hit_all_if_current(("f", "n", "2/m"), [], read=READ_KEY, expect="") is None


def test_hit_all_if_current_raises_throttle_unavailable_when_redis_is_down(cache_down):
    with pytest.raises(throttle.ThrottleUnavailable):
        throttle.hit_all_if_current(("f", "n", "2/m"), [], read=READ_KEY, expect="")
