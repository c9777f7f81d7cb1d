"""Heartbeats of workers and beat: health, refused executes, the console banner, late runs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.ledger.selectors import account_balance, ledger_total
from accounts.models import LedgerEntry
from services.execution.actions import process_run, process_start
from services.models import Heartbeat, Process
from services.workers import BeatScheduler, heartbeat_record, runner_status

pytestmark = pytest.mark.django_db

EXECUTE = "/api/v1/services/text_analyzer/analyze"


@pytest.fixture
def worker_required(settings):
    settings.BREACT_REQUIRE_WORKER = True
    settings.BREACT_HEARTBEAT_STALE_SECONDS = 20


def test_heartbeat_record_inserts_once_then_moves_seen_at():
    started = timezone.now() - timedelta(minutes=5)
    heartbeat_record(role="worker", name="host:1", started_at=started)
    first = Heartbeat.objects.get()
    heartbeat_record(role="worker", name="host:1", started_at=started)

    again = Heartbeat.objects.get()
    assert again.pk == first.pk
    assert again.seen_at > first.seen_at
    assert again.started_at == started


def test_health_is_degraded_with_no_worker_ever_seen(api_client, heartbeats):
    heartbeats(worker_age=None, beat_age=1)

    body = api_client.get("/api/v1/health").json()

    assert body["status"] == "degraded"
    assert body["checks"]["worker"] == "missing: never seen"
    assert body["checks"]["beat"] == "ok"
    assert body["workers"] == 0


def test_health_names_how_long_ago_a_stale_worker_and_beat_were_seen(
    api_client, heartbeats, settings
):
    settings.BREACT_HEARTBEAT_STALE_SECONDS = 20
    heartbeats(worker_age=42, beat_age=300)

    body = api_client.get("/api/v1/health").json()

    assert body["status"] == "degraded"
    assert body["checks"]["worker"] == "missing: last seen 42 s ago"
    assert body["checks"]["beat"] == "missing: last seen 300 s ago"


def test_health_says_how_many_processes_wait_and_for_how_long(api_client, heartbeats, make_key):
    heartbeats(worker_age=60, beat_age=1)
    key = make_key()
    now = timezone.now()
    for age in (5, 90, 30):
        Process.objects.create(
            public_id=f"prc_{age}",
            account=key.account,
            service_id="text_analyzer",
            endpoint="analyze",
            created_at=now - timedelta(seconds=age),
            deadline_at=now - timedelta(seconds=age) + timedelta(seconds=600),
        )
    Process.objects.create(  # running: not waiting
        public_id="prc_running",
        account=key.account,
        service_id="text_analyzer",
        endpoint="analyze",
        state=Process.State.RUNNING,
        created_at=now - timedelta(seconds=500),
        deadline_at=now + timedelta(seconds=100),
    )

    body = api_client.get("/api/v1/health").json()

    assert body["queue"]["queued"] == 3
    assert 89 <= body["queue"]["oldest_queued_seconds"] <= 95


def test_execute_without_a_live_worker_is_refused_and_charges_nothing(
    worker_required, heartbeats, keyed_client, key
):
    heartbeats(worker_age=25, beat_age=1)

    response = keyed_client.post(EXECUTE, {"text": "Hello."}, format="json")

    assert response.status_code == 503
    body = response.json()
    assert body["error"] == "SERVICE_UNAVAILABLE"
    assert "nothing was charged" in body["message"]
    assert response["Retry-After"]
    assert not Process.objects.exists()
    assert account_balance(account=key.account) == 100 == ledger_total(account=key.account)


def test_execute_with_a_fresh_worker_heartbeat_is_accepted(
    worker_required, heartbeats, keyed_client, django_capture_on_commit_callbacks
):
    heartbeats(worker_age=3, beat_age=3)

    with django_capture_on_commit_callbacks():
        response = keyed_client.post(EXECUTE, {"text": "Hello."}, format="json")

    assert response.status_code == 202, response.content


def test_execute_resumes_as_soon_as_the_worker_is_back(
    worker_required, heartbeats, keyed_client, django_capture_on_commit_callbacks
):
    heartbeats(worker_age=None, beat_age=1)
    assert keyed_client.post(EXECUTE, {"text": "Hi."}, format="json").status_code == 503
    Heartbeat.objects.create(
        role="worker", name="back:1", started_at=timezone.now(), seen_at=timezone.now()
    )  # no cache to forget: a missing worker is read again on the next call

    with django_capture_on_commit_callbacks():
        response = keyed_client.post(EXECUTE, {"text": "Hi."}, format="json")

    assert response.status_code == 202


def test_a_refused_execute_with_an_idempotency_key_can_be_retried(
    worker_required, heartbeats, keyed_client, django_capture_on_commit_callbacks
):
    heartbeats(worker_age=None, beat_age=1)
    headers = {"HTTP_IDEMPOTENCY_KEY": "retry-me"}
    refused = keyed_client.post(EXECUTE, {"text": "Hi."}, format="json", **headers)
    assert refused.status_code == 503
    heartbeats(worker_age=1, beat_age=1)

    with django_capture_on_commit_callbacks():
        accepted = keyed_client.post(EXECUTE, {"text": "Hi."}, format="json", **headers)

    assert accepted.status_code == 202
    assert Process.objects.count() == 1


def test_the_console_shows_a_banner_while_no_worker_takes_jobs(
    worker_required, heartbeats, page_client
):
    heartbeats(worker_age=120, beat_age=1)

    down = page_client.get("/").content.decode()
    heartbeats(worker_age=1, beat_age=1)
    up = page_client.get("/").content.decode()

    assert 'data-runner="down"' in down
    assert "last seen 120 s ago" in down
    assert "nothing is charged" in down
    assert 'data-runner="down"' not in up


def test_no_banner_for_visitors_who_are_not_signed_in(worker_required, heartbeats):
    heartbeats(worker_age=None, beat_age=None)

    page = Client().get("/login/").content.decode()

    assert 'data-runner="down"' not in page


def test_a_process_that_waited_past_its_deadline_is_failed_and_refunded_not_run(
    make_key, django_capture_on_commit_callbacks
):
    from services.catalogue.selectors import endpoint_resolve

    key = make_key(credits=10)
    resolved = endpoint_resolve(service_id="text_analyzer", endpoint="analyze")
    with django_capture_on_commit_callbacks():  # not enqueued: run by hand below
        started = process_start(api_key=key, resolved=resolved, params={"text": "Late."})
    process = started.process
    Process.objects.filter(pk=process.pk).update(
        state=Process.State.QUEUED, deadline_at=timezone.now() - timedelta(seconds=1)
    )

    process_run(process_pk=process.pk)

    process.refresh_from_db()
    assert process.state == Process.State.ERROR
    assert process.error_message == "The process did not start before its deadline."
    assert process.result is None
    refunds = LedgerEntry.objects.filter(process=process, kind=LedgerEntry.Kind.REFUND)
    assert refunds.count() == 1
    process_run(process_pk=process.pk)  # a second delivery changes nothing
    assert LedgerEntry.objects.filter(process=process, kind=LedgerEntry.Kind.REFUND).count() == 1
    assert account_balance(account=key.account) == 10 == ledger_total(account=key.account)


def test_beat_writes_its_heartbeat_as_it_ticks(tmp_path, settings):
    from breact.celery import app

    settings.BREACT_HEARTBEAT_SECONDS = 5
    scheduler = BeatScheduler(app=app, schedule_filename=str(tmp_path / "schedule"))
    try:
        delay = scheduler.tick()
    finally:
        scheduler.close()

    assert delay <= 5
    assert runner_status().beat_ok
    assert Heartbeat.objects.filter(role="beat").count() == 1
