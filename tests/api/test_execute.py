"""POST /api/v1/services/{service}/{endpoint}: charging, idempotency, headers, usage rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.ledger.actions import credits_add
from accounts.ledger.selectors import account_balance, ledger_total
from accounts.models import LedgerEntry
from services import tasks
from services.execution.actions import process_fail
from services.execution.idempotency import IDEMPOTENCY_STALE_SECONDS, request_fingerprint
from services.models import IdempotencyRecord, Process, UsageLog

pytestmark = pytest.mark.django_db


def charges(account) -> list[LedgerEntry]:
    return list(LedgerEntry.objects.filter(account=account, kind=LedgerEntry.Kind.CHARGE))


# --- the 202 -----------------------------------------------------------------------------------


def test_execute_answers_202_with_the_process_and_the_charge(keyed_client, key, execute):
    response = execute(keyed_client)

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "pending"
    assert body["process_id"].startswith("prc_")
    assert len(body["access_token"]) >= 32
    assert body["service"] == "text_analyzer"
    assert body["endpoint"] == "analyze"
    assert body["created_at"].endswith("Z")
    assert body["credits_charged"] == 1
    assert body["credits_remaining"] == 99
    assert body["result_url"] == (
        f"/api/v1/services/result/{body['process_id']}?access_token={body['access_token']}"
    )
    # The body keeps the contract's relative path; Location is the URL to call as it is.
    assert response["Location"] == "http://testserver" + body["result_url"]
    process = Process.objects.get(public_id=body["process_id"])
    assert process.state == Process.State.QUEUED
    assert process.params == {"text": "One. Two three."}
    assert process.account == key.account


def test_execute_charges_the_price_once_with_a_ledger_row(keyed_client, key, execute):
    body = execute(keyed_client).json()

    assert account_balance(account=key.account) == 99 == ledger_total(account=key.account)
    [charge] = charges(key.account)
    assert charge.amount == -1
    assert charge.balance_after == 99
    assert charge.process.public_id == body["process_id"]
    assert charge.api_key_id == key.pk


def test_execute_charges_the_price_set_on_the_endpoint_row(
    keyed_client, key, execute, analyze_endpoint
):
    analyze_endpoint.price = 7
    analyze_endpoint.save(update_fields=["price"])

    response = execute(keyed_client)

    assert response.json()["credits_charged"] == 7
    assert response["X-Credits-Remaining"] == "93"
    assert account_balance(account=key.account) == 93


def test_execute_sends_the_remaining_credits_header(keyed_client, execute):
    first = execute(keyed_client)
    second = execute(keyed_client)

    assert first["X-Credits-Remaining"] == "99"
    assert second["X-Credits-Remaining"] == "98"


def test_execute_sends_the_keys_rate_limit_headers(make_key, client_for, execute):
    client = client_for(make_key(rate_limit="5/m"))

    first = execute(client)
    second = execute(client)

    assert first["X-RateLimit-Limit"] == "5"
    assert first["X-RateLimit-Remaining"] == "4"
    assert second["X-RateLimit-Remaining"] == "3"
    assert 1 <= int(first["X-RateLimit-Reset"]) <= 60


def test_execute_accepts_a_bearer_key(key, api_client, execute):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {key.raw}")

    response = execute(api_client)

    assert response.status_code == 202, response.content


def test_poll_of_a_queued_process_is_pending(keyed_client, execute, poll):
    started = execute(keyed_client).json()

    response = poll(keyed_client, started["process_id"], started["access_token"])

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "pending"
    assert body["result"] is None
    assert body["error"] is None
    assert body["service"] == "text_analyzer"
    assert body["process_info"]["state"] == "queued"
    assert response["X-RateLimit-Limit"]


def test_poll_after_the_run_returns_the_completed_result(keyed_client, execute, poll, run_process):
    started = execute(keyed_client, {"text": "Red fish. Blue fish."}).json()
    run_process(started["process_id"])

    response = poll(keyed_client, started["process_id"], started["access_token"])

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "completed"
    assert body["error"] is None
    assert body["process_info"] is None
    assert body["completed_at"].endswith("Z")
    assert body["expires_at"].endswith("Z")
    assert body["result"]["status"] == "success"
    assert body["result"]["result"]["word_count"] == 4
    assert body["result"]["result"]["sentence_count"] == 2
    assert body["result"]["metadata"]["model"] == "local/text-statistics"


def test_integral_float_for_an_integer_parameter_runs_to_completion(
    keyed_client, key, execute, poll, run_process
):
    # JSON Schema counts 2.0 as an integer; the handler must cope with it, not fail the run.
    started = execute(keyed_client, raw='{"text": "Red fish. Blue fish. Red.", "top_words": 2.0}')
    assert started.status_code == 202, started.content
    body = started.json()
    run_process(body["process_id"])

    result = poll(keyed_client, body["process_id"], body["access_token"]).json()

    assert result["status"] == "completed"
    assert result["result"]["result"]["top_words"] == [
        {"word": "red", "count": 2},
        {"word": "fish", "count": 2},
    ]
    assert account_balance(account=key.account) == 99


def test_another_key_of_the_same_account_may_poll(key, make_key, client_for, execute, poll):
    started = execute(client_for(key)).json()
    sibling = make_key(account=key.account)

    response = poll(client_for(sibling), started["process_id"], started["access_token"])

    assert response.status_code == 200
    assert response.json()["status"] == "pending"


def test_poll_of_a_failed_process_is_an_outer_error_and_the_credits_are_back(
    keyed_client, key, execute, poll
):
    started = execute(keyed_client).json()
    process_fail(
        process=Process.objects.get(public_id=started["process_id"]),
        message="The worker running this process stopped.",
    )

    response = poll(keyed_client, started["process_id"], started["access_token"])

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "error"
    assert body["error"] == "PROCESS_FAILED"
    assert body["result"] is None
    assert "refunded" in body["message"]
    assert account_balance(account=key.account) == 100 == ledger_total(account=key.account)


def test_refused_execute_still_carries_the_rate_limit_headers(keyed_client, execute):
    response = execute(keyed_client, {"text": 1})

    assert response.status_code == 400
    assert response["X-RateLimit-Limit"] == "60"
    assert response["X-RateLimit-Remaining"] == "59"
    assert "X-Credits-Remaining" not in response


# --- broker failure -----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_execute_with_the_queue_down_is_503_and_refunded(
    keyed_client, key, execute, assert_error, monkeypatch
):
    def refuse(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.run_process, "apply_async", refuse)

    response = execute(keyed_client)

    assert_error(response, 503, "SERVICE_UNAVAILABLE")
    assert int(response["Retry-After"]) >= 1
    assert account_balance(account=key.account) == 100 == ledger_total(account=key.account)
    process = Process.objects.get()
    assert process.state == Process.State.ERROR
    assert LedgerEntry.objects.filter(process=process, kind=LedgerEntry.Kind.REFUND).count() == 1


# --- idempotency ------------------------------------------------------------------------------


def test_same_idempotency_key_and_body_replays_the_first_202_and_charges_once(
    keyed_client, key, execute
):
    body = {"text": "Say it once."}

    first = execute(keyed_client, body, HTTP_IDEMPOTENCY_KEY="order-1")
    second = execute(keyed_client, body, HTTP_IDEMPOTENCY_KEY="order-1")

    assert first.status_code == second.status_code == 202
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert second["Location"] == first["Location"]
    assert account_balance(account=key.account) == 99 == ledger_total(account=key.account)
    assert len(charges(key.account)) == 1
    assert Process.objects.count() == 1


def test_replayed_body_counts_as_the_same_request_whatever_the_key_order(
    keyed_client, key, execute
):
    first = execute(
        keyed_client, raw='{"text": "Same.", "top_words": 3}', HTTP_IDEMPOTENCY_KEY="order-2"
    )
    second = execute(
        keyed_client, raw='{"top_words": 3, "text": "Same."}', HTTP_IDEMPOTENCY_KEY="order-2"
    )

    assert second.status_code == 202
    assert second.json()["process_id"] == first.json()["process_id"]
    assert account_balance(account=key.account) == 99


def test_idempotency_keys_are_per_account(make_key, client_for, execute):
    one, two = make_key(), make_key()

    first = execute(client_for(one), HTTP_IDEMPOTENCY_KEY="shared")
    second = execute(client_for(two), HTTP_IDEMPOTENCY_KEY="shared")

    assert first.status_code == second.status_code == 202
    assert first.json()["process_id"] != second.json()["process_id"]
    assert account_balance(account=two.account) == 99


def test_without_an_idempotency_key_each_call_is_charged(keyed_client, key, execute):
    execute(keyed_client)
    execute(keyed_client)

    assert account_balance(account=key.account) == 98
    assert len(charges(key.account)) == 2


def test_stale_in_flight_idempotency_record_is_taken_over(keyed_client, key, execute):
    body = {"text": "The first try died."}
    IdempotencyRecord.objects.create(
        account=key.account,
        key="abandoned",
        fingerprint=request_fingerprint(
            service_id="text_analyzer", endpoint="analyze", params=body
        ),
        created_at=timezone.now() - timedelta(seconds=IDEMPOTENCY_STALE_SECONDS + 1),
    )

    response = execute(keyed_client, body, HTTP_IDEMPOTENCY_KEY="abandoned")

    assert response.status_code == 202, response.content
    record = IdempotencyRecord.objects.get(key="abandoned")
    assert record.state == IdempotencyRecord.State.DONE
    assert record.response_body["process_id"] == response.json()["process_id"]


def test_insufficient_credits_releases_the_idempotency_key_for_a_retry(
    make_key, client_for, execute, assert_error
):
    poor = make_key(credits=0)
    client = client_for(poor)

    refused = execute(client, HTTP_IDEMPOTENCY_KEY="after-topup")
    assert_error(refused, 402, "INSUFFICIENT_CREDITS")
    assert not IdempotencyRecord.objects.exists()
    credits_add(account=poor.account, amount=5)

    retried = execute(client, HTTP_IDEMPOTENCY_KEY="after-topup")

    assert retried.status_code == 202, retried.content
    assert "Idempotent-Replayed" not in retried
    assert retried.json()["credits_remaining"] == 4
    assert account_balance(account=poor.account) == 4


def test_bad_request_does_not_claim_the_idempotency_key(keyed_client, execute, assert_error):
    assert_error(
        execute(keyed_client, {"nope": 1}, HTTP_IDEMPOTENCY_KEY="fix-and-retry"),
        400,
        "BAD_REQUEST",
    )

    response = execute(keyed_client, {"text": "Fixed."}, HTTP_IDEMPOTENCY_KEY="fix-and-retry")

    assert response.status_code == 202, response.content


# --- a 4xx never charges ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "status"),
    [
        ({"raw": "{not json"}, 400),
        ({"raw": "[1, 2]"}, 400),
        ({"body": {"text": 12}}, 400),
        ({"body": {"text": "x", "extra": True}}, 400),
        ({"url": "/api/v1/services/text_analyzer/nope"}, 404),
        ({"url": "/api/v1/services/nope/analyze"}, 404),
        ({"HTTP_IDEMPOTENCY_KEY": "x" * 300}, 400),
    ],
    ids=["invalid-json", "array", "wrong-type", "unknown-param", "endpoint", "service", "idem-key"],
)
def test_a_4xx_never_charges(keyed_client, key, execute, options, status):
    options = dict(options)
    body = options.pop("body", None)

    response = execute(keyed_client, body, **options)

    assert response.status_code == status, response.content
    assert account_balance(account=key.account) == 100 == ledger_total(account=key.account)
    assert charges(key.account) == []
    assert not Process.objects.exists()
    assert response.json()["status"] == "error"


def test_refused_key_scope_never_charges(make_key, client_for, execute):
    scoped = make_key(scopes=["summary"])

    response = execute(client_for(scoped))

    assert response.status_code == 403
    assert account_balance(account=scoped.account) == 100
    assert charges(scoped.account) == []


def test_rate_limited_call_never_charges(make_key, client_for, execute, still_rate_clock):
    limited = make_key(rate_limit="1/m")
    client = client_for(limited)
    execute(client)

    response = execute(client)

    assert response.status_code == 429
    assert account_balance(account=limited.account) == 99
    assert len(charges(limited.account)) == 1


# --- usage log ---------------------------------------------------------------------------------


def test_a_successful_execute_writes_a_usage_row_with_its_charge(keyed_client, key, execute):
    response = execute(keyed_client, HTTP_X_REQUEST_ID="usage-1")

    row = UsageLog.objects.get()
    assert row.account == key.account
    assert row.api_key == key
    assert row.method == "POST"
    assert row.service_id == "text_analyzer"
    assert row.endpoint == "analyze"
    assert row.process_id == response.json()["process_id"]
    assert row.status_code == 202
    assert row.error_code == ""
    assert row.credits == 1
    assert row.request_id == "usage-1"


def test_a_failed_execute_writes_a_usage_row_with_its_error_code(
    keyed_client, key, execute, assert_error
):
    body = assert_error(execute(keyed_client, {"text": 1}), 400, "BAD_REQUEST")

    row = UsageLog.objects.get()
    assert row.account == key.account
    assert row.service_id == "text_analyzer"
    assert row.status_code == 400
    assert row.error_code == "BAD_REQUEST"
    assert row.credits == 0
    assert row.request_id == body["request_id"]


def test_a_replayed_execute_is_logged_without_a_second_charge(keyed_client, execute):
    execute(keyed_client, HTTP_IDEMPOTENCY_KEY="log-once")
    execute(keyed_client, HTTP_IDEMPOTENCY_KEY="log-once")

    assert [row.credits for row in UsageLog.objects.order_by("id")] == [1, 0]


def test_an_unauthenticated_request_is_logged_without_an_account(api_client, execute):
    execute(api_client)

    row = UsageLog.objects.get()
    assert row.account is None
    assert row.api_key is None
    assert row.status_code == 401
    assert row.error_code == "MISSING_API_KEY"


@pytest.mark.parametrize(
    ("url", "status", "code"),
    [
        ("/api/v1/services", 200, ""),
        ("/api/v1/account", 200, ""),
        ("/api/v1/services/nope", 404, "SERVICE_NOT_FOUND"),
        ("/api/v1/services/result/prc_nope?access_token=t", 404, "NOT_FOUND"),
        ("/api/v1/no/such/route", 404, "NOT_FOUND"),
    ],
)
def test_every_api_request_writes_one_usage_row(keyed_client, key, url, status, code):
    response = keyed_client.get(url)

    assert response.status_code == status
    row = UsageLog.objects.get()
    assert row.status_code == status
    assert row.error_code == code
    assert row.method == "GET"


def test_a_poll_is_logged_against_the_process(keyed_client, execute, poll):
    started = execute(keyed_client).json()

    poll(keyed_client, started["process_id"], started["access_token"])

    row = UsageLog.objects.order_by("-id").first()
    assert row.status_code == 200
    assert row.process_id == started["process_id"]
    assert row.service_id == "text_analyzer"
    assert row.credits == 0


def test_health_and_schema_are_not_logged(api_client):
    api_client.get("/api/v1/health")
    api_client.get("/api/v1/schema")

    assert not UsageLog.objects.exists()
