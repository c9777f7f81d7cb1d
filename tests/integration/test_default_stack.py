"""The default stack (`make run`: SQLite, the embedded broker, `manage.py serve`) under sustained
use, with its worker or beat killed, its worker paused, and after a crash of everything."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest
from breactsdk import create_client

from tests.integration.default_stack import DefaultStack
from tests.integration.live import poll_until_finished, wait_for
from tests.integration.slow_service import pid_file

pytestmark = pytest.mark.integration

ENDURANCE_CALLS = int(os.environ.get("BREACT_ENDURANCE_CALLS", "2000"))
ENDURANCE_CLIENTS = 8


@pytest.fixture(scope="module")
def log_dir(live_env) -> Path:
    return live_env.log_dir


@pytest.fixture
def stack(tmp_path, log_dir):
    started = DefaultStack.start(
        tmp_path / "var", log_dir, BREACT_HEARTBEAT_SECONDS="1", BREACT_HEARTBEAT_STALE_SECONDS="4"
    )
    yield started
    started.stop()


def ledger(stack: DefaultStack, process_id: str) -> list[tuple[str, int]]:
    return sorted(
        stack.rows(
            "SELECT l.kind, l.amount FROM accounts_ledgerentry l "
            "JOIN services_process p ON p.id = l.process_id WHERE p.public_id = ?",
            process_id,
        )
    )


def run_process_messages(var_dir: Path) -> list[Path]:
    """The embedded broker's message files (queued or claimed) that run a process."""
    found = []
    for path in (var_dir / "broker").rglob("*.msg"):
        try:
            headers = json.loads(path.read_text()).get("headers", {})
        except FileNotFoundError:  # consumed (beat's own tasks come and go) between list and read
            continue
        if headers.get("task") == "services.tasks.run_process":
            found.append(path)
    return found


def serve_lines(stack: DefaultStack) -> list[str]:
    return [line for line in stack.serve.log().splitlines() if line.startswith("[serve ")]


def test_thousands_of_sdk_calls_from_eight_clients_all_complete(tmp_path, log_dir, monkeypatch):
    """Sustained use of the embedded default through the official SDK: every call completes,
    no child of serve ever exits, and the books reconcile."""
    stack = DefaultStack.start(
        tmp_path / "var",
        log_dir,
        BREACT_POLL_RATE_LIMIT="1000000/m",
        BREACT_DEFAULT_RATE_LIMIT="1000000/m",
    )
    try:
        key = stack.create_key(credits=ENDURANCE_CALLS + 5)
        pids_before = stack.pids()
        monkeypatch.setenv("BREACT_POLL_INTERVAL", "0.02")
        monkeypatch.setenv("BREACT_TIMEOUT", "60")
        outcomes: Counter[str] = Counter()
        failures: list[str] = []
        lock = threading.Lock()

        def client_loop(client_no: int) -> None:
            with create_client(api_key=key, base_url=stack.url) as client:
                for i in range(client_no, ENDURANCE_CALLS, ENDURANCE_CLIENTS):
                    words = 1 + i % 7
                    try:
                        body = client.text_analyzer.analyze(text=" ".join(["call"] * words) + ".")
                        ok = body["status"] == "success" and body["result"]["word_count"] == words
                        if not ok:
                            with lock:
                                failures.append(f"call {i}: {body!r}")
                    except Exception as exc:  # recorded, then asserted on below
                        ok = False
                        with lock:
                            failures.append(f"call {i}: {exc!r}")
                    with lock:
                        outcomes["ok" if ok else "bad"] += 1

        started = time.monotonic()
        threads = [
            threading.Thread(target=client_loop, args=(n,)) for n in range(ENDURANCE_CLIENTS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=1800)
        elapsed = time.monotonic() - started
        print(
            f"\nendurance: {ENDURANCE_CALLS} calls from {ENDURANCE_CLIENTS} SDK clients in "
            f"{elapsed:.1f} s ({ENDURANCE_CALLS / elapsed:.1f} calls/s)"
        )

        assert failures == []
        assert outcomes == Counter({"ok": ENDURANCE_CALLS})
        states = dict(stack.rows("SELECT state, COUNT(*) FROM services_process GROUP BY state"))
        assert states == {"completed": ENDURANCE_CALLS}
        assert stack.pids() == pids_before  # no restart: nothing crashed
        assert not [line for line in serve_lines(stack) if "restarting" in line]
        assert "Unrecoverable error" not in stack.serve.log()
        broker = stack.var_dir / "broker"
        assert os.listdir(broker / "queue") == []
        assert not (broker / "corrupt").exists()
        account = httpx.get(f"{stack.url}/api/v1/account", headers={"x-api-key": key}).json()
        assert account["balance"] == 5
        reconcile = stack.manage("reconcile")
        assert reconcile.returncode == 0, reconcile.stdout + reconcile.stderr
    finally:
        stack.stop()


def test_a_killed_worker_is_restarted_and_its_call_failed_and_refunded_once(stack):
    key = stack.create_key(credits=20)
    client = httpx.Client(base_url=stack.url, headers={"x-api-key": key}, timeout=10)
    marker = uuid.uuid4().hex
    accepted = client.post("/api/v1/services/slow_test/sleep", json={"marker": marker})
    assert accepted.status_code == 202, accepted.text
    process_id = accepted.json()["process_id"]
    result_url = accepted.json()["result_url"]
    wait_for(pid_file(stack.var_dir, marker).exists, timeout=20, what="the slow call to run")
    old_worker = stack.pids()["worker"]

    os.kill(old_worker, signal.SIGKILL)
    killed_at = time.monotonic()
    answers = []
    while stack.pids()["worker"] == old_worker or len(answers) < 5:
        answers.append(client.get("/api/v1/services").status_code)  # the web keeps answering
        time.sleep(0.1)
    new_worker = stack.pids()["worker"]

    def new_heartbeat() -> bool:
        return bool(
            stack.rows("SELECT 1 FROM services_heartbeat WHERE name LIKE ?", f"%:{new_worker}")
        )

    wait_for(new_heartbeat, timeout=60, what="the new worker's heartbeat")
    restart_seconds = time.monotonic() - killed_at
    print(f"\nworker restart under serve: {restart_seconds:.1f} s from SIGKILL to a heartbeat")

    final = poll_until_finished(client, result_url, timeout=60)
    assert set(answers) == {200}
    assert final["status"] == "error"
    assert final["error"] == "PROCESS_FAILED"
    assert ledger(stack, process_id) == [("charge", -2), ("refund", 2)]
    line = next(line for line in serve_lines(stack) if "was killed by SIGKILL" in line)
    assert f"the worker (pid {old_worker})" in line
    assert "restarting it in" in line and "restart 1 in the last 10 minutes" in line
    # The next calls complete on the new worker.
    for n in range(3):
        again = client.post("/api/v1/services/text_analyzer/analyze", json={"text": f"Again {n}."})
        assert again.status_code == 202, again.text
        assert poll_until_finished(client, again.json()["result_url"])["status"] == "completed"
    assert client.get("/api/v1/account").json()["balance"] == 17
    client.close()
    assert stack.manage("reconcile").returncode == 0


def test_a_killed_beat_comes_back(stack):
    old_beat = stack.pids()["beat"]

    os.kill(old_beat, signal.SIGKILL)
    wait_for(lambda: stack.pids()["beat"] != old_beat, timeout=30, what="beat to be restarted")
    new_beat = stack.pids()["beat"]

    wait_for(
        lambda: stack.rows("SELECT 1 FROM services_heartbeat WHERE name LIKE ?", f"%:{new_beat}"),
        timeout=60,
        what="the new beat's heartbeat",
    )
    assert stack.health()["checks"]["beat"] == "ok"
    assert any(f"the beat (pid {old_beat}) was killed" in line for line in serve_lines(stack))


def test_a_paused_worker_shows_in_health_and_executes_are_refused_until_it_is_back(stack):
    key = stack.create_key(credits=10)
    client = httpx.Client(base_url=stack.url, headers={"x-api-key": key}, timeout=10)
    worker = stack.pids()["worker"]
    os.kill(worker, signal.SIGSTOP)  # alive, but not consuming: its heartbeat stops
    try:
        health = wait_for(
            lambda: (body := stack.health())["status"] == "degraded" and body,
            timeout=20,
            what="health to see the missing worker",
        )
        assert health["checks"]["worker"].startswith("missing: last seen")
        refused = client.post("/api/v1/services/text_analyzer/analyze", json={"text": "Later."})
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"] == "SERVICE_UNAVAILABLE"
        assert "nothing was charged" in refused.json()["message"]
        assert client.get("/api/v1/account").json()["balance"] == 10
        assert stack.rows("SELECT COUNT(*) FROM services_process") == [(0,)]
    finally:
        os.kill(worker, signal.SIGCONT)
    stack.wait_worker()
    ok = client.post("/api/v1/services/text_analyzer/analyze", json={"text": "Now."})
    assert ok.status_code == 202, ok.text
    assert poll_until_finished(client, ok.json()["result_url"])["status"] == "completed"
    client.close()


def test_after_a_crash_of_everything_every_queued_call_ends_once(tmp_path, log_dir):
    """serve, web, worker and beat all SIGKILLed while one call runs and others wait in the
    on-disk queue; on the next start each call ends exactly once: the running one failed and
    refunded, the waiting ones run."""
    var_dir = tmp_path / "var"
    stack = DefaultStack.start(var_dir, log_dir)
    key = stack.create_key(credits=20)
    client = httpx.Client(base_url=stack.url, headers={"x-api-key": key}, timeout=10)
    markers = [uuid.uuid4().hex for _ in range(4)]
    accepted = []
    for n, marker in enumerate(markers):
        seconds = 30 if n < 2 else 0
        response = client.post(
            "/api/v1/services/slow_test/sleep", json={"marker": marker, "seconds": seconds}
        )
        assert response.status_code == 202, response.text
        accepted.append(response.json())
    # Two long calls occupy both pool processes; the two short ones wait behind them.
    for marker in markers[:2]:
        wait_for(pid_file(var_dir, marker).exists, timeout=30, what="the long calls to run")
    client.close()
    stack.crash()
    assert len(run_process_messages(var_dir)) == 4  # waiting or claimed, all on disk

    again = DefaultStack.start(var_dir, log_dir)
    try:
        client = httpx.Client(base_url=again.url, headers={"x-api-key": key}, timeout=10)
        finals = [poll_until_finished(client, a["result_url"], timeout=90) for a in accepted]
        client.close()
        assert [f["status"] for f in finals[:2]] == ["error", "error"]
        assert [f["error"] for f in finals[:2]] == ["PROCESS_FAILED", "PROCESS_FAILED"]
        assert [f["status"] for f in finals[2:]] == ["completed", "completed"]
        for body in accepted[:2]:
            assert ledger(again, body["process_id"]) == [("charge", -2), ("refund", 2)]
        for body in accepted[2:]:
            assert ledger(again, body["process_id"]) == [("charge", -2)]
        assert again.rows("SELECT COUNT(*) FROM services_process WHERE state != 'completed'") == [
            (2,)
        ]
        assert run_process_messages(var_dir) == []  # beat's own tasks may come and go
        assert again.manage("reconcile").returncode == 0
    finally:
        again.stop()
