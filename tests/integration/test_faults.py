"""Faults with real processes: the broker is unreachable; a worker dies mid-task."""

from __future__ import annotations

import os
import signal
import time
import uuid

import pytest

from accounts.models import LedgerEntry
from accounts.selectors import account_balance, ledger_total
from services.models import Process
from tests.integration.live import EXECUTE_PATH, LiveStack, poll_until_finished, wait_for
from tests.integration.slow_service import pid_file

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CLOSED_PORT_BROKER = "redis://127.0.0.1:1/0"


@pytest.fixture(scope="module")
def broker_down(live_stack, live_factory) -> LiveStack:
    """A server whose broker is a closed port; its health check answers 503."""
    env = {**live_stack.env, "CELERY_BROKER_URL": CLOSED_PORT_BROKER}
    stack = live_factory.stack(
        "broker-down", env, live_stack.var_dir, with_worker=False, web_workers=1, expect_health=503
    )
    assert stack.health["details"]["checks"]["broker"].startswith("error")
    assert stack.health["details"]["checks"]["database"] == "ok"
    return stack


def test_unreachable_broker_answers_503_and_charges_nothing(broker_down, make_key):
    key = make_key(credits=10)

    with broker_down.client(key.raw) as client:
        started = time.monotonic()
        response = client.post(EXECUTE_PATH, json={"text": "Nobody will run this."})
        elapsed = time.monotonic() - started

    assert response.status_code == 503, response.text
    assert elapsed < 5
    body = response.json()
    assert body["error"] == "SERVICE_UNAVAILABLE"
    assert int(response.headers["Retry-After"]) >= 1
    assert account_balance(account=key.account) == 10 == ledger_total(account=key.account)
    process = Process.objects.get(account=key.account)
    assert process.state == Process.State.ERROR
    assert process.error_code == "PROCESS_FAILED"
    movements = sorted(
        LedgerEntry.objects.filter(process=process).values_list("kind", "amount"),
    )
    assert movements == [(LedgerEntry.Kind.CHARGE, -1), (LedgerEntry.Kind.REFUND, 1)]


def test_worker_killed_mid_task_fails_the_process_and_refunds_once(live_stack, make_key):
    """acks_late + reject_on_worker_lost: the pool's parent requeues the task when its child
    dies, and the redelivered task finds the process `running` and fails it."""
    key = make_key(credits=10)
    marker = uuid.uuid4().hex
    pid_path = pid_file(live_stack.var_dir, marker)
    client = live_stack.client(key.raw)

    accepted = client.post("/api/v1/services/slow_test/sleep", json={"marker": marker})
    assert accepted.status_code == 202, accepted.text
    result_url = accepted.json()["result_url"]
    assert account_balance(account=key.account) == 8

    def running() -> bool:
        info = client.get(result_url).json()["process_info"]
        return info is not None and info["state"] == "running" and pid_path.exists()

    wait_for(running, timeout=20, what="the slow process to run")
    pool_pid = int(pid_path.read_text())
    assert pool_pid in live_stack.worker.pool_pids()  # a child of the worker's main process

    os.kill(pool_pid, signal.SIGKILL)
    final = poll_until_finished(client, result_url, timeout=30)
    client.close()

    assert final["status"] == "error"
    assert final["error"] == "PROCESS_FAILED"
    assert final["result"] is None
    process = Process.objects.get(public_id=accepted.json()["process_id"])
    assert process.state == Process.State.ERROR
    refunds = LedgerEntry.objects.filter(process=process, kind=LedgerEntry.Kind.REFUND)
    assert list(refunds.values_list("amount", flat=True)) == [2]
    assert account_balance(account=key.account) == 10 == ledger_total(account=key.account)
    assert live_stack.worker.process.alive()
    # The pool replaced its lost process.
    wait_for(
        lambda: (
            len(live_stack.worker.pool_pids()) == 2
            and pool_pid not in live_stack.worker.pool_pids()
        ),
        timeout=10,
        what="the pool to replace the killed process",
    )
