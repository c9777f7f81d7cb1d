"""/api/v1/health/live answers without touching a server; /api/v1/health/ready needs the
database, cache, broker and a fresh worker heartbeat. /api/v1/health keeps its body."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_liveness_answers_without_the_database(api_client, django_assert_num_queries):
    with django_assert_num_queries(0):
        answer = api_client.get("/api/v1/health/live")
    assert answer.status_code == 200 and answer.json() == {"status": "alive"}


def test_ready_with_a_fresh_worker(api_client, heartbeats):
    heartbeats(worker_age=1, beat_age=1)
    answer = api_client.get("/api/v1/health/ready")
    assert answer.status_code == 200, answer.content
    assert answer.json() == {
        "status": "ready",
        "checks": {"database": "ok", "cache": "ok", "broker": "ok", "worker": "ok"},
    }


def test_not_ready_without_a_recent_worker(api_client, heartbeats, settings):
    settings.BREACT_READY_WORKER_SECONDS = 10
    heartbeats(worker_age=30, beat_age=1)
    answer = api_client.get("/api/v1/health/ready")
    assert answer.status_code == 503
    body = answer.json()
    assert body["error"] == "SERVICE_UNAVAILABLE"
    assert body["details"]["checks"]["worker"] == "missing: last seen 30 s ago"


def test_not_ready_when_the_cache_is_down(api_client, heartbeats, cache_down):
    heartbeats(worker_age=1, beat_age=1)
    answer = api_client.get("/api/v1/health/ready")
    assert answer.status_code == 503
    assert answer.json()["details"]["checks"]["cache"].startswith("error")


def test_the_sdk_health_body_is_unchanged(api_client, heartbeats):
    heartbeats(worker_age=1, beat_age=1)
    body = api_client.get("/api/v1/health").json()
    assert set(body) == {"status", "checks", "workers", "queue"}
