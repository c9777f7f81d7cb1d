"""Values no database can take, and bodies that are not UTF-8 JSON, get a clear error in the
envelope (API) or a form error / 404 (pages): never a 500, never a charge."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.ledger.selectors import account_balance
from breact.params import ascii_int, value_problem
from services.models import Process
from services.usage.actions import usage_log_record
from tests.api.conftest import EXECUTE_URL
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client() -> Client:
    client = Client()
    client.force_login(UserFactory(is_staff=True))
    return client


# --- the four 500s of the adversarial pass, and the class behind them ------------------------


def test_usage_ending_before_the_first_day_is_a_bad_request(keyed_client, assert_error):
    body = assert_error(keyed_client.get("/api/v1/usage?to=0001-01-01"), 400, "BAD_REQUEST")

    assert body["details"]["errors"] == [
        {"path": "to", "message": "Enter a date from 2000-01-01 to 2999-12-31."}
    ]


@pytest.mark.parametrize("query", ["to=9999-12-31", "from=9999-12-30&to=9999-12-31", "from=1-1-1"])
def test_usage_dates_out_of_range_are_bad_requests(keyed_client, assert_error, query):
    assert_error(keyed_client.get(f"/api/v1/usage?{query}"), 400, "BAD_REQUEST")


def test_usage_service_with_a_nul_is_a_bad_request(keyed_client, assert_error):
    body = assert_error(keyed_client.get("/api/v1/usage?service=%00"), 400, "BAD_REQUEST")

    assert body["details"]["errors"][0]["path"] == "service"
    assert "NUL" in body["message"]


def test_a_nul_in_a_process_id_is_not_found(keyed_client, assert_error):
    response = keyed_client.get("/api/v1/services/result/%00abc?access_token=x")

    assert_error(response, 404, "NOT_FOUND")


def test_a_nul_in_a_knowledge_base_id_is_not_found(keyed_client, assert_error):
    assert_error(keyed_client.get("/api/v1/knowledge-bases/%00"), 404, "NOT_FOUND")


def test_an_overlong_query_value_is_a_bad_request(keyed_client, assert_error):
    response = keyed_client.get("/api/v1/usage?service=" + "a" * 1025)

    assert_error(response, 400, "BAD_REQUEST")


def test_an_overlong_path_segment_is_not_found(keyed_client, assert_error):
    assert_error(keyed_client.get("/api/v1/knowledge-bases/" + "k" * 256), 404, "NOT_FOUND")


def test_bad_values_are_refused_before_authentication(api_client, assert_error):
    """No key, no database read: the guard answers first."""
    assert_error(api_client.get("/api/v1/usage?service=%00"), 400, "BAD_REQUEST")


def test_staff_account_search_for_a_superscript_digit_is_no_error(staff_client):
    response = staff_client.get("/staff/accounts/?q=%C2%B2")

    assert response.status_code == 200


def test_staff_audit_filter_by_a_superscript_digit_is_no_error(staff_client):
    response = staff_client.get("/staff/audit/?account=%C2%B2")

    assert response.status_code == 200


def test_a_page_with_a_nul_in_the_query_says_which_parameter(page_client):
    response = page_client.get("/usage/?service=%00")

    assert response.status_code == 400
    assert b"<code>service</code>" in response.content
    assert b"NUL" in response.content


def test_a_page_with_a_nul_in_the_path_is_not_found(page_client):
    assert page_client.get("/playground/runs/%00/").status_code == 404


@pytest.mark.parametrize("query", ["to=0001-01-01", "from=9999-12-31", "to=9999-12-31"])
def test_usage_page_dates_out_of_range_are_form_errors(page_client, account, query):
    usage_log_record(
        api_key=None,
        account_id=account.pk,
        method="POST",
        route="services/<str:service_id>/<str:endpoint>",
        service_id="text_analyzer",
        endpoint="analyze",
        process_id="",
        status_code=202,
        error_code="",
        duration_ms=5,
        credits=1,
        request_id="req_1",
    )
    response = page_client.get(f"/usage/?{query}")

    assert response.status_code == 200
    assert b"Enter a date from 2000-01-01 to 2999-12-31." in response.content


def test_staff_audit_date_out_of_range_is_a_form_error(staff_client):
    response = staff_client.get("/staff/audit/?to=9999-12-31")

    assert response.status_code == 200
    assert b"Enter a date from 2000-01-01 to 2999-12-31." in response.content


def test_key_expiry_out_of_range_is_a_form_error(page_client):
    response = page_client.post(
        "/keys/new/", {"name": "far", "expires_in": "date", "expires_on": "9999-12-31"}
    )

    assert response.status_code == 200
    assert b"Enter a date from 2000-01-01 to 2999-12-31." in response.content


def test_ascii_int_reads_ascii_digits_only():
    assert ascii_int("42") == 42
    assert ascii_int("²") is None  # "²".isdigit() is True, int("²") raises
    assert ascii_int("٣") is None  # int() would read it as 3
    assert ascii_int("1" * 19) is None  # past a bigint
    assert ascii_int(" 7") is None


def test_value_problem_names_nul_surrogate_and_length():
    assert value_problem("ok") is None
    assert value_problem("a\x00b") == "contains a NUL character"
    assert value_problem("\ud800") == "contains an unpaired surrogate"
    assert value_problem("x" * 1025) == "is longer than 1024 characters"


# --- bodies that are not UTF-8 JSON ------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", b'{"text": "Hello."}'),
        ("application/x-www-form-urlencoded", b"text=Hello."),
        ("application/json; charset=nope", b'{"text": "Hello."}'),
        ("application/json; charset=utf-16", '{"text": "Hello."}'.encode("utf-16")),
    ],
)
def test_a_body_not_declared_as_utf8_json_is_unsupported_and_free(
    keyed_client, key, assert_error, content_type, body
):
    response = keyed_client.post(EXECUTE_URL, data=body, content_type=content_type)

    body_json = assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert "application/json" in body_json["message"]
    assert account_balance(account=key.account) == 100
    assert not Process.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        '{"text": "Hello."}'.encode("utf-16"),  # with its BOM
        '{"text": "Hello."}'.encode("utf-16-le"),  # without
        b'\xef\xbb\xbf{"text": "Hello."}',  # a UTF-8 byte order mark
        b'{"text": "caf\xe9"}',  # Latin-1
    ],
)
def test_a_json_body_that_is_not_plain_utf8_is_a_bad_request(keyed_client, key, assert_error, body):
    response = keyed_client.post(EXECUTE_URL, data=body, content_type="application/json")

    assert_error(response, 400, "BAD_REQUEST")
    assert account_balance(account=key.account) == 100


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON"]
)
def test_utf8_json_is_accepted(keyed_client, content_type):
    response = keyed_client.post(
        EXECUTE_URL, data=b'{"text": "Hello there."}', content_type=content_type
    )

    assert response.status_code == 202, response.content


def test_knowledge_base_bodies_need_json_too(keyed_client, assert_error):
    response = keyed_client.post(
        "/api/v1/knowledge-bases", data=b'{"name": "Docs"}', content_type="text/plain"
    )

    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_a_number_is_not_a_knowledge_base_name(keyed_client, assert_error):
    response = keyed_client.post("/api/v1/knowledge-bases", {"name": 0}, format="json")

    body = assert_error(response, 400, "BAD_REQUEST")
    assert body["details"]["errors"] == [{"path": "name", "message": "Must be a string."}]


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=abc", "cursor=" + "c" * 201])
def test_page_parameters_outside_the_document_are_bad_requests(keyed_client, assert_error, query):
    body = assert_error(keyed_client.get(f"/api/v1/knowledge-bases?{query}"), 400, "BAD_REQUEST")
    assert body["details"]["errors"][0]["path"] == query.split("=")[0]
