"""The Celery app; configuration comes from Django settings (CELERY_* names)."""

import os

from celery import Celery
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
