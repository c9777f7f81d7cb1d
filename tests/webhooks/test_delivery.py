"""Delivery of signed events to a loopback receiver: signatures, retries after 500s and
timeouts, exactly one successful delivery per event, refused addresses never contacted,
nothing sent for a rolled-back change, and no query for accounts without endpoints."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from services.execution import actions as service_actions
from services.models import Process
from services.webhooks import actions, events, signing
from services.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def _endpoint(account: Any, url: str, **options: Any) -> tuple[WebhookEndpoint, str]:
    return actions.endpoint_create(account_id=account.pk, url=url, events=None, **options)


def test_a_completed_process_is_posted_once_signed_with_the_poll_body(
    receiver, key, run_endpoint, keyed_client
):
    endpoint, secret = _endpoint(key.account, receiver.url)
    receiver.secrets = [secret]

    poll = run_endpoint("text_analyzer", "analyze", {"text": "One sentence. Two sentences."})

    assert len(receiver.received) == 1
    got = receiver.received[0]
    assert got.verified
    body = got.body
    assert body["event"] == "process.completed"
    assert body["id"].startswith("evt_") and body["created_at"].endswith("Z")
    assert body["status"] == "completed"
    assert body["result"] == poll["result"]
    assert body["service"] == "text_analyzer" and body["endpoint"] == "analyze"
    assert got.headers["BReact-Event"] == "process.completed"
    assert got.headers["BReact-Event-Id"] == body["id"]
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.state == "succeeded" and delivery.attempts == 1
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.status_code == 200 and '"received": true' in attempt.response_snippet


def test_a_wrong_secret_does_not_verify(receiver, key, run_endpoint):
    _endpoint(key.account, receiver.url)
    receiver.secrets = [signing.secret_new()]
    run_endpoint("text_analyzer", "analyze", {"text": "Hello there."})
    assert len(receiver.received) == 1
    assert not receiver.received[0].verified


def test_retries_after_a_500_and_a_timeout_then_exactly_one_success(receiver, key, run_endpoint):
    endpoint, secret = _endpoint(key.account, receiver.url)
    receiver.secrets = [secret]
    receiver.script(500, ("sleep", 1.6), 200)

    run_endpoint("text_analyzer", "analyze", {"text": "Retry me."})

    assert [r.status for r in receiver.received] == [500, -1, 200]
    assert len({r.body["id"] for r in receiver.received}) == 1  # the same event each time
    assert [r.headers["BReact-Delivery-Attempt"] for r in receiver.received] == ["1", "2", "3"]
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.state == "succeeded" and delivery.attempts == 3
    tries = list(WebhookAttempt.objects.filter(delivery=delivery).order_by("number"))
    assert [t.status_code for t in tries] == [500, None, 200]
    assert "timed out" in tries[1].error

    # Nothing more goes out: a late task, the sweeper, another attempt.
    assert actions.delivery_attempt(delivery_pk=delivery.pk) == "skipped"
    assert actions.deliveries_sweep() == 0
    assert len(receiver.succeeded()) == 1


def test_backoff_grows_and_the_delivery_gives_up_after_its_window(receiver, key, settings):
    settings.BREACT_WEBHOOK_RETRY_BASE = 30
    assert [actions.retry_delay(n) for n in (1, 2, 3, 10, 20)] == [
        30.0,
        60.0,
        120.0,
        15360.0,
        21600.0,
    ]
    settings.BREACT_WEBHOOK_RETRY_BASE = 0
    settings.BREACT_WEBHOOK_RETRY_WINDOW = 0  # no time left for a retry
    endpoint, _ = _endpoint(key.account, receiver.url)
    receiver.script(503)
    delivery = actions.test_event_send(endpoint=endpoint)
    assert actions.delivery_attempt(delivery_pk=delivery.pk) == "failed"
    delivery.refresh_from_db()
    assert delivery.state == "failed" and delivery.last_status_code == 503
    assert len(receiver.received) == 1


def test_a_refused_address_is_never_contacted(receiver, key, settings):
    endpoint, _ = _endpoint(key.account, receiver.url)
    settings.BREACT_WEBHOOK_ALLOW_LOOPBACK = False  # the operator's default
    delivery = actions.test_event_send(endpoint=endpoint)

    assert actions.delivery_attempt(delivery_pk=delivery.pk) == "refused"

    assert receiver.received == []
    delivery.refresh_from_db()
    assert delivery.state == "failed"  # not retried: the address will not become allowed
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.status_code is None and "loopback" in attempt.error


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.5/hook",
        "http://192.168.1.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://localhost:8000/hook",
        "ftp://example.com/hook",
        "http://user:pw@example.com/hook",
    ],
)
def test_private_loopback_and_link_local_urls_are_refused_at_registration(url):
    from breact.errors import BadRequest

    account = AccountFactory()
    with pytest.raises(BadRequest):
        actions.endpoint_create(account_id=account.pk, url=url, events=None)
    assert not WebhookEndpoint.objects.exists()


def test_a_rolled_back_change_sends_nothing(receiver, key, django_capture_on_commit_callbacks):
    _endpoint(key.account, receiver.url)
    process = _process(key)
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        service_actions.process_fail(process=process, message="boom")
        raise RuntimeError("rolled back")
    assert callbacks == []
    assert not WebhookEvent.objects.exists()
    assert receiver.received == []


def test_a_failed_process_sends_process_failed_with_the_refund(
    receiver, key, django_capture_on_commit_callbacks, eager_worker
):
    _, secret = _endpoint(key.account, receiver.url)
    receiver.secrets = [secret]
    process = _process(key, credits=3)
    with django_capture_on_commit_callbacks(execute=True):
        service_actions.process_fail(process=process, message="The worker stopped.")
    (got,) = receiver.received
    assert got.verified
    assert got.body["event"] == "process.failed"
    assert got.body["status"] == "error" and got.body["error"] == "PROCESS_FAILED"
    assert got.body["refund"] == {"credits": 3}
    assert got.body["process_id"] == process.public_id


def test_events_filter_by_type(receiver, key, django_capture_on_commit_callbacks, eager_worker):
    actions.endpoint_create(
        account_id=key.account.pk, url=receiver.url, events=["payment.succeeded"]
    )
    process = _process(key)
    with django_capture_on_commit_callbacks(execute=True):
        service_actions.process_fail(process=process, message="x")
    assert receiver.received == []
    assert not WebhookEvent.objects.exists()


def test_no_query_for_an_account_without_endpoints(
    key, django_assert_num_queries, django_capture_on_commit_callbacks
):
    process = _process(key)
    events._key_prefix(process.api_key_id)  # read once per worker process
    # The first event of an account reads its flag from the database once and caches it; later
    # ones read only the cache. A process whose execute passed no webhook_url adds no query:
    # its row says so.
    with django_assert_num_queries(1):
        assert actions._targets(key.account_id, "process.completed", None) == ([], None)
    with django_assert_num_queries(0), django_capture_on_commit_callbacks(execute=True) as done:
        events.process_finished(process=process, done=True, failed=False)
        events.credits_low(account_id=key.account_id)
    assert len(done) == 2 and not WebhookEvent.objects.exists()


def test_an_execute_without_webhook_url_adds_no_query(keyed_client, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count(body: dict[str, Any]) -> int:
        with CaptureQueriesContext(connection) as queries:
            answer = keyed_client.post(
                "/api/v1/services/text_analyzer/analyze", body, format="json"
            )
        assert answer.status_code == 202, answer.content
        return len(queries.captured_queries)

    count({"text": "warm up"})
    plain = count({"text": "No hook."})
    hooked = count({"text": "A hook.", "webhook_url": "https://example.com/hook"})
    assert hooked == plain + 1  # the ProcessWebhook row, and only when a URL is passed


def test_a_per_call_webhook_url_gets_the_event_signed_with_the_per_call_secret(
    receiver, keyed_client, key, eager_worker, django_capture_on_commit_callbacks
):
    receiver.secrets = [actions.per_call_secret(account_id=key.account_id)]
    with django_capture_on_commit_callbacks(execute=True):
        answer = keyed_client.post(
            "/api/v1/services/text_analyzer/analyze",
            {"text": "Call me back.", "webhook_url": receiver.url},
            format="json",
        )
    assert answer.status_code == 202, answer.content
    (got,) = receiver.received
    assert got.verified and got.body["event"] == "process.completed"
    assert got.body["process_id"] == answer.json()["process_id"]
    process = Process.objects.get(public_id=answer.json()["process_id"])
    assert "webhook_url" not in process.params


@pytest.mark.parametrize("bad", ["http://10.1.2.3/x", "not a url", 42])
def test_a_refused_per_call_webhook_url_is_a_400_and_charges_nothing(keyed_client, key, bad):
    balance = key.account.balance
    answer = keyed_client.post(
        "/api/v1/services/text_analyzer/analyze",
        {"text": "x", "webhook_url": bad},
        format="json",
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "BAD_REQUEST"
    key.account.refresh_from_db()
    assert key.account.balance == balance
    assert not Process.objects.exists()


def test_a_rolled_secret_signs_beside_the_old_one_during_its_grace(receiver, key):
    endpoint, old = _endpoint(key.account, receiver.url)
    new = actions.endpoint_secret_roll(endpoint=endpoint, grace=timedelta(hours=1))
    receiver.secrets = [old]
    delivery = actions.test_event_send(endpoint=endpoint)
    actions.delivery_attempt(delivery_pk=delivery.pk)
    header = receiver.received[-1].headers[signing.SIGNATURE_HEADER]
    assert header.count("v1=") == 2
    raw = receiver.received[-1].raw
    assert signing.verify(secret=old, header=header, body=raw)
    assert signing.verify(secret=new, header=header, body=raw)

    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
    )
    delivery = actions.test_event_send(endpoint=endpoint)
    actions.delivery_attempt(delivery_pk=delivery.pk)
    header = receiver.received[-1].headers[signing.SIGNATURE_HEADER]
    assert header.count("v1=") == 1
    assert not signing.verify(secret=old, header=header, body=receiver.received[-1].raw)


def test_an_endpoint_failing_for_a_day_is_disabled_and_its_owner_emailed(receiver, key):
    endpoint, _ = _endpoint(key.account, receiver.url)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - timedelta(days=1, minutes=1)
    )
    receiver.script(500)
    delivery = actions.test_event_send(endpoint=endpoint)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    actions.delivery_attempt(delivery_pk=delivery.pk)

    endpoint.refresh_from_db()
    assert not endpoint.enabled and "a day" in endpoint.disabled_reason
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [key.account.owner.email]
    assert endpoint.url in mail.outbox[0].body
    # Events after that are not delivered to it.
    assert actions._targets(key.account_id, "process.completed", None) == ([], None)


def test_a_success_ends_the_failure_streak(receiver, key):
    endpoint, _ = _endpoint(key.account, receiver.url)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now())
    delivery = actions.test_event_send(endpoint=endpoint)
    actions.delivery_attempt(delivery_pk=delivery.pk)
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.failing_since is None


def test_resend_sends_a_finished_delivery_again(receiver, key):
    endpoint, _ = _endpoint(key.account, receiver.url)
    delivery = actions.test_event_send(endpoint=endpoint)
    actions.delivery_attempt(delivery_pk=delivery.pk)
    assert actions.delivery_resend(delivery=delivery)
    assert not actions.delivery_resend(delivery=delivery)  # already pending
    actions.delivery_attempt(delivery_pk=delivery.pk)
    assert len(receiver.received) == 2
    assert receiver.received[0].body["id"] == receiver.received[1].body["id"]


def test_an_event_is_recorded_once_per_happening(receiver, key, django_capture_on_commit_callbacks):
    _endpoint(key.account, receiver.url)
    key.expires_at = timezone.now() + timedelta(days=3)
    key.save(update_fields=["expires_at"])
    with django_capture_on_commit_callbacks(execute=True):
        assert events.keys_expiring_scan() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert events.keys_expiring_scan() == 1  # the hourly scan again: no second event
    event = WebhookEvent.objects.get(type="key.expiring")
    assert event.payload["key"]["prefix"] == key.prefix
    assert WebhookDelivery.objects.filter(event=event).count() == 1


def test_low_balance_and_payment_events(key, receiver, django_capture_on_commit_callbacks):
    from accounts.alerts.actions import account_low_balance_threshold_set
    from accounts.billing.actions import payment_fulfil
    from accounts.models import Payment

    _endpoint(key.account, receiver.url)
    account = key.account
    with django_capture_on_commit_callbacks(execute=True):
        account_low_balance_threshold_set(account=account, threshold=1000)
    low = WebhookEvent.objects.get(type="credits.low")
    assert low.payload["threshold"] == 1000 and low.payload["balance"] == account.balance

    payment = Payment.objects.create(
        account=account,
        provider=Payment.Provider.STRIPE,
        provider_reference="cs_test_wh",
        pack_id="starter",
        credits=1000,
        amount_cents=1000,
        currency="eur",
    )
    with django_capture_on_commit_callbacks(execute=True):
        payment_fulfil(payment=payment)
        payment_fulfil(payment=payment)  # a retried Stripe webhook
    paid = WebhookEvent.objects.get(type="payment.succeeded")
    assert paid.payload["payment"]["credits"] == 1000
    assert paid.payload["payment"]["paid_at"]


def _process(key: Any, credits: int = 1) -> Process:
    from accounts.ledger.actions import credits_charge

    now = timezone.now()
    with transaction.atomic():
        process = Process.objects.create(
            public_id=f"prc_test{Process.objects.count()}",
            account_id=key.account_id,
            api_key=key,
            service_id="text_analyzer",
            endpoint="analyze",
            params={"text": "x"},
            credits=credits,
            created_at=now,
            deadline_at=now + timedelta(minutes=10),
        )
        credits_charge(process=process)
    return process


def test_key_expiring_is_sent_inside_seven_days_not_outside_and_once(
    receiver, key, make_key, eager_worker, django_capture_on_commit_callbacks
):
    _, secret = _endpoint(key.account, receiver.url)
    receiver.secrets = [secret]
    now = timezone.now()
    inside = make_key(account=key.account, name="inside")
    outside = make_key(account=key.account, name="outside")
    for made, expires_at in (
        (inside, now + timedelta(days=7) - timedelta(minutes=1)),
        (outside, now + timedelta(days=7) + timedelta(minutes=1)),
    ):
        made.expires_at = expires_at
        made.save(update_fields=["expires_at"])

    with django_capture_on_commit_callbacks(execute=True):
        assert events.keys_expiring_scan() == 1
    with django_capture_on_commit_callbacks(execute=True):
        events.keys_expiring_scan()  # the next hourly scan

    (got,) = receiver.received
    assert got.verified and got.body["event"] == "key.expiring"
    assert got.body["key"]["prefix"] == inside.prefix
    assert WebhookEvent.objects.filter(type="key.expiring").count() == 1


def test_a_host_that_resolves_to_loopback_only_at_delivery_is_refused(
    receiver, key, settings, monkeypatch
):
    """DNS rebinding: the name pointed at a public address when the endpoint was registered and
    at 127.0.0.1 when the delivery goes out. The resolver is replaced at the network edge (the
    receiver really listens on 127.0.0.1, so only the check stands between them)."""
    import socket

    real_getaddrinfo = socket.getaddrinfo
    answer = {"address": "93.184.216.34"}  # a public address
    asked: list[str] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "hooks.example.com":
            return real_getaddrinfo(host, port, *args, **kwargs)
        asked.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answer["address"], port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    settings.BREACT_WEBHOOK_ALLOW_LOOPBACK = False  # the operator's default
    port = receiver.url.split(":")[2].split("/")[0]
    endpoint, secret = _endpoint(key.account, f"http://hooks.example.com:{port}/hook")
    receiver.secrets = [secret]

    answer["address"] = "127.0.0.1"  # the DNS answer changes after registration
    delivery = actions.test_event_send(endpoint=endpoint)
    assert actions.delivery_attempt(delivery_pk=delivery.pk) == "refused"

    assert asked  # the name was resolved at delivery time
    assert receiver.received == []
    delivery.refresh_from_db()
    assert delivery.state == "failed" and delivery.attempts == 1
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.status_code is None
    assert "Refused to deliver to hooks.example.com" in attempt.error
    assert "loopback" in attempt.error and "127.0.0.1" in attempt.error

    # The name did lead to the receiver: allowed loopback (development), it gets the event.
    settings.BREACT_WEBHOOK_ALLOW_LOOPBACK = True
    assert actions.delivery_resend(delivery=delivery)
    assert actions.delivery_attempt(delivery_pk=delivery.pk) == "succeeded"
    (got,) = receiver.received
    assert got.verified and got.headers["Host"] == f"hooks.example.com:{port}"
