"""Business rules of processes, idempotency and the service rows (services.execution,
services.catalogue)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.ledger.selectors import account_balance, ledger_total
from accounts.models import ApiKey, LedgerEntry
from breact.errors import (
    IdempotencyInFlight,
    IdempotencyMismatch,
    InsufficientCredits,
    ServiceUnavailable,
)
from services.catalogue.actions import services_sync
from services.catalogue.selectors import endpoint_resolve
from services.execution.actions import (
    process_execute,
    process_fail,
    process_run,
    process_start,
    processes_fail_stuck,
    results_purge,
)
from services.execution.idempotency import (
    IDEMPOTENCY_STALE_SECONDS,
    idempotency_begin,
    idempotency_complete,
    idempotency_release,
    request_fingerprint,
)
from services.execution.selectors import PROCESS_FAILED, process_for_poll, process_token_hash
from services.models import Endpoint, IdempotencyRecord, Process, Service
from services.tasks import run_process
from services.usage.figures import SERVICE_ERROR
from tests.services.fake_service import PRICE

pytestmark = pytest.mark.django_db


def _ledger(process: Process) -> list[tuple[str, int]]:
    return sorted(
        LedgerEntry.objects.filter(process=process).values_list("kind", "amount"),
        key=lambda row: row[0],
    )


def _reload(process: Process) -> Process:
    return Process.objects.get(pk=process.pk)


# --- process_start ----------------------------------------------------------------------------


def test_start_charges_and_creates_a_queued_process_with_a_hashed_token(start, key):
    started = start(text="hi")

    process = _reload(started.process)
    assert process.state == Process.State.QUEUED
    assert process.public_id.startswith("prc_")
    assert (process.service_id, process.endpoint) == ("fake_echo", "echo")
    assert process.params == {"text": "hi"}
    assert process.credits == PRICE
    assert process.api_key_id == key.pk
    assert process.deadline_at > process.created_at
    assert process.token_hash == process_token_hash(started.access_token)
    assert started.access_token not in process.token_hash
    assert started.balance == 100 - PRICE == account_balance(account=key.account)
    assert _ledger(process) == [("charge", -PRICE)]


def test_started_process_is_enqueued_only_after_commit(
    start, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        started = start()
    assert len(callbacks) == 1
    assert enqueued == []

    callbacks[0]()

    assert len(enqueued) == 1
    positional, options = enqueued[0]
    assert positional == ()
    assert list(options["args"]) == [started.process.pk]  # the task takes the id, not the row
    assert _reload(started.process).state == Process.State.QUEUED


def test_start_without_enough_credits_writes_nothing(make_key, resolved, enqueued):
    poor = make_key(credits=PRICE - 1)

    with pytest.raises(InsufficientCredits):
        process_start(api_key=poor, resolved=resolved, params={"text": "x"})

    assert not Process.objects.exists()
    assert account_balance(account=poor.account) == PRICE - 1
    assert ledger_total(account=poor.account) == PRICE - 1


def test_start_of_a_free_endpoint_charges_nothing(fake_service_definition, key, enqueued):
    services_sync()  # the catalogue rows of the test service, as on a deploy
    free = endpoint_resolve(service_id="fake_echo", endpoint="free")

    started = process_start(api_key=key, resolved=free, params={})

    assert started.balance == 100
    assert account_balance(account=key.account) == 100
    assert _ledger(started.process) == []


@pytest.mark.django_db(transaction=True)
def test_start_when_the_broker_is_down_fails_refunds_and_raises(
    fake_service_definition, make_key, monkeypatch
):
    # transaction=True: process_start runs in autocommit, so its on-commit enqueue runs inside it.
    key = make_key(credits=10)
    services_sync()  # the catalogue rows of the test service, as on a deploy
    resolved = endpoint_resolve(service_id="fake_echo", endpoint="echo")

    def broker_down(*args, **kwargs):
        raise ConnectionRefusedError("broker unreachable")

    monkeypatch.setattr(run_process, "apply_async", broker_down)

    with pytest.raises(ServiceUnavailable) as caught:
        process_start(api_key=key, resolved=resolved, params={"text": "x"})

    assert caught.value.headers.get("Retry-After")
    process = Process.objects.get(account=key.account)
    assert process.state == Process.State.ERROR
    assert process.error_code == PROCESS_FAILED
    assert _ledger(process) == [("charge", -PRICE), ("refund", PRICE)]
    assert account_balance(account=key.account) == 10 == ledger_total(account=key.account)
    assert ApiKey.objects.get(pk=key.pk).credits_spent == 0


# --- process_run ------------------------------------------------------------------------------


def test_run_completes_a_queued_process_with_the_inner_success_envelope(start, handler_calls):
    started = start(text="hello")

    process_run(process_pk=started.process.pk)

    process = _reload(started.process)
    assert process.state == Process.State.COMPLETED
    assert process.started_at is not None and process.finished_at is not None
    assert process.expires_at > process.finished_at
    inner = process.result
    assert inner["status"] == "success"
    assert inner["result"] == {"echo": "hello"}
    assert inner["error"] is None
    assert inner["summary"] == "an echo"  # the handler's extra top-level key
    assert inner["metadata"]["model"] == "test/echo"
    assert inner["metadata"]["usage"] == {"input_chars": 5}
    assert inner["metadata"]["created_at"].endswith("Z")
    assert isinstance(inner["metadata"]["processing_time"], float)
    assert handler_calls == [{"text": "hello"}]
    assert _ledger(process) == [("charge", -PRICE)]


def test_run_of_the_text_analyzer_stores_its_statistics(key, enqueued):
    resolved = endpoint_resolve(service_id="text_analyzer", endpoint="analyze")
    started = process_start(api_key=key, resolved=resolved, params={"text": "One. Two three."})

    process_run(process_pk=started.process.pk)

    inner = _reload(started.process).result
    assert inner["status"] == "success"
    assert inner["result"]["word_count"] == 3
    assert inner["metadata"]["model"] == "local/text-statistics"


def test_service_failure_completes_with_an_inner_error_and_refunds(start, key):
    started = start(mode="service_failure")

    process_run(process_pk=started.process.pk)

    process = _reload(started.process)
    assert process.state == Process.State.COMPLETED
    assert process.error_code == SERVICE_ERROR  # still known as failed once purged
    assert process.result["status"] == "error"
    assert process.result["result"] is None
    assert "refused this input" in process.result["error"]
    assert "processing_time" in process.result["metadata"]
    assert _ledger(process) == [("charge", -PRICE), ("refund", PRICE)]
    assert account_balance(account=key.account) == 100 == ledger_total(account=key.account)


def test_handler_crash_fails_the_process_and_refunds(start, key):
    started = start(mode="crash")

    process_run(process_pk=started.process.pk)

    process = _reload(started.process)
    assert process.state == Process.State.ERROR
    assert process.error_code == PROCESS_FAILED
    assert process.error_message
    assert "a bug in the handler" not in process.error_message  # no internals leak
    assert process.result is None
    assert process.finished_at is not None and process.expires_at is not None
    assert _ledger(process) == [("charge", -PRICE), ("refund", PRICE)]
    assert account_balance(account=key.account) == 100


def test_process_found_running_is_failed_and_refunded_never_run_twice(start, key, handler_calls):
    started = start()
    Process.objects.filter(pk=started.process.pk).update(
        state=Process.State.RUNNING, started_at=timezone.now()
    )

    process_run(process_pk=started.process.pk)
    process_run(process_pk=started.process.pk)

    process = _reload(started.process)
    assert handler_calls == []
    assert process.state == Process.State.ERROR
    assert process.error_code == PROCESS_FAILED
    assert _ledger(process) == [("charge", -PRICE), ("refund", PRICE)]
    assert account_balance(account=key.account) == 100


def test_running_a_finished_process_again_changes_nothing(start, key, handler_calls):
    started = start(text="once")
    process_run(process_pk=started.process.pk)
    before = _reload(started.process)

    process_run(process_pk=started.process.pk)

    after = _reload(started.process)
    assert len(handler_calls) == 1
    assert after.state == Process.State.COMPLETED
    assert after.result == before.result
    assert after.finished_at == before.finished_at
    assert after.expires_at == before.expires_at
    assert _ledger(after) == [("charge", -PRICE)]
    assert account_balance(account=key.account) == 100 - PRICE


def test_running_a_failed_process_again_changes_nothing(start, key, handler_calls):
    started = start()
    process_fail(process=started.process, message="lost")

    process_run(process_pk=started.process.pk)

    process = _reload(started.process)
    assert handler_calls == []
    assert process.state == Process.State.ERROR
    assert process.error_message == "lost"
    assert _ledger(process) == [("charge", -PRICE), ("refund", PRICE)]


def test_running_an_unknown_process_id_does_nothing(db):
    process_run(process_pk=987654)

    assert not Process.objects.exists()


def test_run_of_a_service_no_longer_defined_fails_and_refunds(start, key, handler_calls):
    started = start()
    Process.objects.filter(pk=started.process.pk).update(service_id="withdrawn")

    process_run(process_pk=started.process.pk)

    process = _reload(started.process)
    assert handler_calls == []
    assert process.state == Process.State.ERROR
    assert _ledger(process) == [("charge", -PRICE), ("refund", PRICE)]


# --- process_fail and the sweeper -------------------------------------------------------------


def test_failing_twice_refunds_once(start, key):
    started = start()

    assert process_fail(process=started.process, message="first") is True
    assert process_fail(process=started.process, message="second") is False

    process = _reload(started.process)
    assert process.error_message == "first"
    assert _ledger(process) == [("charge", -PRICE), ("refund", PRICE)]
    assert account_balance(account=key.account) == 100 == ledger_total(account=key.account)


def test_failing_a_completed_process_does_nothing(start, key):
    started = start()
    process_run(process_pk=started.process.pk)

    assert process_fail(process=started.process, message="late") is False

    process = _reload(started.process)
    assert process.state == Process.State.COMPLETED
    assert _ledger(process) == [("charge", -PRICE)]


def test_sweeper_fails_only_unfinished_processes_past_their_deadline(start, key):
    past = timezone.now() - timedelta(seconds=1)
    stuck_queued = start().process
    stuck_running = start().process
    in_time = start().process
    finished_late = start().process
    process_run(process_pk=finished_late.pk)
    Process.objects.filter(pk__in=[stuck_queued.pk, finished_late.pk]).update(deadline_at=past)
    Process.objects.filter(pk=stuck_running.pk).update(
        state=Process.State.RUNNING, deadline_at=past
    )

    assert processes_fail_stuck() == 2
    assert processes_fail_stuck() == 0

    states = {p.pk: p.state for p in Process.objects.all()}
    assert states[stuck_queued.pk] == states[stuck_running.pk] == Process.State.ERROR
    assert states[in_time.pk] == Process.State.QUEUED
    assert states[finished_late.pk] == Process.State.COMPLETED
    assert _ledger(stuck_running) == [("charge", -PRICE), ("refund", PRICE)]
    assert _ledger(in_time) == [("charge", -PRICE)]
    assert account_balance(account=key.account) == 100 - 2 * PRICE
    assert ledger_total(account=key.account) == 100 - 2 * PRICE


# --- results_purge ----------------------------------------------------------------------------


def test_purge_clears_result_and_token_of_expired_processes_only(start, key):
    expired = start(text="old")
    fresh = start(text="new")
    for started in (expired, fresh):
        process_run(process_pk=started.process.pk)
    Process.objects.filter(pk=expired.process.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    ledger_rows = LedgerEntry.objects.filter(account=key.account).count()

    assert results_purge() == 1
    assert results_purge() == 0

    gone = _reload(expired.process)
    assert gone.result is None
    assert gone.token_hash == ""
    assert gone.purged_at is not None
    assert gone.state == Process.State.COMPLETED  # the row stays
    kept = _reload(fresh.process)
    assert kept.result["result"] == {"echo": "new"}
    assert kept.token_hash == process_token_hash(fresh.access_token)
    assert kept.purged_at is None
    assert LedgerEntry.objects.filter(account=key.account).count() == ledger_rows
    assert _ledger(gone) == [("charge", -PRICE)]


def test_purge_leaves_unfinished_processes_alone(start):
    started = start()

    assert results_purge() == 0

    assert _reload(started.process).token_hash == process_token_hash(started.access_token)


def test_purged_process_can_no_longer_be_polled(start, key):
    from breact.errors import NotFound

    started = start()
    process_run(process_pk=started.process.pk)
    Process.objects.filter(pk=started.process.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    results_purge()

    with pytest.raises(NotFound):
        process_for_poll(
            account=key.account, public_id=started.process.public_id, token=started.access_token
        )


def test_purge_deletes_only_old_idempotency_records(key, settings):
    old = IdempotencyRecord.objects.create(
        account=key.account,
        key="old",
        fingerprint="f",
        created_at=timezone.now() - timedelta(seconds=settings.BREACT_IDEMPOTENCY_TTL + 1),
    )
    recent = IdempotencyRecord.objects.create(account=key.account, key="new", fingerprint="f")

    results_purge()

    assert not IdempotencyRecord.objects.filter(pk=old.pk).exists()
    assert IdempotencyRecord.objects.filter(pk=recent.pk).exists()


# --- idempotency ------------------------------------------------------------------------------


def test_first_use_of_an_idempotency_key_claims_it(key):
    record = idempotency_begin(account_id=key.account_id, key="k1", fingerprint="fp")

    assert record.state == IdempotencyRecord.State.IN_FLIGHT
    assert IdempotencyRecord.objects.filter(account=key.account, key="k1").count() == 1


def test_same_key_and_fingerprint_after_completion_replays_the_response(key):
    record = idempotency_begin(account_id=key.account_id, key="k1", fingerprint="fp")
    idempotency_complete(record=record, status=202, body={"process_id": "prc_1"})

    again = idempotency_begin(account_id=key.account_id, key="k1", fingerprint="fp")

    assert again.pk == record.pk
    assert again.state == IdempotencyRecord.State.DONE
    assert (again.response_status, again.response_body) == (202, {"process_id": "prc_1"})


def test_same_key_with_another_fingerprint_is_a_mismatch(key):
    record = idempotency_begin(account_id=key.account_id, key="k1", fingerprint="fp")
    idempotency_complete(record=record, status=202, body={})

    with pytest.raises(IdempotencyMismatch):
        idempotency_begin(account_id=key.account_id, key="k1", fingerprint="other")


def test_same_key_with_another_fingerprint_while_in_flight_is_a_mismatch(key):
    idempotency_begin(account_id=key.account_id, key="k1", fingerprint="fp")

    with pytest.raises(IdempotencyMismatch):
        idempotency_begin(account_id=key.account_id, key="k1", fingerprint="other")


def test_same_key_while_the_first_request_is_in_flight_is_refused(key):
    idempotency_begin(account_id=key.account_id, key="k1", fingerprint="fp")

    with pytest.raises(IdempotencyInFlight):
        idempotency_begin(account_id=key.account_id, key="k1", fingerprint="fp")


def test_a_stale_in_flight_claim_is_reclaimed(key):
    record = idempotency_begin(account_id=key.account_id, key="k1", fingerprint="fp")
    long_ago = timezone.now() - timedelta(seconds=IDEMPOTENCY_STALE_SECONDS + 1)
    IdempotencyRecord.objects.filter(pk=record.pk).update(created_at=long_ago)

    again = idempotency_begin(account_id=key.account_id, key="k1", fingerprint="fp")

    assert again.pk == record.pk
    assert again.state == IdempotencyRecord.State.IN_FLIGHT
    assert again.created_at > long_ago
    with pytest.raises(IdempotencyInFlight):  # the reclaimed claim is fresh again
        idempotency_begin(account_id=key.account_id, key="k1", fingerprint="fp")


def test_idempotency_keys_are_per_account(make_key):
    mine, theirs = make_key(), make_key()

    idempotency_begin(account_id=mine.account_id, key="shared", fingerprint="a")
    record = idempotency_begin(account_id=theirs.account_id, key="shared", fingerprint="b")

    assert record.state == IdempotencyRecord.State.IN_FLIGHT


def test_released_claim_lets_a_retry_run_anew(key):
    record = idempotency_begin(account_id=key.account_id, key="k1", fingerprint="fp")
    idempotency_release(record=record)

    again = idempotency_begin(account_id=key.account_id, key="k1", fingerprint="other")

    assert again.state == IdempotencyRecord.State.IN_FLIGHT
    assert again.fingerprint == "other"


def test_release_never_forgets_a_completed_response(key):
    record = idempotency_begin(account_id=key.account_id, key="k1", fingerprint="fp")
    idempotency_complete(record=record, status=202, body={"a": 1})

    idempotency_release(record=record)

    assert IdempotencyRecord.objects.get(pk=record.pk).state == IdempotencyRecord.State.DONE


def test_fingerprint_ignores_key_order_but_not_values():
    a = request_fingerprint(service_id="s", endpoint="e", params={"x": 1, "y": [1, 2]})
    b = request_fingerprint(service_id="s", endpoint="e", params={"y": [1, 2], "x": 1})
    c = request_fingerprint(service_id="s", endpoint="e", params={"x": 2, "y": [1, 2]})
    d = request_fingerprint(service_id="s", endpoint="other", params={"x": 1, "y": [1, 2]})

    assert a == b
    assert len({a, c, d}) == 3


def test_execute_with_an_idempotency_key_replays_and_charges_once(resolved, key, enqueued):
    first = process_execute(
        api_key=key, resolved=resolved, params={"text": "x"}, idempotency_key="retry-me"
    )
    second = process_execute(
        api_key=key, resolved=resolved, params={"text": "x"}, idempotency_key="retry-me"
    )

    assert (first.replayed, second.replayed) == (False, True)
    assert second.status == first.status == 202
    assert second.body == first.body
    assert Process.objects.count() == 1
    assert account_balance(account=key.account) == 100 - PRICE


def test_execute_refused_for_credits_releases_its_idempotency_key(make_key, resolved, enqueued):
    poor = make_key(credits=0)

    with pytest.raises(InsufficientCredits):
        process_execute(api_key=poor, resolved=resolved, params={"text": "x"}, idempotency_key="k")

    assert not IdempotencyRecord.objects.filter(account=poor.account).exists()


# --- services_sync ----------------------------------------------------------------------------


def test_sync_creates_service_and_endpoint_rows(fake_service_definition):
    services_sync()

    service = Service.objects.get(service_id="fake_echo")
    assert service.name == "Fake Echo"
    assert service.enabled
    prices = dict(Endpoint.objects.filter(service=service).values_list("name", "price"))
    assert prices == {"echo": PRICE, "free": 0}
    assert Endpoint.objects.filter(service__service_id="text_analyzer", name="analyze").exists()


def test_sync_keeps_staff_edited_prices_and_flags(fake_service_definition):
    services_sync()
    Endpoint.objects.filter(service__service_id="fake_echo", name="echo").update(
        price=42, enabled=False
    )
    Service.objects.filter(service_id="fake_echo").update(name="Renamed", enabled=False)

    services_sync()

    endpoint = Endpoint.objects.get(service__service_id="fake_echo", name="echo")
    assert (endpoint.price, endpoint.enabled) == (42, False)
    service = Service.objects.get(service_id="fake_echo")
    assert (service.name, service.enabled) == ("Renamed", False)
    assert Endpoint.objects.filter(service=service).count() == 2


def test_sync_adds_a_missing_endpoint_row_to_an_existing_service(fake_service_definition):
    services_sync()
    Endpoint.objects.filter(service__service_id="fake_echo", name="free").delete()

    services_sync()

    assert Endpoint.objects.filter(service__service_id="fake_echo", name="free").exists()
