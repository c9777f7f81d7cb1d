"""Template context for every console page."""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest

from services.workers import runner_status_cached, worker_required

logger = logging.getLogger(__name__)


def runner(request: HttpRequest) -> dict[str, Any]:
    """`runner_down` (a RunnerStatus) while no worker is taking jobs, for the banner in
    base.html; nothing for visitors who are not signed in."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not worker_required():
        return {}
    try:
        status = runner_status_cached(max_age=3.0)
    except Exception:  # a page must still render (the health check reports the cause)
        logger.exception("Could not read the job runner's status")
        return {}
    return {} if status.worker_ok else {"runner_down": status}
