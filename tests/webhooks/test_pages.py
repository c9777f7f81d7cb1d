"""Console pages of webhooks: add (secret once), the deliveries page, test event, resend,
enable/disable, roll, delete; another user's endpoint is a 404."""

from __future__ import annotations

import pytest
from django.test import Client

from services.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def page_client() -> tuple[Client, object]:
    account = AccountFactory(credits=10)
    client = Client()
    client.force_login(account.owner)
    return client, account


def test_add_an_endpoint_shows_its_secret_once(page_client):
    client, account = page_client
    assert client.get("/webhooks/").status_code == 200
    answer = client.post(
        "/webhooks/", {"url": "https://example.com/h", "events": ["process.completed"]}
    )
    assert answer.status_code == 200
    endpoint = WebhookEndpoint.objects.get(account=account)
    assert endpoint.secret in answer.content.decode()
    assert "no-cache" in answer["Cache-Control"] or "max-age=0" in answer["Cache-Control"]
    listed = client.get("/webhooks/").content.decode()
    assert "https://example.com/h" in listed and endpoint.secret not in listed


def test_a_refused_url_is_a_form_error(page_client):
    client, _ = page_client
    answer = client.post("/webhooks/", {"url": "http://192.168.0.1/h"})
    assert answer.status_code == 200
    assert "private address" in answer.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_deliveries_page_test_event_resend_toggle_roll_delete(page_client):
    client, account = page_client
    client.post("/webhooks/", {"url": "https://example.com/h"})
    endpoint = WebhookEndpoint.objects.get(account=account)
    base = f"/webhooks/{endpoint.public_id}/"
    assert "No deliveries yet" in client.get(base).content.decode()

    assert client.post(base + "test/").status_code == 302
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    page = client.get(base).content.decode()
    assert delivery.event.public_id in page and "Pending" in page
    partial = client.get(base, HTTP_HX_REQUEST="true").content.decode()
    assert partial.lstrip().startswith('<section id="deliveries"')

    WebhookDelivery.objects.update(state="failed")
    resend = f"{base}deliveries/{delivery.event.public_id}/resend/"
    assert client.post(resend).status_code == 302
    delivery.refresh_from_db()
    assert delivery.state == "pending"

    client.post(base + "toggle/")
    endpoint.refresh_from_db()
    assert not endpoint.enabled

    old = endpoint.secret
    rolled = client.post(base + "roll/", {"grace": "3600"})
    endpoint.refresh_from_db()
    assert endpoint.secret != old and endpoint.secret in rolled.content.decode()
    assert endpoint.previous_secret == old

    client.post(base + "delete/")
    assert not WebhookEndpoint.objects.exists()


def test_another_users_endpoint_is_not_found(page_client):
    client, account = page_client
    client.post("/webhooks/", {"url": "https://example.com/h"})
    endpoint = WebhookEndpoint.objects.get(account=account)
    stranger = Client()
    stranger.force_login(AccountFactory().owner)
    base = f"/webhooks/{endpoint.public_id}/"
    assert stranger.get(base).status_code == 404
    for action in ("toggle/", "roll/", "test/", "delete/"):
        assert stranger.post(base + action, {"grace": "0"}).status_code == 404
    endpoint.refresh_from_db()
    assert endpoint.enabled


def test_webhook_pages_need_a_log_in():
    answer = Client().get("/webhooks/")
    assert answer.status_code == 302 and "/login/" in answer["Location"]


def test_the_deliveries_page_shows_every_attempt_with_its_status_time_and_answer(
    page_client, receiver, eager_worker
):
    from django.template.defaultfilters import date

    from services.webhooks import actions
    from services.webhooks.models import WebhookAttempt

    client, account = page_client
    endpoint, _ = actions.endpoint_create(account_id=account.pk, url=receiver.url, events=None)
    receiver.script(500, 200)  # the first attempt fails, the retry (inline here) succeeds
    delivery = actions.test_event_send(endpoint=endpoint)
    actions.delivery_attempt(delivery_pk=delivery.pk)
    first, second = WebhookAttempt.objects.filter(delivery=delivery).order_by("number")
    assert (first.status_code, second.status_code) == (500, 200)

    page = client.get(f"/webhooks/{endpoint.public_id}/").content.decode()

    row = page[page.index(f'id="delivery-{delivery.event.public_id}"') :]
    row = row[: row.index("</tr>")]
    assert 'data-state="succeeded"' in row
    for attempt, answer in ((first, "false"), (second, "true")):
        line = row[row.index(f'id="attempt-{attempt.pk}"') :]
        line = line[: line.index("</div>")]
        assert f"#{attempt.number}" in line
        assert date(attempt.started_at, "H:i:s") in line
        assert f"HTTP {attempt.status_code}" in line
        assert f"{attempt.duration_ms} ms" in line
        assert f"{{&quot;received&quot;: {answer}}}" in line  # the start of its answer
