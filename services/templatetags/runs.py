"""`{% load runs %}`: a run's one status (services.usage.figures.run_status) as a label and a
badge class: `{{ process|run_label }}`, `{{ process|run_badge }}`."""

from __future__ import annotations

from django import template

from services.models import Process
from services.usage.figures import RUN_STATUSES, run_status

register = template.Library()


@register.filter
def run_label(process: Process) -> str:
    return RUN_STATUSES.get(run_status(process), (str(process.state), ""))[0]


@register.filter
def run_badge(process: Process) -> str:
    return RUN_STATUSES.get(run_status(process), ("", ""))[1]
