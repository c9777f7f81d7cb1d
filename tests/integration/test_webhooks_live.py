"""Webhooks, metrics and JSON logs on the real stack: gunicorn (2 workers) and a Celery worker
sharing a PROMETHEUS_MULTIPROC_DIR, events delivered by the worker to a loopback receiver."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import pytest

from services.webhooks import actions, signing
from tests.breact.test_metrics import value
from tests.integration.live import (
    EXECUTE_PATH,
    LiveServer,
    LiveStack,
    LiveWorker,
    poll_until_finished,
    wait_for,
)
from tests.webhooks.receiver import Receiver

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def hook_stack(live_factory, tmp_path) -> LiveStack:
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    # Its own broker (the embedded one, in its own folder): no other test worker may take
    # these deliveries.
    env = {
        **live_factory.live_env.child_env(tmp_path),
        "CELERY_BROKER_URL": "embedded://",
        "BREACT_WEBHOOK_ALLOW_LOOPBACK": "1",
        "BREACT_WEBHOOK_TIMEOUT": "1",
        "BREACT_WEBHOOK_RETRY_BASE": "0.3",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    # JSON log lines from the web server; the worker keeps readable lines (the harness waits
    # for its plain "ready." line).
    log_dir = live_factory.live_env.log_dir
    server = LiveServer.spawn("webhooks-web", {**env, "BREACT_LOG_FORMAT": "json"}, log_dir)
    live_factory.started.append(server)
    worker = LiveWorker.spawn("webhooks-worker", env, log_dir)
    live_factory.started.append(worker)
    worker.wait_ready()
    health = server.wait_ready().json()
    return LiveStack(server=server, worker=worker, env=env, var_dir=tmp_path, health=health)


def test_signed_deliveries_with_retries_metrics_and_json_logs(hook_stack, make_key):
    key = make_key(credits=50)
    with Receiver() as receiver, hook_stack.client(key.raw) as client:
        created = client.post("/api/v1/webhooks", json={"url": receiver.url})
        assert created.status_code == 201, created.text
        receiver.secrets = [
            created.json()["secret"],
            actions.per_call_secret(account_id=key.account_id),
        ]
        receiver.script(500, ("sleep", 1.6))  # the first event: a 500, then a timeout

        process_ids = []
        for n in range(4):
            body: dict[str, Any] = {"text": f"Call number {n}."}
            if n == 3:
                body["webhook_url"] = receiver.url  # and a per-call URL for the last one
            answer = client.post(EXECUTE_PATH, json=body, headers={"X-Request-ID": f"wh-live-{n}"})
            assert answer.status_code == 202, answer.text
            process_ids.append(answer.json()["process_id"])
            poll_until_finished(client, answer.json()["result_url"])

        # 4 events to the endpoint + 1 to the per-call URL, each exactly once successfully.
        wait_for(lambda: len(receiver.succeeded()) >= 5, timeout=30, what="5 deliveries")
        time.sleep(1.5)  # a duplicate would arrive by now
        # One event per process; the last one goes to both targets (endpoint and per-call URL),
        # each signed with its own secret.
        ok = Counter(r.body["process_id"] for r in receiver.succeeded())
        assert ok == {**dict.fromkeys(process_ids, 1), process_ids[3]: 2}
        assert len({r.body["id"] for r in receiver.succeeded()}) == 4
        endpoint_secret, per_call = receiver.secrets
        last = [r for r in receiver.succeeded() if r.body["process_id"] == process_ids[3]]
        header = signing.SIGNATURE_HEADER
        assert sorted(
            signing.verify(secret=endpoint_secret, header=r.headers[header], body=r.raw)
            for r in last
        ) == [False, True]
        assert sorted(
            signing.verify(secret=per_call, header=r.headers[header], body=r.raw) for r in last
        ) == [False, True]
        assert all(r.verified for r in receiver.received)
        assert {r.body["event"] for r in receiver.received} == {"process.completed"}
        statuses = [r.status for r in receiver.received]
        assert statuses.count(500) == 1 and statuses.count(-1) == 1
        assert len(receiver.received) == 7  # 5 deliveries, 2 of them after a failure

        deliveries = client.get(f"/api/v1/webhooks/{created.json()['id']}/deliveries").json()
        states = [d["state"] for d in deliveries["results"]]
        assert states == ["succeeded"] * 4
        tries = [t for d in deliveries["results"] for t in d["tries"]]
        assert sorted(str(t["status_code"]) for t in tries) == sorted(["200"] * 4 + ["500", "None"])
        assert any("timed out" in t["error"] for t in tries)

        # /metrics sums the gunicorn workers' and the Celery worker's files.
        scraped = client.get("/metrics")
        assert scraped.status_code == 200, scraped.text
        text = scraped.text
        route = "/api/v1/services/<str:service_id>/<str:endpoint>"
        assert (
            value(text, "breact_http_requests_total", method="POST", route=route, status="202") == 4
        )
        assert value(text, "breact_execute_duration_seconds_count", service="text_analyzer") == 4
        assert value(text, "breact_credits_charged_total") == 4
        assert (
            value(text, "breact_processes_total", service="text_analyzer", outcome="completed") == 4
        )
        assert value(text, "breact_webhook_deliveries_total", outcome="succeeded") == 5
        assert value(text, "breact_webhook_deliveries_total", outcome="failed") == 1
        assert value(text, "breact_webhook_deliveries_total", outcome="timeout") == 1
        assert value(text, "breact_workers_alive") >= 1

    # One JSON line per request, carrying its request id.
    lines = [
        json.loads(line)
        for line in hook_stack.server.process.log().splitlines()
        if line.startswith("{")
    ]
    mine = [line for line in lines if str(line.get("request_id", "")).startswith("wh-live-")]
    assert sorted(line["request_id"] for line in mine) == [f"wh-live-{n}" for n in range(4)]
    assert all(line["key_prefix"] == key.prefix and line["outcome"] == "ok" for line in mine)
    worker_log = hook_stack.worker.process.log()  # type: ignore[union-attr]
    assert all(
        f"process {pid} text_analyzer.analyze completed" in worker_log for pid in process_ids
    )
