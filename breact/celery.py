"""The Celery app; configuration comes from Django settings (CELERY_* names)."""

import os
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


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(sender: Task | None = None, **kwargs: Any) -> None:
    """Around each task, what Django does around each request: close the database connections
    that are past CONN_MAX_AGE or broke, keep the others (settings.CELERY_DB_REUSE_MAX stops
    Celery's fixup from closing them all). Not for eager tasks: they run inside the caller's
    request or transaction."""
    if sender is not None and getattr(sender.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()


@worker_process_init.connect
def _check_kept_connections(**kwargs: Any) -> None:
    """In the worker's processes, a kept connection is checked (one SELECT 1) before a task's
    first query: a connection that broke while the worker idled (the database restarted) is
    replaced instead of failing a task the customer has paid for. The web server does without
    (settings.py): a client sees its failed request and retries."""
    from django.db import connections

    for alias in connections:
        connections[alias].settings_dict["CONN_HEALTH_CHECKS"] = True


@worker_init.connect
def _warm_up_engines(**kwargs: Any) -> None:
    """Before the pool starts: the local engines' data loaded once, shared by the forked pool
    processes, so the first call of a kind is as fast as the next."""
    from services.engines.warm import engines_warm_up

    engines_warm_up()
