"""The read endpoints: services, one service, account, usage, health, schema and docs."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
import yaml
from django.utils import timezone

from services.api import views
from services.models import Service, UsageLog
from tests.factories import charge_logged_calls

pytestmark = pytest.mark.django_db


# --- services ---------------------------------------------------------------------------------


def test_service_list_is_an_object_keyed_by_service_id(keyed_client):
    response = keyed_client.get("/api/v1/services")

    assert response.status_code == 200
    services = response.json()
    assert isinstance(services, dict)
    assert "text_analyzer" in services
    assert all(service["id"] == service_id for service_id, service in services.items())


def test_service_list_describes_text_analyzer_from_its_schema(keyed_client):
    service = keyed_client.get("/api/v1/services").json()["text_analyzer"]

    assert service["name"] == "Text Analyzer"
    assert service["path"] == "/api/v1/services/text_analyzer"
    assert service["status"] == "active"
    assert service["created_at"].endswith("Z")
    analyze = service["endpoints"]["analyze"]
    assert analyze["method"] == "POST"
    assert analyze["is_async"] is True
    assert analyze["credits"] == 1
    assert analyze["parameters"]["text"]["type"] == "string"
    assert analyze["parameters"]["text"]["required"] is True
    assert analyze["parameters"]["top_words"]["required"] is False
    assert analyze["parameters"]["top_words"]["default"] == 10
    assert "input_schema" not in analyze


def test_service_list_shows_the_price_set_on_the_endpoint_row(keyed_client, analyze_endpoint):
    analyze_endpoint.price = 4
    analyze_endpoint.save(update_fields=["price"])

    services = keyed_client.get("/api/v1/services").json()

    assert services["text_analyzer"]["endpoints"]["analyze"]["credits"] == 4


def test_service_list_leaves_out_a_disabled_service(keyed_client, analyze_endpoint):
    Service.objects.filter(service_id="text_analyzer").update(enabled=False)

    services = keyed_client.get("/api/v1/services").json()

    assert "text_analyzer" not in services


def test_service_list_leaves_out_a_disabled_endpoint(keyed_client, analyze_endpoint):
    analyze_endpoint.enabled = False
    analyze_endpoint.save(update_fields=["enabled"])

    services = keyed_client.get("/api/v1/services").json()

    assert "analyze" not in services.get("text_analyzer", {}).get("endpoints", {})


def test_service_detail_adds_the_input_schema(keyed_client):
    response = keyed_client.get("/api/v1/services/text_analyzer")

    assert response.status_code == 200
    service = response.json()
    assert service["id"] == "text_analyzer"
    schema = service["endpoints"]["analyze"]["input_schema"]
    assert schema["type"] == "object"
    assert schema["required"] == ["text"]
    assert schema["properties"]["text"]["type"] == "string"
    assert service["endpoints"]["analyze"]["parameters"]["text"]["required"] is True


def test_service_detail_of_a_disabled_service_is_service_not_found(
    keyed_client, assert_error, analyze_endpoint
):
    Service.objects.filter(service_id="text_analyzer").update(enabled=False)

    response = keyed_client.get("/api/v1/services/text_analyzer")

    assert_error(response, 404, "SERVICE_NOT_FOUND")


@pytest.mark.parametrize(
    "url",
    ["/api/v1/services", "/api/v1/services/text_analyzer", "/api/v1/account", "/api/v1/usage"],
)
def test_authenticated_reads_carry_rate_limit_headers(keyed_client, settings, url):
    settings.BREACT_POLL_RATE_LIMIT = "50/m"

    first = keyed_client.get(url)
    second = keyed_client.get(url)

    assert first.status_code == 200
    assert first["X-RateLimit-Limit"] == "50"
    assert first["X-RateLimit-Remaining"] == "49"
    assert second["X-RateLimit-Remaining"] == "48"
    assert 1 <= int(first["X-RateLimit-Reset"]) <= 60


def test_reads_over_the_read_limit_are_429(keyed_client, settings, assert_error, still_rate_clock):
    settings.BREACT_POLL_RATE_LIMIT = "2/m"
    for _ in range(2):
        assert keyed_client.get("/api/v1/services").status_code == 200

    response = keyed_client.get("/api/v1/account")

    body = assert_error(response, 429, "RATE_LIMIT_EXCEEDED")
    assert body["details"]["limit"] == 2
    assert response["Retry-After"]


# --- account --------------------------------------------------------------------------------


def test_account_describes_the_calling_key(make_key, client_for, settings):
    settings.BREACT_POLL_RATE_LIMIT = "600/m"
    key = make_key(credits=42, scopes=["text_analyzer"], rate_limit="10/m", spend_cap=30)

    response = client_for(key).get("/api/v1/account")

    assert response.status_code == 200
    body = response.json()
    assert body["email"] == key.account.owner.email
    assert body["status"] == "active"
    assert body["balance"] == 42
    assert body["key"]["name"] == key.name
    assert body["key"]["prefix"] == key.raw[:12]
    assert body["key"]["last_four"] == key.raw[-4:]
    assert body["key"]["scopes"] == ["text_analyzer"]
    assert body["key"]["spend_cap"] == 30
    assert body["key"]["credits_spent"] == 0
    assert body["limits"]["execute"] == "10/m"
    assert body["limits"]["read"] == "600/m"
    assert key.raw not in response.content.decode()


def test_account_balance_follows_executes(keyed_client, execute):
    execute(keyed_client)
    execute(keyed_client)

    assert keyed_client.get("/api/v1/account").json()["balance"] == 98


# --- usage ----------------------------------------------------------------------------------


def test_usage_aggregates_calls_by_day_and_service(keyed_client, key, execute):
    execute(keyed_client)
    execute(keyed_client)
    execute(keyed_client, {"text": 5})  # a 400: counted as a call and an error, no credits
    yesterday = timezone.now() - timedelta(days=1)
    for status, credits in [(202, 3), (500, 0)]:
        UsageLog.objects.create(
            account=key.account,
            method="POST",
            route="services/<str:service_id>/<str:endpoint>",
            service_id="summary",
            endpoint="summarize",
            status_code=status,
            duration_ms=5,
            credits=credits,
            created_at=yesterday,
        )
    charge_logged_calls(key.account)  # the 202's process and charge, as the API writes them

    response = keyed_client.get("/api/v1/usage")

    assert response.status_code == 200
    body = response.json()
    today = timezone.now().date()
    assert body["to"] == today.isoformat()
    assert body["from"] == (today - timedelta(days=29)).isoformat()
    assert body["days"] == [
        {
            "date": (today - timedelta(days=1)).isoformat(),
            "service": "summary",
            "calls": 2,
            "errors": 1,
            "credits": 3,
        },
        {
            "date": today.isoformat(),
            "service": "text_analyzer",
            "calls": 3,
            "errors": 1,
            "credits": 2,
        },
    ]
    assert body["totals"] == {"calls": 5, "errors": 2, "credits": 5}


def test_usage_filters_by_service_and_dates(keyed_client, key, execute):
    execute(keyed_client)
    UsageLog.objects.create(
        account=key.account,
        method="POST",
        route="r",
        service_id="summary",
        status_code=202,
        duration_ms=1,
        credits=2,
        created_at=timezone.now() - timedelta(days=3),
    )
    charge_logged_calls(key.account)  # its process and charge, as the API writes them
    today = timezone.now().date()

    only_text = keyed_client.get("/api/v1/usage?service=text_analyzer").json()
    only_old = keyed_client.get(
        f"/api/v1/usage?from={today - timedelta(days=5)}&to={today - timedelta(days=1)}"
    ).json()

    assert [row["service"] for row in only_text["days"]] == ["text_analyzer"]
    assert [row["service"] for row in only_old["days"]] == ["summary"]
    assert only_old["totals"]["credits"] == 2


def test_usage_shows_only_the_callers_account(keyed_client, make_key, client_for, execute):
    execute(client_for(make_key()))

    body = keyed_client.get("/api/v1/usage").json()

    assert body["days"] == []
    assert body["totals"] == {"calls": 0, "errors": 0, "credits": 0}


@pytest.mark.parametrize(
    ("query", "path"),
    [
        ("from=yesterday", "from"),
        ("to=2024-13-01", "to"),
        ("from=2024-02-30", "from"),
        ("from=01/02/2024", "from"),
    ],
)
def test_usage_with_a_bad_date_is_bad_request(keyed_client, assert_error, query, path):
    response = keyed_client.get(f"/api/v1/usage?{query}")

    body = assert_error(response, 400, "BAD_REQUEST")
    assert body["details"]["errors"][0]["path"] == path


@pytest.mark.parametrize(
    "query",
    ["from=2024-05-02&to=2024-05-01", "from=2023-01-01&to=2024-12-31"],
    ids=["from-after-to", "range-too-long"],
)
def test_usage_with_a_bad_range_is_bad_request(keyed_client, assert_error, query):
    response = keyed_client.get(f"/api/v1/usage?{query}")

    assert_error(response, 400, "BAD_REQUEST")


# --- health, schema, docs -----------------------------------------------------------------------


def test_health_needs_no_key_and_reports_each_check(api_client, heartbeats):
    heartbeats(worker_age=1, beat_age=1)

    response = api_client.get("/api/v1/health")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {
        "database": "ok",
        "cache": "ok",
        "broker": "ok",
        "worker": "ok",
        "beat": "ok",
    }
    assert body["workers"] == 1
    assert body["queue"] == {"queued": 0, "oldest_queued_seconds": None}
    assert response["X-Request-ID"]


def test_health_ignores_a_bad_key(api_client):
    response = api_client.get("/api/v1/health", HTTP_X_API_KEY="brk_" + "Z" * 40)

    assert response.status_code == 200


def test_health_with_the_broker_down_is_503(api_client, assert_error, monkeypatch):
    monkeypatch.setattr(views, "_check_broker", lambda: "error: ConnectionError")

    response = api_client.get("/api/v1/health")

    body = assert_error(response, 503, "SERVICE_UNAVAILABLE")
    assert body["details"]["checks"]["broker"] == "error: ConnectionError"
    assert body["details"]["checks"]["database"] == "ok"
    assert "broker" in body["message"]
    assert response["Retry-After"]


def test_schema_is_an_openapi_3_document_without_auth(api_client):
    response = api_client.get("/api/v1/schema")

    assert response.status_code == 200
    document = yaml.safe_load(response.content)
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "BReact Console API"
    paths = document["paths"]
    assert "/api/v1/services" in paths
    assert "post" in paths["/api/v1/services/text_analyzer/analyze"]
    assert "/api/v1/services/result/{process_id}" in paths
    assert "/api/v1/health" in paths


def test_schema_is_served_as_json_on_request(api_client):
    response = api_client.get("/api/v1/schema?format=json")

    assert response.status_code == 200
    document = json.loads(response.content)
    assert document["openapi"].startswith("3.")


def test_docs_page_uses_local_static_assets_only(api_client):
    response = api_client.get("/api/docs")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(a.startswith("/static/") and a.endswith(".js") for a in assets)
    assert any(a.startswith("/static/") and a.endswith(".css") for a in assets)
    assert not [a for a in assets if "//" in a]
    for host in ("cdn.jsdelivr.net", "unpkg.com", "cdnjs.cloudflare.com"):
        assert host not in html
    assert "/api/v1/schema" in html


def test_docs_page_assets_are_served(api_client):
    html = api_client.get("/api/docs").content.decode()
    scripts = re.findall(r'src="(/static/[^"]+\.js)"', html)
    assert scripts

    for script in scripts:
        response = api_client.get(script)
        assert response.status_code == 200, script
