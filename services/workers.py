"""Signs of life of the job runner: heartbeats written by workers and beat, and what the API,
the health check and the console say about them."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from celery import bootsteps
from celery.beat import PersistentScheduler
from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from services.models import Heartbeat, Process

logger = logging.getLogger(__name__)

# Rows of processes gone for this long are deleted by beat.
HEARTBEAT_KEEP = timedelta(days=1)


def heartbeat_record(*, role: str, name: str, started_at: datetime) -> None:
    """Write that `name` (a worker or beat) is alive now: one UPDATE, or an INSERT the first
    time. Never raises: a failed heartbeat must not stop a worker; it shows in health instead."""
    now = timezone.now()
    try:
        if not connection.in_atomic_block:
            close_old_connections()  # no request cycle here: drop a stale or closed connection
        updated = Heartbeat.objects.filter(role=role, name=name).update(seen_at=now)
        if not updated:
            Heartbeat.objects.update_or_create(
                role=role, name=name, defaults={"started_at": started_at, "seen_at": now}
            )
    except Exception:
        logger.exception("Could not record the %s heartbeat", role)
        connection.close()


def heartbeats_prune() -> int:
    """Delete the heartbeat rows of processes not seen for a day. Returns how many."""
    deleted, _ = Heartbeat.objects.filter(seen_at__lt=timezone.now() - HEARTBEAT_KEEP).delete()
    return deleted


def process_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# --- reads ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunnerStatus:
    """What the job runner looks like now. `*_seen_seconds` are ages of the newest heartbeat
    (None: never seen)."""

    workers_alive: int
    worker_seen_seconds: float | None
    beat_seen_seconds: float | None
    queued: int
    oldest_queued_seconds: float | None

    @property
    def worker_ok(self) -> bool:
        return self.workers_alive > 0

    @property
    def beat_ok(self) -> bool:
        return (
            self.beat_seen_seconds is not None
            and self.beat_seen_seconds <= settings.BREACT_HEARTBEAT_STALE_SECONDS
        )


def _age(now: datetime, moment: datetime | None) -> float | None:
    return None if moment is None else round(max(0.0, (now - moment).total_seconds()), 1)


def runner_status() -> RunnerStatus:
    """Heartbeats and the queue of waiting processes, in three small indexed reads."""
    now = timezone.now()
    fresh = now - timedelta(seconds=settings.BREACT_HEARTBEAT_STALE_SECONDS)
    workers = Heartbeat.objects.filter(role=Heartbeat.Role.WORKER)
    worker_seen = workers.order_by("-seen_at").values_list("seen_at", flat=True).first()
    beat_seen = (
        Heartbeat.objects.filter(role=Heartbeat.Role.BEAT)
        .order_by("-seen_at")
        .values_list("seen_at", flat=True)
        .first()
    )
    queued = Process.objects.filter(state=Process.State.QUEUED)
    oldest = queued.order_by("deadline_at").values_list("created_at", flat=True).first()
    return RunnerStatus(
        workers_alive=workers.filter(seen_at__gte=fresh).count() if worker_seen else 0,
        worker_seen_seconds=_age(now, worker_seen),
        beat_seen_seconds=_age(now, beat_seen),
        queued=queued.count() if oldest else 0,
        oldest_queued_seconds=_age(now, oldest),
    )


_cached: tuple[float, RunnerStatus] | None = None
_cache_lock = threading.Lock()


def runner_status_cached(max_age: float = 2.0) -> RunnerStatus:
    """runner_status(), read at most every `max_age` seconds per process while a worker is
    alive (the execute path and every console page ask). A missing worker is read again on
    every call, so executes resume the moment it is back."""
    global _cached
    now = time.monotonic()
    with _cache_lock:
        if _cached is not None and now - _cached[0] < max_age:
            return _cached[1]
    status = runner_status()
    with _cache_lock:
        _cached = (now, status) if status.worker_ok else None
    return status


def runner_status_forget() -> None:
    global _cached
    with _cache_lock:
        _cached = None


def worker_required() -> bool:
    """Whether executes need a live worker (BREACT_REQUIRE_WORKER, and not run inline)."""
    from breact.celery import app

    return bool(settings.BREACT_REQUIRE_WORKER) and not app.conf.task_always_eager


def workers_available() -> bool:
    """True when a worker has shown a sign of life recently, or none is required."""
    return not worker_required() or runner_status_cached().worker_ok


def describe_age(seconds: float | None) -> str:
    if seconds is None:
        return "never seen"
    return f"last seen {seconds:.0f} s ago"


# --- Celery hooks -----------------------------------------------------------------------------


class WorkerHeartbeat(bootsteps.StartStopStep):
    """A consumer step: while the worker is connected to the broker and consuming, it writes its
    heartbeat every BREACT_HEARTBEAT_SECONDS. When the connection is lost the consumer stops its
    steps, so the heartbeat stops too and health says the worker is missing."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.timer_ref: Any = None
        self.started_at = timezone.now()
        self.heartbeat_name = ""

    def start(self, parent: Any) -> None:
        self.heartbeat_name = f"{parent.hostname}:{os.getpid()}"
        self.beat()
        self.timer_ref = parent.timer.call_repeatedly(settings.BREACT_HEARTBEAT_SECONDS, self.beat)

    def stop(self, parent: Any) -> None:
        if self.timer_ref is not None:
            self.timer_ref.cancel()
            self.timer_ref = None

    shutdown = stop

    def beat(self) -> None:
        heartbeat_record(
            role=Heartbeat.Role.WORKER, name=self.heartbeat_name, started_at=self.started_at
        )


class BeatScheduler(PersistentScheduler):
    """Celery beat's scheduler with a heartbeat (at most every BREACT_HEARTBEAT_SECONDS) and a
    daily prune of old heartbeat rows."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.heartbeat_started = timezone.now()
        self.heartbeat_name = process_name()
        self.heartbeat_next = 0.0
        self.prune_next = 0.0

    def tick(self, *args: Any, **kwargs: Any) -> float:
        now = time.monotonic()
        if now >= self.heartbeat_next:
            self.heartbeat_next = now + settings.BREACT_HEARTBEAT_SECONDS
            heartbeat_record(
                role=Heartbeat.Role.BEAT,
                name=self.heartbeat_name,
                started_at=self.heartbeat_started,
            )
        if now >= self.prune_next:
            self.prune_next = now + 3600
            try:
                heartbeats_prune()
            except Exception:
                logger.exception("Could not prune old heartbeats")
        delay: float = super().tick(*args, **kwargs)
        return min(delay, float(settings.BREACT_HEARTBEAT_SECONDS))
