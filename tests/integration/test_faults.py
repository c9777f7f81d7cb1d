"""Faults with real processes: the broker is unreachable; a worker dies mid-task."""

from __future__ import annotations

import os
import signal
import time
import uuid

import pytest

from accounts.ledger.selectors import account_balance, ledger_total
from accounts.models import LedgerEntry
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


# --- the Redis broker goes away while a task runs, then comes back ----------------------------


class PrivateRedis:
    """A redis-server of this test's own on a free port, to stop and start at will (the shared
    one on 6379 serves everyone else)."""

    def __init__(self, log_dir) -> None:
        from tests.integration.live import free_port

        self.port = free_port()
        self.log_dir = log_dir
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import shutil

        from tests.integration.live import LiveProcess

        if shutil.which("redis-server") is None:
            from tests.support import skip_or_fail

            skip_or_fail("redis-server is not installed")
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--save", "", "--appendonly", "no"]
        self.process = LiveProcess.spawn(f"redis-{self.port}", argv, os.environ, self.log_dir)
        import redis

        wait_for(
            lambda: _pings(redis.Redis.from_url(self.url, socket_connect_timeout=0.5)),
            timeout=10,
            what="the private redis-server",
        )

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate(signal.SIGKILL)
            self.process.reap()
            self.process = None


def _pings(client) -> bool:
    try:
        return bool(client.ping())
    except Exception:
        return False


@pytest.fixture
def private_redis(live_env):
    server = PrivateRedis(live_env.log_dir)
    server.start()
    yield server
    server.stop()


def test_worker_and_beat_survive_a_redis_broker_outage_with_a_task_in_flight(
    live_stack, live_factory, private_redis, make_key
):
    from services.management.commands.serve import celery_argv
    from tests.integration.live import LiveProcess

    env = {
        **live_stack.env,
        "REDIS_URL": private_redis.url,
        "CELERY_BROKER_URL": private_redis.url,
        "BREACT_HEARTBEAT_SECONDS": "1",
        "BREACT_HEARTBEAT_STALE_SECONDS": "4",
    }
    stack = live_factory.stack("redis-outage", env, live_stack.var_dir, web_workers=1)
    schedule = str(live_stack.var_dir / f"beat-{private_redis.port}")
    beat = LiveProcess.spawn(
        "redis-outage-beat", celery_argv("beat", "--schedule", schedule), env, live_stack.var_dir
    )
    try:
        key = make_key(credits=10)
        client = stack.client(key.raw)
        wait_for(
            lambda: client.get("/api/v1/health").json().get("status") == "ok",
            timeout=30,
            what="worker and beat heartbeats",
        )
        marker = uuid.uuid4().hex
        accepted = client.post(
            "/api/v1/services/slow_test/sleep", json={"marker": marker, "seconds": 4}
        )
        assert accepted.status_code == 202, accepted.text
        wait_for(pid_file(live_stack.var_dir, marker).exists, timeout=20, what="the call to run")

        private_redis.stop()  # the broker (and cache) vanish while the call runs
        down = client.get("/api/v1/health")
        assert down.status_code == 503
        assert down.json()["details"]["checks"]["broker"].startswith("error")
        time.sleep(6)  # the call finishes meanwhile; the worker keeps trying to reconnect
        private_redis.start()

        wait_for(
            lambda: client.get("/api/v1/health").json().get("status") == "ok",
            timeout=60,
            what="the worker and beat to come back",
        )
        assert stack.worker.process.alive()
        assert beat.alive()
        assert "Unrecoverable error" not in stack.worker.process.log()
        final = poll_until_finished(client, accepted.json()["result_url"], timeout=30)
        assert final["status"] == "completed"
        process = Process.objects.get(public_id=accepted.json()["process_id"])
        assert list(LedgerEntry.objects.filter(process=process).values_list("kind", "amount")) == [
            (LedgerEntry.Kind.CHARGE, -2)
        ]
        again = client.post(EXECUTE_PATH, json={"text": "After the outage."})
        assert again.status_code == 202, again.text
        assert poll_until_finished(client, again.json()["result_url"])["status"] == "completed"
        assert account_balance(account=key.account) == 7 == ledger_total(account=key.account)
        client.close()
    finally:
        beat.terminate(signal.SIGKILL)
        beat.reap()
