"""/metrics: protected by a token or an allow-list; after a series of calls its counters match
what happened (requests by route and status, executes, processes by outcome, credits charged
and refunded, webhook deliveries); queue and heartbeat gauges come from the database."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import pytest
from django.test import Client

from breact import metrics

pytestmark = pytest.mark.django_db


def _scrape(client: Client, **headers: Any) -> str:
    answer = client.get("/metrics", **headers)
    assert answer.status_code == 200, answer.content
    assert answer["Content-Type"].startswith("text/plain")
    return answer.content.decode()


def value(text: str, name: str, **labels: str) -> float:
    """The sample `name{labels}` of an exposition text (0 when absent)."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        sample, _, number = line.rpartition(" ")
        metric, _, label_text = sample.partition("{")
        if metric != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', label_text))
        if found == labels:
            return float(number)
    return 0.0


def test_metrics_need_the_token_or_an_allowed_address(settings):
    settings.BREACT_METRICS_TOKEN = "s3cret"
    settings.BREACT_METRICS_ALLOW = []
    client = Client(REMOTE_ADDR="203.0.113.9")
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").status_code == 200
    settings.BREACT_METRICS_ALLOW = ["203.0.113.0/24"]
    assert client.get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="198.51.100.1").get("/metrics").status_code == 403


def test_behind_a_proxy_the_allow_list_checks_the_client_ip_the_header_gives(settings):
    """What the README's reverse-proxy note says: the allow-list judges client_ip(), which is
    the proxy's own address unless BREACT_CLIENT_IP_HEADER names the header it writes."""
    settings.BREACT_METRICS_TOKEN = ""
    settings.BREACT_METRICS_ALLOW = ["127.0.0.1", "10.0.0.0/8"]  # loopback, Prometheus's net
    proxy = Client(REMOTE_ADDR="127.0.0.1")  # a proxy on the same host
    outsider = {"HTTP_X_FORWARDED_FOR": "203.0.113.9"}

    settings.BREACT_CLIENT_IP_HEADER = ""  # not set: the proxy's address is judged
    assert proxy.get("/metrics", **outsider).status_code == 200

    settings.BREACT_CLIENT_IP_HEADER = "X-Forwarded-For"
    settings.BREACT_TRUSTED_PROXY_COUNT = 1
    assert proxy.get("/metrics", **outsider).status_code == 403
    spoofed = {"HTTP_X_FORWARDED_FOR": "127.0.0.1, 203.0.113.9"}  # the client wrote the left one
    assert proxy.get("/metrics", **spoofed).status_code == 403
    assert proxy.get("/metrics", HTTP_X_FORWARDED_FOR="10.1.2.3").status_code == 200
    assert proxy.get("/metrics").status_code == 200  # no header: REMOTE_ADDR again

    settings.BREACT_METRICS_TOKEN = "s3cret"  # the token works whatever the address
    assert proxy.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret", **outsider).status_code == 200


def test_counters_match_a_series_of_calls(
    keyed_client, key, eager_worker, django_capture_on_commit_callbacks, heartbeats
):
    heartbeats(worker_age=2, beat_age=3)
    scraper = Client(REMOTE_ADDR="127.0.0.1")
    before = _scrape(scraper)
    route = "/api/v1/services/<str:service_id>/<str:endpoint>"

    for text in ("one.", "two.", "three."):
        with django_capture_on_commit_callbacks(execute=True):
            answer = keyed_client.post(
                "/api/v1/services/text_analyzer/analyze", {"text": text}, format="json"
            )
        assert answer.status_code == 202
    assert (
        keyed_client.post(
            "/api/v1/services/text_analyzer/analyze", {"nope": 1}, format="json"
        ).status_code
        == 400
    )
    assert keyed_client.get("/api/v1/services").status_code == 200

    after = _scrape(scraper)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("breact_http_requests_total", method="POST", route=route, status="202") == 3
    assert delta("breact_http_requests_total", method="POST", route=route, status="400") == 1
    assert (
        delta("breact_http_requests_total", method="GET", route="/api/v1/services", status="200")
        == 1
    )
    # Every execute answer is timed, the refused one too.
    assert delta("breact_execute_duration_seconds_count", service="text_analyzer") == 4
    assert delta("breact_processes_total", service="text_analyzer", outcome="completed") == 3
    assert delta("breact_credits_charged_total") == 3  # text_analyzer costs 1
    assert delta("breact_credits_refunded_total") == 0
    # The scrape itself is not counted; gauges come from the heartbeats and the queue.
    assert 'route="/metrics"' not in after
    assert value(after, "breact_workers_alive") == 1
    assert value(after, "breact_queue_depth") == 0
    assert 1 <= value(after, "breact_worker_heartbeat_age_seconds") < 10


def test_failures_count_refunds_and_webhook_outcomes(key, django_capture_on_commit_callbacks):
    from tests.webhooks.test_delivery import _process

    scraper = Client(REMOTE_ADDR="127.0.0.1")
    before = _scrape(scraper)
    from services.execution.actions import process_fail

    with django_capture_on_commit_callbacks(execute=True):
        process_fail(process=_process(key, credits=4), message="lost")
    metrics.webhook_delivered(outcome="timeout")
    after = _scrape(scraper)
    assert (
        value(after, "breact_credits_refunded_total")
        - value(before, "breact_credits_refunded_total")
        == 4
    )
    assert (
        value(after, "breact_processes_total", service="text_analyzer", outcome="failed")
        - value(before, "breact_processes_total", service="text_analyzer", outcome="failed")
        == 1
    )
    assert (
        value(after, "breact_webhook_deliveries_total", outcome="timeout")
        - value(before, "breact_webhook_deliveries_total", outcome="timeout")
        == 1
    )


MULTIPROCESS_SCRIPT = """
import os, sys
os.environ["PROMETHEUS_MULTIPROC_DIR"] = sys.argv[1]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "breact.settings")
from breact import metrics
metrics.process_finished(service="summary", outcome="completed", refunded=0)
metrics.webhook_delivered(outcome="succeeded")
"""


def test_values_of_several_processes_are_summed_in_multiprocess_mode(tmp_path, monkeypatch):
    """As under gunicorn: each process writes its own file, the view sums them."""
    for _ in range(3):
        subprocess.run(
            [sys.executable, "-c", MULTIPROCESS_SCRIPT, str(tmp_path)], check=True, timeout=60
        )
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    from prometheus_client import generate_latest

    text = generate_latest(metrics.registry()).decode()
    assert value(text, "breact_processes_total", service="summary", outcome="completed") == 3
    assert value(text, "breact_webhook_deliveries_total", outcome="succeeded") == 3
