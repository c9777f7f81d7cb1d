"""Celery tasks: thin wrappers that take ids and call an action. Their names are fixed (`name=`),
so messages queued before a move of the code still find their task."""

from __future__ import annotations

from celery import shared_task

from services.execution.actions import process_run, processes_fail_stuck, results_purge
from services.usage.actions import (
    ledger_rollup,
    outcomes_rollup,
    usage_log_fold_all,
    usage_rollup,
)


@shared_task(name="services.tasks.run_process", acks_late=True, reject_on_worker_lost=True)
def run_process(process_pk: int) -> None:
    process_run(process_pk=process_pk)


@shared_task(name="services.tasks.purge_expired_results")
def purge_expired_results() -> int:
    return results_purge()


@shared_task(name="services.tasks.fail_stuck_processes")
def fail_stuck_processes() -> int:
    return processes_fail_stuck()


@shared_task(name="services.tasks.fold_usage_log")
def fold_usage_log() -> int:
    """Move the request-log rows buffered in Redis into the database (every second)."""
    return usage_log_fold_all()


@shared_task(name="services.tasks.roll_up_usage")
def roll_up_usage() -> int:
    """Fold new request-log rows, finished processes and ledger entries into their daily
    rollups until caught up (bounded per run)."""
    usage_log_fold_all()
    folded = 0
    for rollup in (usage_rollup, outcomes_rollup, ledger_rollup):
        for _ in range(20):
            count = rollup()
            folded += count
            if not count:
                break
    return folded
