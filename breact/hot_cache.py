"""Rows the hot API path reads on every call (the caller's key with its account and owner, the
endpoint's catalogue row), kept in each server process and checked against one generation value
in Redis instead of read from the database each time.

Every keyed request already makes a round trip to Redis before its key is checked (the
failed-authentication counter, breact.throttle.hit_reading): the generation is read in that same
script, so checking the cache costs nothing more. When the process already holds the key's row,
that one script also counts the rate limits, but only if the generation is still the row's
(breact.throttle.hit_all_if_current, accounts.auth). Any write that could change what the hot path
decides (a key revoked, rolled, limited or re-scoped, an account or user disabled, a price or
switch changed) sets a new generation, right away and again after its transaction commits (so a
request that re-read the old row between the two cannot keep it). The next request on every
server process then finds its entries stale and reads the database again: a revoked key fails
on the very next request, as without the cache.

The generation is a random value, never a counter, so a flushed Redis can never bring an old
value back. Entries also expire after BREACT_HOT_CACHE_SECONDS as a backstop (a generation write
lost to a Redis outage at the very moment of commit). Without Redis (the embedded default) there
is no shared generation and nothing is cached.

The values cached are read-only snapshots for the hot path's decisions (identity, scopes, limits,
spend cap presence, enabled flags, price); balances and spend counters are never taken from them.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import models, transaction
from django.db.models.signals import post_delete, post_save

logger = logging.getLogger(__name__)

GENERATION_KEY = "hot-cache:generation"
MAX_ENTRIES = 50_000

T = TypeVar("T")


def generation_key() -> str | None:
    """The Redis key holding the generation (with the cache's prefix), or None without Redis."""
    client = getattr(cache, "client", None)
    if client is None or not hasattr(client, "get_client"):
        return None
    return str(client.make_key(GENERATION_KEY))


def _generation_set() -> None:
    key = generation_key()
    if key is None:
        return
    try:
        cache.client.get_client(write=True).set(key, secrets.token_hex(12))  # type: ignore[attr-defined]
    except Exception:
        logger.exception("Could not renew the hot-path cache generation")


def generation_renew() -> None:
    """A write that changes what the hot path decides: renew the generation now and after the
    current transaction commits (at once when there is none)."""
    if generation_key() is None:
        return
    _generation_set()
    transaction.on_commit(_generation_set, robust=True)


class HotCache:
    """Entries valid for one generation and at most BREACT_HOT_CACHE_SECONDS. Shared by the
    threads of a process: one dict, replaced whole when it grows past MAX_ENTRIES."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._entries: dict[Any, tuple[str, float, Any]] = {}
        self._lock = threading.Lock()

    def get_or_load(self, key: Any, generation: str | None, load: Callable[[], T]) -> T:
        """The cached value of `key` for `generation`, else `load()` (cached when it returns).
        With no generation (no Redis) it always loads."""
        max_age = settings.BREACT_HOT_CACHE_SECONDS
        if generation is None or max_age <= 0:
            return load()
        entry = self._entries.get(key)
        now = time.monotonic()
        if entry is not None and entry[0] == generation and now - entry[1] < max_age:
            return entry[2]
        value = load()
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries = {}
            self._entries[key] = (generation, now, value)
        return value

    def peek(self, key: Any) -> tuple[str, Any] | None:
        """(generation, value) of `key`'s entry while it is younger than
        BREACT_HOT_CACHE_SECONDS, else None. No I/O: whether its generation is still the
        current one is the caller's to check (breact.throttle.hit_all_if_current)."""
        max_age = settings.BREACT_HOT_CACHE_SECONDS
        entry = self._entries.get(key)
        if entry is None or max_age <= 0 or time.monotonic() - entry[1] >= max_age:
            return None
        return entry[0], entry[2]

    def clear(self) -> None:
        with self._lock:
            self._entries = {}


class GenerationQuerySet(models.QuerySet[Any]):
    """A queryset whose bulk writes renew the generation unless they change only
    `hot_cache_ignored_fields` (balances, spend counters, last use): `update`, `bulk_update` and
    `delete` bypass the save signals `watch` connects."""

    hot_cache_ignored_fields: frozenset[str] = frozenset()

    def update(self, **kwargs: Any) -> int:
        if set(kwargs) - self.hot_cache_ignored_fields:
            generation_renew()
        return super().update(**kwargs)

    def bulk_update(self, objs: Any, fields: Any, batch_size: int | None = None) -> int:
        if set(fields) - self.hot_cache_ignored_fields:
            generation_renew()
        return super().bulk_update(objs, fields, batch_size=batch_size)

    def delete(self) -> tuple[int, dict[str, int]]:
        generation_renew()
        return super().delete()


def watch(model: type[models.Model]) -> None:
    """Renew the generation when a row of `model` is saved (unless only its queryset's
    ignored fields were saved) or deleted."""
    ignored: frozenset[str] = getattr(
        model._default_manager.get_queryset(), "hot_cache_ignored_fields", frozenset()
    )

    def saved(sender: Any, update_fields: Any = None, **kwargs: Any) -> None:
        if update_fields is not None and set(update_fields) <= ignored:
            return
        generation_renew()

    def deleted(sender: Any, **kwargs: Any) -> None:
        generation_renew()

    post_save.connect(saved, sender=model, weak=False, dispatch_uid=f"hot-cache-save-{model}")
    post_delete.connect(deleted, sender=model, weak=False, dispatch_uid=f"hot-cache-del-{model}")
