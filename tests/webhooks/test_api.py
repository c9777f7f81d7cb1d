"""/api/v1/webhooks…: register (secret shown once), list, change, roll, test, deliveries,
resend, delete; bad input is a 400 in the envelope; another account's ids are 404."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from services.webhooks import signing
from services.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.factories import ApiKeyFactory

pytestmark = pytest.mark.django_db

URL = "https://hooks.example.com/breact"


def _create(client: APIClient, **body: object) -> dict:
    answer = client.post("/api/v1/webhooks", {"url": URL, **body}, format="json")
    assert answer.status_code == 201, answer.content
    return answer.json()


def test_register_shows_the_secret_once(keyed_client):
    created = _create(keyed_client, events=["process.completed"], description="prod")
    assert created["id"].startswith("whe_")
    assert created["secret"].startswith(signing.SECRET_PREFIX)
    assert created["events"] == ["process.completed"] and created["enabled"] is True

    got = keyed_client.get(f"/api/v1/webhooks/{created['id']}").json()
    assert "secret" not in got and got["url"] == URL
    listed = keyed_client.get("/api/v1/webhooks").json()
    assert [e["id"] for e in listed["results"]] == [created["id"]]
    assert all("secret" not in e for e in listed["results"])


@pytest.mark.parametrize(
    "body",
    [
        {"url": "http://127.0.0.1:9/x"},
        {"url": "http://10.0.0.1/x"},
        {"url": "gopher://example.com"},
        {"url": URL, "events": ["nope"]},
        {"url": 5},
        {},
    ],
)
def test_bad_registrations_are_400(keyed_client, body):
    answer = keyed_client.post("/api/v1/webhooks", body, format="json")
    assert answer.status_code == 400, answer.content
    assert answer.json()["error"] == "BAD_REQUEST"
    assert not WebhookEndpoint.objects.exists()


def test_change_disable_and_delete(keyed_client):
    created = _create(keyed_client)
    path = f"/api/v1/webhooks/{created['id']}"
    changed = keyed_client.patch(
        path, {"enabled": False, "events": ["credits.low"]}, format="json"
    ).json()
    assert changed["enabled"] is False and changed["events"] == ["credits.low"]
    assert keyed_client.patch(path, {"url": "http://[::1]/"}, format="json").status_code == 400
    assert keyed_client.delete(path).json() == {"id": created["id"], "deleted": True}
    assert keyed_client.get(path).status_code == 404


def test_roll_returns_a_new_secret_and_keeps_the_old_for_the_grace(keyed_client):
    created = _create(keyed_client)
    rolled = keyed_client.post(
        f"/api/v1/webhooks/{created['id']}/roll-secret", {"grace_seconds": 3600}, format="json"
    ).json()
    assert rolled["secret"] != created["secret"]
    assert rolled["previous_secret_expires_at"]
    endpoint = WebhookEndpoint.objects.get(public_id=created["id"])
    assert endpoint.signing_secrets() == [rolled["secret"], created["secret"]]
    bad = keyed_client.post(
        f"/api/v1/webhooks/{created['id']}/roll-secret", {"grace_seconds": -1}, format="json"
    )
    assert bad.status_code == 400


def test_test_event_deliveries_and_resend(keyed_client):
    created = _create(keyed_client)
    base = f"/api/v1/webhooks/{created['id']}"
    queued = keyed_client.post(f"{base}/test")
    assert queued.status_code == 202
    event_id = queued.json()["id"]
    page = keyed_client.get(f"{base}/deliveries").json()
    assert [d["id"] for d in page["results"]] == [event_id]
    assert page["results"][0]["event"] == "test" and page["results"][0]["state"] == "pending"
    # Still pending: a resend is not needed (not queued twice).
    assert keyed_client.post(f"{base}/deliveries/{event_id}/resend").json()["queued"] is False
    WebhookDelivery.objects.update(state="failed")
    assert keyed_client.post(f"{base}/deliveries/{event_id}/resend").json()["queued"] is True
    assert keyed_client.post(f"{base}/deliveries/evt_nope/resend").status_code == 404


def test_another_accounts_endpoint_is_not_found(keyed_client):
    created = _create(keyed_client)
    other = APIClient()
    other.credentials(HTTP_X_API_KEY=ApiKeyFactory().raw)
    for method, suffix in (
        ("get", ""),
        ("patch", ""),
        ("delete", ""),
        ("post", "/test"),
        ("post", "/roll-secret"),
        ("get", "/deliveries"),
    ):
        answer = getattr(other, method)(
            f"/api/v1/webhooks/{created['id']}{suffix}", {}, format="json"
        )
        assert answer.status_code == 404, (method, suffix)
        assert answer.json()["error"] == "NOT_FOUND"
    assert other.get("/api/v1/webhooks").json()["results"] == []
    assert WebhookEndpoint.objects.get().enabled


def test_webhooks_need_a_key(api_client):
    answer = api_client.get("/api/v1/webhooks")
    assert answer.status_code == 401 and answer.json()["error"] == "MISSING_API_KEY"


def test_the_schema_documents_the_webhook_operations(api_client):
    document = api_client.get("/api/v1/schema", HTTP_ACCEPT="application/json").json()
    paths = document["paths"]
    assert {"get", "post"} <= paths["/api/v1/webhooks"].keys()
    assert "post" in paths["/api/v1/webhooks/{webhook_id}/roll-secret"]
    assert "post" in paths["/api/v1/webhooks/{webhook_id}/deliveries/{event_id}/resend"]
    assert {"/api/v1/health/live", "/api/v1/health/ready"} <= paths.keys()
