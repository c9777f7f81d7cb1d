"""Every error of the API contract answers with its HTTP status and the error envelope."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.keys.actions import api_key_revoke
from accounts.ledger.selectors import account_balance
from accounts.models import Account, LedgerEntry
from services.api import views
from services.catalogue.actions import services_sync
from services.execution.actions import results_purge
from services.execution.idempotency import request_fingerprint
from services.models import IdempotencyRecord, Process, Service

pytestmark = pytest.mark.django_db

SERVICES_URL = "/api/v1/services"


def without_request_id(body: dict) -> dict:
    return {name: value for name, value in body.items() if name != "request_id"}


# --- authentication -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", SERVICES_URL),
        ("post", "/api/v1/services/text_analyzer/analyze"),
        ("get", "/api/v1/services/result/prc_anything?access_token=x"),
        ("get", "/api/v1/account"),
        ("get", "/api/v1/usage"),
    ],
)
def test_request_without_a_key_is_missing_api_key(api_client, assert_error, method, url):
    response = getattr(api_client, method)(url)

    assert_error(response, 401, "MISSING_API_KEY")
    assert response["WWW-Authenticate"]


def test_empty_key_header_counts_as_no_key(api_client, assert_error):
    response = api_client.get(SERVICES_URL, HTTP_X_API_KEY="")

    assert_error(response, 401, "MISSING_API_KEY")


@pytest.fixture
def bad_keys(make_key):
    """Raw keys that must all be refused the same way, by kind."""
    known = make_key()
    revoked = make_key(account=known.account)
    api_key_revoke(api_key=revoked)
    expired = make_key(account=known.account, expires_at=timezone.now() - timedelta(seconds=1))
    return {
        "malformed": "not-a-key",
        "unknown": "brk_" + "A" * 40,
        "right_prefix_wrong_secret": known.raw[:12] + "B" * 32,
        "revoked": revoked.raw,
        "expired": expired.raw,
    }


@pytest.mark.parametrize(
    "kind", ["malformed", "unknown", "right_prefix_wrong_secret", "revoked", "expired"]
)
def test_bad_key_is_unauthorized(api_client, assert_error, bad_keys, kind):
    response = api_client.get(SERVICES_URL, HTTP_X_API_KEY=bad_keys[kind])

    assert_error(response, 401, "UNAUTHORIZED")
    assert response["WWW-Authenticate"]


def test_bad_keys_get_one_body_that_does_not_say_which_kind(api_client, assert_error, bad_keys):
    bodies = [
        assert_error(api_client.get(SERVICES_URL, HTTP_X_API_KEY=raw), 401, "UNAUTHORIZED")
        for raw in bad_keys.values()
    ]

    assert len({body["request_id"] for body in bodies}) == len(bodies)
    first = without_request_id(bodies[0])
    assert all(without_request_id(body) == first for body in bodies)


def test_bad_bearer_key_is_unauthorized(api_client, assert_error):
    response = api_client.get(SERVICES_URL, HTTP_AUTHORIZATION="Bearer brk_" + "C" * 40)

    assert_error(response, 401, "UNAUTHORIZED")


def test_key_of_a_disabled_account_is_forbidden(api_client, assert_error, key):
    key.account.status = "disabled"
    key.account.save(update_fields=["status"])

    response = api_client.get(SERVICES_URL, HTTP_X_API_KEY=key.raw)

    assert_error(response, 403, "FORBIDDEN")


def test_key_of_a_deactivated_user_is_forbidden(api_client, assert_error, key):
    owner = key.account.owner
    owner.is_active = False
    owner.save(update_fields=["is_active"])

    response = api_client.get(SERVICES_URL, HTTP_X_API_KEY=key.raw)

    assert_error(response, 403, "FORBIDDEN")


def test_key_without_the_service_in_its_scopes_is_forbidden_and_charged_nothing(
    make_key, client_for, execute, assert_error
):
    scoped = make_key(scopes=["summary"])

    response = execute(client_for(scoped))

    body = assert_error(response, 403, "FORBIDDEN")
    assert "text_analyzer" in body["message"]
    assert account_balance(account=scoped.account) == 100
    assert not Process.objects.exists()


def test_key_with_the_service_in_its_scopes_may_call_it(make_key, client_for, execute):
    scoped = make_key(scopes=["text_analyzer"])

    response = execute(client_for(scoped))

    assert response.status_code == 202, response.content


@pytest.mark.parametrize("name", ["api_key", "apikey", "key", "x-api-key"])
def test_key_in_the_query_string_is_refused(api_client, assert_error, key, name):
    response = api_client.get(f"{SERVICES_URL}?{name}={key.raw}")

    body = assert_error(response, 401, "UNAUTHORIZED")
    assert "x-api-key header" in body["message"]


def test_key_in_the_query_string_is_refused_even_beside_a_good_header(
    keyed_client, assert_error, key
):
    response = keyed_client.get(f"{SERVICES_URL}?api_key={key.raw}")

    assert_error(response, 401, "UNAUTHORIZED")


# --- services and endpoints -------------------------------------------------------------------


def test_unknown_service_is_service_not_found(keyed_client, execute, assert_error):
    response = execute(keyed_client, url="/api/v1/services/no_such_service/analyze")

    assert_error(response, 404, "SERVICE_NOT_FOUND")


def test_unknown_endpoint_is_service_not_found_and_lists_the_real_ones(
    keyed_client, execute, assert_error
):
    response = execute(keyed_client, url="/api/v1/services/text_analyzer/no_such_endpoint")

    body = assert_error(response, 404, "SERVICE_NOT_FOUND")
    assert body["details"]["endpoints"] == ["analyze"]


def test_disabled_endpoint_is_service_not_found(
    keyed_client, key, execute, assert_error, analyze_endpoint
):
    analyze_endpoint.enabled = False
    analyze_endpoint.save(update_fields=["enabled"])

    response = execute(keyed_client)

    assert_error(response, 404, "SERVICE_NOT_FOUND")
    assert account_balance(account=key.account) == 100


def test_disabled_service_is_service_not_found(keyed_client, execute, assert_error):
    services_sync()
    Service.objects.filter(service_id="text_analyzer").update(enabled=False)

    response = execute(keyed_client)

    assert_error(response, 404, "SERVICE_NOT_FOUND")


def test_unknown_service_detail_is_service_not_found(keyed_client, assert_error):
    response = keyed_client.get("/api/v1/services/no_such_service")

    assert_error(response, 404, "SERVICE_NOT_FOUND")


# --- body parsing and validation ------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    ['{"text": "unterminated', "{text: 'single quotes'}", '{"text": "x"} trailing', "\xff\xfe"],
    ids=["unterminated", "not-json", "trailing-data", "not-utf8"],
)
def test_body_that_is_not_json_is_bad_request(keyed_client, execute, assert_error, raw):
    response = execute(keyed_client, raw=raw.encode("latin-1") if raw == "\xff\xfe" else raw)

    body = assert_error(response, 400, "BAD_REQUEST")
    assert body["details"]["errors"][0]["path"] == "$"


@pytest.mark.parametrize("raw", ['["text"]', '"text"', "42", "null", "true"])
def test_json_that_is_not_an_object_is_bad_request(keyed_client, execute, assert_error, raw):
    response = execute(keyed_client, raw=raw)

    body = assert_error(response, 400, "BAD_REQUEST")
    assert body["details"]["errors"] == [
        {"path": "$", "message": body["details"]["errors"][0]["message"]}
    ]
    assert "expected an object" in body["details"]["errors"][0]["message"]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_standard_json_constants_are_bad_request(keyed_client, execute, assert_error, constant):
    response = execute(keyed_client, raw=f'{{"text": "x", "top_words": {constant}}}')

    body = assert_error(response, 400, "BAD_REQUEST")
    assert constant.lstrip("-") in body["message"]


def test_missing_required_parameter_is_named_in_details(keyed_client, execute, assert_error):
    response = execute(keyed_client, {"top_words": 3})

    body = assert_error(response, 400, "BAD_REQUEST")
    assert body["details"]["errors"] == [{"path": "text", "message": "This field is required."}]


def test_empty_body_is_validated_as_an_empty_object(keyed_client, execute, assert_error):
    response = execute(keyed_client, raw="")

    body = assert_error(response, 400, "BAD_REQUEST")
    assert [e["path"] for e in body["details"]["errors"]] == ["text"]


def test_parameter_of_the_wrong_type_is_named_in_details(keyed_client, execute, assert_error):
    response = execute(keyed_client, {"text": "fine", "top_words": "ten"})

    body = assert_error(response, 400, "BAD_REQUEST")
    assert [e["path"] for e in body["details"]["errors"]] == ["top_words"]
    assert body["details"]["errors"][0]["message"] == "must be a whole number"


def test_unknown_parameter_is_named_in_details(keyed_client, execute, assert_error):
    response = execute(keyed_client, {"text": "fine", "colour": "blue"})

    body = assert_error(response, 400, "BAD_REQUEST")
    assert body["details"]["errors"] == [{"path": "colour", "message": "Unknown parameter."}]


def test_every_schema_violation_is_listed(keyed_client, execute, assert_error):
    response = execute(keyed_client, {"top_words": 500, "colour": "blue"})

    body = assert_error(response, 400, "BAD_REQUEST")
    assert sorted(e["path"] for e in body["details"]["errors"]) == ["colour", "text", "top_words"]


@pytest.mark.parametrize(
    "raw",
    [
        '{"text": ' + "[" * 100_000 + "]" * 100_000 + "}",
        "[" * 100_000 + "]" * 100_000,
        '{"a":' * 100_000 + "1" + "}" * 100_000,
    ],
    ids=["deep-value", "deep-array", "deep-objects"],
)
def test_json_nested_100000_deep_is_bad_request_not_a_crash(
    keyed_client, execute, assert_error, raw
):
    response = execute(keyed_client, raw=raw)

    body = assert_error(response, 400, "BAD_REQUEST")
    assert "deep" in body["message"]


def test_json_deeper_than_the_configured_depth_is_bad_request(
    keyed_client, execute, assert_error, settings
):
    depth = settings.BREACT_MAX_JSON_DEPTH
    raw = '{"text": "x", "top_words": ' + "[" * depth + "]" * depth + "}"

    response = execute(keyed_client, raw=raw)

    body = assert_error(response, 400, "BAD_REQUEST")
    assert str(depth) in body["message"]


@pytest.mark.parametrize(
    "raw",
    ['{"text": "nul \\u0000 inside"}', '{"text": "lone \\ud800 surrogate"}', '{"k\\u0000": 1}'],
    ids=["nul", "lone-surrogate", "nul-in-key"],
)
def test_strings_no_database_can_store_are_bad_request(keyed_client, execute, assert_error, raw):
    response = execute(keyed_client, raw=raw)

    body = assert_error(response, 400, "BAD_REQUEST")
    assert "NUL character or an unpaired surrogate" in body["message"]
    assert not Process.objects.exists()


def test_error_bodies_say_their_charset(api_client):
    response = api_client.get(SERVICES_URL)

    assert response["Content-Type"] == "application/json; charset=utf-8"


# --- body size --------------------------------------------------------------------------------


def body_of_size(size: int) -> str:
    """A valid execute body of exactly `size` bytes."""
    skeleton = '{"text": ""}'
    return '{"text": "' + "a" * (size - len(skeleton)) + '"}'


def test_body_over_the_limit_is_payload_too_large(
    keyed_client, key, execute, assert_error, settings
):
    settings.BREACT_MAX_BODY_BYTES = 200
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 200

    response = execute(keyed_client, raw=body_of_size(201))

    body = assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert body["details"]["limit"] == 200
    assert account_balance(account=key.account) == 100


def test_body_exactly_at_the_limit_is_accepted(keyed_client, execute, settings):
    settings.BREACT_MAX_BODY_BYTES = 200
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 200

    response = execute(keyed_client, raw=body_of_size(200))

    assert response.status_code == 202, response.content


def test_body_over_the_api_limit_but_under_djangos_is_payload_too_large(
    keyed_client, execute, assert_error, settings
):
    settings.BREACT_MAX_BODY_BYTES = 200
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000

    response = execute(keyed_client, raw=body_of_size(500))

    assert_error(response, 413, "PAYLOAD_TOO_LARGE")


def test_body_over_djangos_limit_but_under_the_apis_is_payload_too_large(
    keyed_client, execute, assert_error, settings
):
    settings.BREACT_MAX_BODY_BYTES = 10_000
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 200

    response = execute(keyed_client, raw=body_of_size(500))

    assert_error(response, 413, "PAYLOAD_TOO_LARGE")


# --- polling: one NOT_FOUND for everything ------------------------------------------------------


@pytest.fixture
def started(keyed_client, execute):
    """A process started by `key`: its 202 body."""
    response = execute(keyed_client)
    assert response.status_code == 202, response.content
    return response.json()


def test_poll_with_the_right_token_finds_the_process(keyed_client, poll, started):
    response = poll(keyed_client, started["process_id"], started["access_token"])

    assert response.status_code == 200
    assert response.json()["status"] == "pending"


def test_poll_failures_all_answer_one_not_found_body(
    keyed_client, make_key, client_for, poll, run_process, assert_error, started, execute
):
    other_client = client_for(make_key())
    expiring = execute(keyed_client, {"text": "Soon gone."}).json()
    run_process(expiring["process_id"])
    Process.objects.filter(public_id=expiring["process_id"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    process_id, token = started["process_id"], started["access_token"]

    responses = {
        "wrong token": poll(keyed_client, process_id, "not-the-token"),
        "missing token": poll(keyed_client, process_id, None),
        "empty token": poll(keyed_client, process_id, ""),
        "another account": poll(other_client, process_id, token),
        "unknown id": poll(keyed_client, "prc_doesnotexist", token),
        "expired": poll(keyed_client, expiring["process_id"], expiring["access_token"]),
    }

    bodies = {
        case: assert_error(response, 404, "NOT_FOUND") for case, response in responses.items()
    }
    first = without_request_id(bodies["wrong token"])
    assert {case: without_request_id(body) for case, body in bodies.items()} == dict.fromkeys(
        bodies, first
    )


def test_poll_of_a_purged_result_is_not_found(
    keyed_client, poll, run_process, assert_error, started
):
    run_process(started["process_id"])
    Process.objects.filter(public_id=started["process_id"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert results_purge() == 1

    response = poll(keyed_client, started["process_id"], started["access_token"])

    assert_error(response, 404, "NOT_FOUND")


# --- credits --------------------------------------------------------------------------------


def test_insufficient_credits_is_402_and_writes_nothing(
    make_key, client_for, execute, assert_error
):
    poor = make_key(credits=0)
    ledger_rows = LedgerEntry.objects.filter(account=poor.account).count()

    response = execute(client_for(poor))

    body = assert_error(response, 402, "INSUFFICIENT_CREDITS")
    assert body["details"] == {"required": 1, "balance": 0}
    assert not Process.objects.exists()
    assert LedgerEntry.objects.filter(account=poor.account).count() == ledger_rows
    assert account_balance(account=poor.account) == 0


def test_price_above_the_balance_is_402_with_both_numbers(
    make_key, client_for, execute, assert_error, analyze_endpoint
):
    analyze_endpoint.price = 5
    analyze_endpoint.save(update_fields=["price"])
    poor = make_key(credits=3)

    response = execute(client_for(poor))

    body = assert_error(response, 402, "INSUFFICIENT_CREDITS")
    assert body["details"] == {"required": 5, "balance": 3}
    assert account_balance(account=poor.account) == 3
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.CHARGE).exists()


def test_key_at_its_spend_cap_is_402_and_the_account_keeps_its_credits(
    make_key, client_for, execute, assert_error
):
    capped = make_key(credits=100, spend_cap=0)

    response = execute(client_for(capped))

    body = assert_error(response, 402, "INSUFFICIENT_CREDITS")
    assert body["details"]["required"] == 1
    assert "spend cap" in body["message"]
    assert account_balance(account=capped.account) == 100
    assert not Process.objects.exists()
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.CHARGE).exists()


# --- idempotency conflicts ------------------------------------------------------------------


def test_idempotency_key_in_flight_is_409(keyed_client, key, execute, assert_error):
    body = {"text": "Hello."}
    IdempotencyRecord.objects.create(
        account=key.account,
        key="retry-1",
        fingerprint=request_fingerprint(
            service_id="text_analyzer", endpoint="analyze", params=body
        ),
        state=IdempotencyRecord.State.IN_FLIGHT,
    )

    response = execute(keyed_client, body, HTTP_IDEMPOTENCY_KEY="retry-1")

    assert_error(response, 409, "IDEMPOTENCY_CONFLICT")
    assert account_balance(account=key.account) == 100
    assert not Process.objects.exists()


def test_idempotency_key_reused_with_another_body_is_422(keyed_client, key, execute, assert_error):
    first = execute(keyed_client, {"text": "First."}, HTTP_IDEMPOTENCY_KEY="retry-2")
    assert first.status_code == 202

    response = execute(keyed_client, {"text": "Second."}, HTTP_IDEMPOTENCY_KEY="retry-2")

    assert_error(response, 422, "IDEMPOTENCY_CONFLICT")
    assert account_balance(account=key.account) == 99
    assert Process.objects.count() == 1


def test_idempotency_key_longer_than_255_characters_is_bad_request(
    keyed_client, key, execute, assert_error
):
    response = execute(keyed_client, HTTP_IDEMPOTENCY_KEY="k" * 256)

    assert_error(response, 400, "BAD_REQUEST")
    assert account_balance(account=key.account) == 100


# --- rate limits ------------------------------------------------------------------------------


def test_over_the_keys_rate_limit_is_429_with_headers_and_details(
    make_key, client_for, execute, assert_error, still_rate_clock
):
    limited = make_key(rate_limit="3/m")
    client = client_for(limited)
    for _ in range(3):
        assert execute(client).status_code == 202

    response = execute(client)

    body = assert_error(response, 429, "RATE_LIMIT_EXCEEDED")
    reset = body["details"]["reset"]
    assert body["details"] == {"limit": 3, "remaining": 0, "window": 60, "reset": reset}
    assert 1 <= reset <= 60
    assert response["Retry-After"] == str(reset)
    assert response["X-RateLimit-Limit"] == "3"
    assert response["X-RateLimit-Remaining"] == "0"
    assert response["X-RateLimit-Reset"] == str(reset)
    assert account_balance(account=limited.account) == 97


def test_rate_limit_is_per_key(make_key, client_for, execute, still_rate_clock):
    limited = make_key(rate_limit="1/m")
    other = make_key(rate_limit="1/m", account=limited.account)
    assert execute(client_for(limited)).status_code == 202
    assert execute(client_for(limited)).status_code == 429

    response = execute(client_for(other))

    assert response.status_code == 202


def test_too_many_failed_authentications_from_one_address_is_429(
    api_client, key, assert_error, settings, still_rate_clock
):
    settings.BREACT_AUTH_FAILURE_RATE_LIMIT = "2/m"
    bad = "brk_" + "D" * 40
    for _ in range(2):
        assert_error(api_client.get(SERVICES_URL, HTTP_X_API_KEY=bad), 401, "UNAUTHORIZED")

    response = api_client.get(SERVICES_URL, HTTP_X_API_KEY=bad)

    body = assert_error(response, 429, "RATE_LIMIT_EXCEEDED")
    assert int(response["Retry-After"]) >= 1
    assert body["details"]["limit"] == 2
    assert body["details"]["remaining"] == 0
    # The address stays blocked for the window, even with a good key...
    blocked = api_client.get(SERVICES_URL, HTTP_X_API_KEY=key.raw)
    assert_error(blocked, 429, "RATE_LIMIT_EXCEEDED")
    # ...while another address is not affected.
    elsewhere = APIClient(REMOTE_ADDR="203.0.113.9")
    assert elsewhere.get(SERVICES_URL, HTTP_X_API_KEY=key.raw).status_code == 200


def test_parallel_wrong_keys_beyond_the_limit_are_refused_unchecked(
    api_client, key, settings, still_rate_clock
):
    """The attempt is counted before the key is checked: with the limit used up, even a good
    key from that address is not looked at (and is not counted as a failure either)."""
    settings.BREACT_AUTH_FAILURE_RATE_LIMIT = "3/m"
    bad = "brk_" + "E" * 40
    statuses = [api_client.get(SERVICES_URL, HTTP_X_API_KEY=bad).status_code for _ in range(6)]

    with mock.patch("accounts.auth.api_key_verify") as verify:
        blocked = api_client.get(SERVICES_URL, HTTP_X_API_KEY=key.raw)

    assert statuses == [401] * 3 + [429] * 3
    assert blocked.status_code == 429
    verify.assert_not_called()


def test_good_keys_do_not_use_up_the_failure_allowance(api_client, key, settings, still_rate_clock):
    settings.BREACT_AUTH_FAILURE_RATE_LIMIT = "2/m"
    for _ in range(5):
        assert api_client.get(SERVICES_URL, HTTP_X_API_KEY=key.raw).status_code == 200
    bad = "brk_" + "F" * 40

    statuses = [api_client.get(SERVICES_URL, HTTP_X_API_KEY=bad).status_code for _ in range(3)]

    assert statuses == [401, 401, 429]


def test_the_account_limit_counts_all_its_keys_together(
    make_key, client_for, execute, assert_error, still_rate_clock
):
    first = make_key(credits=100)
    Account.objects.filter(pk=first.account.pk).update(rate_limit="2/m")
    keys = [first, make_key(account=first.account), make_key(account=first.account)]

    statuses = [execute(client_for(keys[n % 3])).status_code for n in range(6)]
    refused = execute(client_for(keys[2]))

    assert statuses == [202, 202, 429, 429, 429, 429]
    body = assert_error(refused, 429, "RATE_LIMIT_EXCEEDED")
    assert "this account" in body["message"]
    assert body["details"]["limit"] == 2
    assert account_balance(account=first.account) == 98


def test_without_an_account_limit_the_default_is_per_account(
    make_key, client_for, execute, settings, still_rate_clock
):
    settings.BREACT_DEFAULT_RATE_LIMIT = "3/m"
    first = make_key(credits=100)
    second = make_key(account=first.account)

    statuses = [execute(client_for(k)).status_code for k in (first, second, first, second)]

    assert statuses == [202, 202, 202, 429]


def test_a_keys_own_limit_still_holds_under_the_accounts(
    make_key, client_for, execute, still_rate_clock
):
    slow = make_key(credits=100, rate_limit="1/m")
    Account.objects.filter(pk=slow.account.pk).update(rate_limit="10/m")
    other = make_key(account=slow.account)

    assert execute(client_for(slow)).status_code == 202
    refused = execute(client_for(slow))
    statuses = [execute(client_for(other)).status_code for _ in range(9)]

    assert refused.status_code == 429
    assert "this key" in refused.json()["message"]
    # The refused call of the slow key did not use up the account's allowance.
    assert statuses == [202] * 9
    assert execute(client_for(other)).status_code == 429


def test_rate_limit_headers_show_the_counter_that_refuses_first(
    make_key, client_for, execute, still_rate_clock
):
    key = make_key(credits=100, rate_limit="5/m")
    Account.objects.filter(pk=key.account.pk).update(rate_limit="3/m")

    response = execute(client_for(key))

    assert response.status_code == 202
    assert response["X-RateLimit-Limit"] == "3"
    assert response["X-RateLimit-Remaining"] == "2"


# --- a cache (Redis) outage -------------------------------------------------------------------


def test_a_cache_outage_answers_503_on_execute_and_charges_nothing(
    keyed_client, key, execute, assert_error, cache_down
):
    response = execute(keyed_client)

    body = assert_error(response, 503, "SERVICE_UNAVAILABLE")
    assert int(response["Retry-After"]) >= 1
    assert "nothing was charged" in body["message"]
    assert account_balance(account=key.account) == 100
    assert not Process.objects.exists()


@pytest.mark.parametrize("raw_key", ["good", "brk_" + "G" * 40])
def test_a_cache_outage_answers_503_on_reads_with_good_and_bad_keys(
    api_client, key, assert_error, cache_down, raw_key
):
    sent = key.raw if raw_key == "good" else raw_key

    response = api_client.get(SERVICES_URL, HTTP_X_API_KEY=sent)

    assert_error(response, 503, "SERVICE_UNAVAILABLE")


# --- routing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["/api/v1/nope", "/api/v1/services/text_analyzer/analyze/extra", "/api/v1/"],
)
def test_unknown_route_under_the_api_is_the_not_found_envelope(api_client, assert_error, url):
    response = api_client.get(url)

    body = assert_error(response, 404, "NOT_FOUND")
    assert url in body["message"]


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("delete", SERVICES_URL),
        ("put", "/api/v1/account"),
        ("get", "/api/v1/services/text_analyzer/analyze"),
        ("post", "/api/v1/services/result/prc_x"),
    ],
)
def test_wrong_method_is_a_json_envelope(keyed_client, assert_error, method, url):
    response = getattr(keyed_client, method)(url)

    body = assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert method.upper() in body["message"]


def test_wrong_method_on_an_open_endpoint_is_a_json_envelope(api_client, assert_error):
    response = api_client.post("/api/v1/health")

    assert_error(response, 405, "METHOD_NOT_ALLOWED")


def test_unexpected_exception_is_internal_error_without_a_trace(
    keyed_client, assert_error, monkeypatch
):
    def broken():
        raise RuntimeError("secret internals")

    monkeypatch.setattr(views, "service_catalogue", broken)

    response = keyed_client.get(SERVICES_URL)

    body = assert_error(response, 500, "INTERNAL_ERROR")
    assert "secret internals" not in response.content.decode()
    assert "RuntimeError" not in body["message"]


# --- request ids ------------------------------------------------------------------------------


def test_safe_client_request_id_is_echoed_on_success(keyed_client):
    response = keyed_client.get(SERVICES_URL, HTTP_X_REQUEST_ID="client-abc.123:x_y")

    assert response.status_code == 200
    assert response["X-Request-ID"] == "client-abc.123:x_y"


def test_safe_client_request_id_is_echoed_in_the_error_body(api_client, assert_error):
    response = api_client.get(SERVICES_URL, HTTP_X_REQUEST_ID="trace-42")

    body = assert_error(response, 401, "MISSING_API_KEY")
    assert body["request_id"] == "trace-42"


@pytest.mark.parametrize(
    "sent",
    ["has spaces", "x" * 129, "<script>", "semi;colon", "new\\nline"],
)
def test_unsafe_client_request_id_is_replaced(api_client, assert_error, sent):
    response = api_client.get(SERVICES_URL, HTTP_X_REQUEST_ID=sent)

    body = assert_error(response, 401, "MISSING_API_KEY")
    assert body["request_id"] != sent
    assert body["request_id"].startswith("req_")


def test_request_id_is_generated_and_unique_when_none_is_sent(keyed_client):
    first = keyed_client.get(SERVICES_URL)
    second = keyed_client.get(SERVICES_URL)

    assert first["X-Request-ID"].startswith("req_")
    assert second["X-Request-ID"].startswith("req_")
    assert first["X-Request-ID"] != second["X-Request-ID"]
