"""The Celery app; configuration comes from Django settings (CELERY_* names)."""

import os
import time
from typing import Any

from celery import Celery, Task
from celery.signals import task_postrun, task_prerun, worker_init, worker_process_init
from kombu.transport import TRANSPORT_ALIASES

# The embedded broker (no server): CELERY_BROKER_URL=embedded:// (see breact/broker.py).
TRANSPORT_ALIASES.setdefault("embedded", "breact.broker:Transport")

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "breact.settings")

app = Celery("breact")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(["services.webhooks"])
# While the consumer is connected, the worker writes a heartbeat (health, execute refusals).
app.steps["consumer"].add("services.workers:WorkerHeartbeat")


@app.on_after_configure.connect
def _ensure_broker_folders(sender: Celery, **kwargs: object) -> None:
    """The embedded broker needs its folders before the first message."""
    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "control_folder", "processed_folder"):
        folder = options.get(key)
        if folder:
            os.makedirs(folder, exist_ok=True)


# A connection a task used this recently is not checked again before the next task's first
# query (see _check_kept_connections): back-to-back tasks skip a SELECT 1 each.
RECENTLY_USED_SECONDS = 1.0


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(sender: Task | None = None, signal: Any = None, **kwargs: Any) -> None:
    """Around each task, what Django does around each request: close the database connections
    that are past CONN_MAX_AGE or broke, keep the others (settings.CELERY_DB_REUSE_MAX stops
    Celery's fixup from closing them all). Not for eager tasks: they run inside the caller's
    request or transaction."""
    if sender is not None and getattr(sender.request, "is_eager", False):
        return
    from django.db import close_old_connections, connections

    close_old_connections()
    now = time.monotonic()
    for connection in connections.all(initialized_only=True):
        if connection.connection is None:
            continue
        if signal is task_postrun:
            connection.task_ended_at = now  # type: ignore[attr-defined]
        elif now - getattr(connection, "task_ended_at", float("-inf")) < RECENTLY_USED_SECONDS:
            connection.health_check_done = True  # type: ignore[attr-defined]


@worker_process_init.connect
def _check_kept_connections(**kwargs: Any) -> None:
    """In the worker's processes, a kept connection is checked (one SELECT 1) before a task's
    first query when it has been idle for RECENTLY_USED_SECONDS or more: a connection that
    broke while the worker idled (the database restarted) is replaced instead of failing a
    task the customer has paid for. A connection a task finished with less than that ago is
    taken as it is; should the database have restarted in that second, the task's claim fails
    and the process, still queued, is failed and refunded at its deadline. The web server does
    without (settings.py): a client sees its failed request and retries."""
    from django.db import connections

    for alias in connections:
        connections[alias].settings_dict["CONN_HEALTH_CHECKS"] = True


@worker_init.connect
def _warm_up_engines(**kwargs: Any) -> None:
    """Before the pool starts: the local engines' data loaded once, shared by the forked pool
    processes, so the first call of a kind is as fast as the next."""
    from services.engines.warm import engines_warm_up

    engines_warm_up()
