"""Celery tasks: thin wrappers that take ids and call an action."""

from __future__ import annotations

from celery import shared_task

from services import actions


@shared_task(acks_late=True, reject_on_worker_lost=True)
def run_process(process_pk: int) -> None:
    actions.process_run(process_pk=process_pk)


@shared_task
def purge_expired_results() -> int:
    return actions.results_purge()


@shared_task
def fail_stuck_processes() -> int:
    return actions.processes_fail_stuck()


@shared_task
def roll_up_usage() -> int:
    """Fold new request-log rows into the daily rollups until caught up (bounded per run)."""
    folded = 0
    for _ in range(20):
        count = actions.usage_rollup()
        folded += count
        if not count:
            break
    return folded
