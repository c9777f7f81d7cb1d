"""Stripe: Checkout Session creation against a loopback stub, signed webhooks (signed offline
with the stripe package's own signing), idempotent fulfilment; credit pack settings."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
import stripe
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django.urls import reverse

from accounts.billing.actions import payment_fulfil
from accounts.billing.payments import credit_packs
from accounts.models import Account, LedgerEntry, Payment, WebhookEvent

pytestmark = pytest.mark.django_db

WEBHOOK_SECRET = "whsec_test_secret"
SESSION_URL = "https://checkout.stripe.com/c/pay/cs_test_a1b2c3"


@pytest.fixture
def stripe_on(settings: Any) -> Any:
    settings.STRIPE_SECRET_KEY = "sk_test_123"
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    return settings


def _payment(account: Account, **fields: Any) -> Payment:
    values: dict[str, Any] = {
        "provider": Payment.Provider.STRIPE,
        "provider_reference": "cs_test_a1b2c3",
        "pack_id": "starter",
        "credits": 1000,
        "amount_cents": 1000,
        "currency": "eur",
        **fields,
    }
    return Payment.objects.create(account=account, **values)


def _event(
    event_id: str = "evt_1",
    event_type: str = "checkout.session.completed",
    session_id: str = "cs_test_a1b2c3",
    **session: Any,
) -> str:
    body = {
        "id": event_id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(time.time()),
        "livemode": False,
        "type": event_type,
        "data": {
            "object": {
                "id": session_id,
                "object": "checkout.session",
                "mode": "payment",
                "status": "complete",
                "payment_status": "paid",
                "amount_total": 1000,
                "currency": "eur",
                "metadata": {"pack_id": "starter"},
                **session,
            }
        },
    }
    return json.dumps(body)


def _deliver(payload: str, *, secret: str = WEBHOOK_SECRET, header: str | None = None) -> Any:
    if header is None:
        header = stripe.WebhookSignature.generate_signature_header(payload, secret)
    return Client(enforce_csrf_checks=True).post(
        reverse("stripe-webhook"),
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=header,
    )


def _topups(account: Account) -> int:
    return LedgerEntry.objects.filter(account=account, kind=LedgerEntry.Kind.TOPUP).count()


# --- webhook ---------------------------------------------------------------------------------


def test_signed_checkout_completed_credits_once_even_when_delivered_twice(stripe_on, account):
    payment = _payment(account)
    payload = _event()
    first = _deliver(payload)
    assert first.status_code == 200, first.content
    assert first.json()["outcome"] == "credited"
    second = _deliver(payload)
    assert second.status_code == 200
    assert second.json()["outcome"] == "duplicate"
    account.refresh_from_db()
    assert account.balance == 100 + 1000
    assert _topups(account) == 1
    entry = LedgerEntry.objects.get(account=account, kind=LedgerEntry.Kind.TOPUP)
    assert entry.reference == f"payment:{payment.pk}" and entry.amount == 1000
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PAID and payment.paid_at is not None
    assert WebhookEvent.objects.filter(provider="stripe", event_id="evt_1").count() == 1


def test_two_paid_events_for_one_session_credit_it_once(stripe_on, account):
    _payment(account)
    assert _deliver(_event("evt_a")).json()["outcome"] == "credited"
    again = _deliver(_event("evt_b", "checkout.session.async_payment_succeeded"))
    assert again.json()["outcome"] == "already credited"
    account.refresh_from_db()
    assert account.balance == 1100 and _topups(account) == 1


@pytest.mark.parametrize(
    "header",
    [
        "",
        "t=123,v1=deadbeef",
        "not a signature",
    ],
)
def test_bad_signature_is_refused_and_nothing_is_credited(stripe_on, account, header):
    payment = _payment(account)
    response = _deliver(_event(), header=header)
    assert response.status_code == 400
    account.refresh_from_db()
    payment.refresh_from_db()
    assert account.balance == 100 and payment.status == Payment.Status.PENDING
    assert not WebhookEvent.objects.exists()


def test_signature_with_another_secret_is_refused(stripe_on, account):
    _payment(account)
    response = _deliver(_event(), secret="whsec_someone_else")
    assert response.status_code == 400
    assert _topups(account) == 0


def test_a_replayed_old_signature_is_refused(stripe_on, account):
    _payment(account)
    payload = _event()
    stale = stripe.WebhookSignature.generate_signature_header(
        payload, WEBHOOK_SECRET, timestamp=int(time.time()) - 3600
    )
    assert _deliver(payload, header=stale).status_code == 400
    assert _topups(account) == 0


def test_a_tampered_body_is_refused(stripe_on, account):
    _payment(account)
    header = stripe.WebhookSignature.generate_signature_header(_event(), WEBHOOK_SECRET)
    tampered = _event(amount_total=1)
    assert _deliver(tampered, header=header).status_code == 400
    assert _topups(account) == 0


def test_unknown_event_types_are_acknowledged_without_effect(stripe_on, account):
    payment = _payment(account)
    response = _deliver(_event("evt_x", "customer.created"))
    assert response.status_code == 200
    assert response.json()["outcome"] == "ignored"
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PENDING and _topups(account) == 0


def test_an_unpaid_completed_session_waits_for_the_async_success(stripe_on, account):
    _payment(account)
    unpaid = _deliver(_event("evt_1", payment_status="unpaid"))
    assert unpaid.json()["outcome"] == "not paid yet"
    assert _topups(account) == 0
    paid = _deliver(_event("evt_2", "checkout.session.async_payment_succeeded"))
    assert paid.json()["outcome"] == "credited"
    assert _topups(account) == 1


def test_an_expired_session_marks_the_payment_failed(stripe_on, account):
    payment = _payment(account)
    response = _deliver(_event("evt_1", "checkout.session.expired", payment_status="unpaid"))
    assert response.json()["outcome"] == "failed"
    payment.refresh_from_db()
    assert payment.status == Payment.Status.FAILED
    # A late "paid" for a failed payment does not credit it.
    _deliver(_event("evt_2"))
    assert _topups(account) == 0


def test_a_paid_amount_that_differs_from_the_pack_is_not_credited(stripe_on, account):
    _payment(account)
    response = _deliver(_event(amount_total=1))
    assert response.status_code == 200
    assert response.json()["outcome"] == "amount mismatch"
    assert _topups(account) == 0


def test_an_event_for_an_unknown_session_is_acknowledged(stripe_on, account):
    response = _deliver(_event(session_id="cs_unknown"))
    assert response.status_code == 200
    assert response.json()["outcome"] == "unknown session"


def test_webhook_is_off_without_a_webhook_secret(settings, account):
    settings.STRIPE_WEBHOOK_SECRET = ""
    _payment(account)
    response = _deliver(_event())
    assert response.status_code == 404
    assert _topups(account) == 0


def test_webhook_refuses_get(stripe_on):
    assert Client().get(reverse("stripe-webhook")).status_code == 405


# --- payment_fulfil --------------------------------------------------------------------------


def test_fulfilling_a_payment_twice_credits_it_once(account):
    payment = _payment(account, provider=Payment.Provider.TEST, provider_reference="t1")
    entry = payment_fulfil(payment=payment)
    assert entry is not None and entry.balance_after == 1100
    assert payment_fulfil(payment=payment) is None
    account.refresh_from_db()
    assert account.balance == 1100 and _topups(account) == 1


def test_fulfil_refuses_a_second_top_up_under_the_same_reference(account):
    payment = _payment(account)
    LedgerEntry.objects.create(
        account=account,
        kind=LedgerEntry.Kind.TOPUP,
        amount=5,
        balance_after=105,
        reference=f"payment:{payment.pk}",
    )
    assert payment_fulfil(payment=payment) is None
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PENDING  # rolled back with the failed credit


# --- Checkout Session creation against a loopback stub ---------------------------------------


class StripeStub:
    """A loopback HTTP server answering POST /v1/checkout/sessions like Stripe does."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail = False
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                form = {key: values[0] for key, values in parse_qs(body).items()}
                stub.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "form": form}
                )
                if stub.fail:
                    status, answer = (
                        400,
                        {
                            "error": {
                                "type": "invalid_request_error",
                                "message": "Invalid currency: xyz",
                                "param": "line_items[0][price_data][currency]",
                            }
                        },
                    )
                elif self.path != "/v1/checkout/sessions":
                    status, answer = 404, {"error": {"type": "invalid_request_error"}}
                else:
                    status, answer = (
                        200,
                        {
                            "id": "cs_test_a1b2c3",
                            "object": "checkout.session",
                            "mode": "payment",
                            "status": "open",
                            "payment_status": "unpaid",
                            "amount_total": int(form["line_items[0][price_data][unit_amount]"]),
                            "currency": form["line_items[0][price_data][currency]"],
                            "client_reference_id": form.get("client_reference_id"),
                            "metadata": {
                                key[len("metadata[") : -1]: value
                                for key, value in form.items()
                                if key.startswith("metadata[")
                            },
                            "success_url": form["success_url"],
                            "cancel_url": form["cancel_url"],
                            "url": SESSION_URL,
                            "livemode": False,
                        },
                    )
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Request-Id", "req_stub")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> StripeStub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stripe_stub(stripe_on: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[StripeStub]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    with StripeStub() as stub:
        stripe_on.STRIPE_API_BASE = stub.base_url
        yield stub


@pytest.fixture
def logged_in(account: Account) -> Client:
    client = Client()
    client.force_login(account.owner)
    return client


def test_top_up_creates_a_checkout_session_and_redirects_to_it(stripe_stub, logged_in, account):
    response = logged_in.post(reverse("credits-topup"), {"pack": "growth"})
    assert response.status_code == 303
    assert response["Location"] == SESSION_URL
    [request] = stripe_stub.requests
    assert request["path"] == "/v1/checkout/sessions"
    assert request["headers"]["Authorization"] == "Bearer sk_test_123"
    form = request["form"]
    assert form["mode"] == "payment"
    assert form["line_items[0][quantity]"] == "1"
    assert form["line_items[0][price_data][unit_amount]"] == "5000"
    assert form["line_items[0][price_data][currency]"] == "eur"
    assert "5500" in form["line_items[0][price_data][product_data][name]"]
    assert form["metadata[pack_id]"] == "growth"
    assert form["metadata[credits]"] == "5500"
    assert form["metadata[account_id]"] == str(account.pk)
    assert form["client_reference_id"] == str(account.pk)
    assert form["customer_email"] == account.owner.email
    assert form["success_url"].endswith(
        reverse("credits-topup-done") + "?session_id={CHECKOUT_SESSION_ID}"
    )
    assert form["cancel_url"].endswith(reverse("credits") + "?checkout=cancelled")
    payment = Payment.objects.get(account=account)
    assert (payment.provider, payment.provider_reference, payment.status) == (
        Payment.Provider.STRIPE,
        "cs_test_a1b2c3",
        Payment.Status.PENDING,
    )
    assert (payment.pack_id, payment.credits, payment.amount_cents) == ("growth", 5500, 5000)
    account.refresh_from_db()
    assert account.balance == 100  # nothing credited before Stripe confirms


def test_checkout_then_signed_webhook_then_done_page_shows_paid(stripe_stub, logged_in, account):
    logged_in.post(reverse("credits-topup"), {"pack": "starter"})
    pending = logged_in.get(reverse("credits-topup-done"), {"session_id": "cs_test_a1b2c3"})
    html = pending.content.decode()
    assert "payment received" in html.lower() and 'data-status="pending"' in html
    assert 'hx-trigger="every 2s"' in html
    assert _deliver(_event()).json()["outcome"] == "credited"
    done = logged_in.get(
        reverse("credits-topup-done"), {"session_id": "cs_test_a1b2c3"}, HTTP_HX_REQUEST="true"
    )
    html = done.content.decode()
    assert "<html" not in html
    assert 'data-status="paid"' in html and "hx-trigger" not in html
    assert ">1100<" in html


def test_stripe_refusing_the_session_writes_nothing_and_says_so(stripe_stub, logged_in, account):
    stripe_stub.fail = True
    response = logged_in.post(reverse("credits-topup"), {"pack": "starter"}, follow=True)
    assert response.redirect_chain[-1] == (reverse("credits"), 303)
    assert "could not start a checkout" in response.content.decode()
    assert not Payment.objects.exists()


def test_stripe_mode_hides_the_test_mode_label(stripe_stub, logged_in):
    html = logged_in.get(reverse("credits")).content.decode()
    assert "Test mode" not in html and "Buy Starter" in html


def test_done_page_for_another_accounts_session_answers_404(stripe_on, logged_in):
    from tests.factories import AccountFactory

    _payment(AccountFactory(), provider_reference="cs_theirs")
    response = logged_in.get(reverse("credits-topup-done"), {"session_id": "cs_theirs"})
    assert response.status_code == 404


# --- credit packs setting --------------------------------------------------------------------


def test_default_credit_packs_parse():
    packs = credit_packs()
    assert [pack.id for pack in packs] == ["starter", "growth", "scale"]
    assert packs[0].price == "10.00 EUR"


@pytest.mark.parametrize(
    "raw, message",
    [
        ("not json", "not valid JSON"),
        ('{"id": "x"}', "JSON list"),
        (
            '[{"id": "a", "name": "A", "credits": 0, "price_cents": 1, "currency": "eur"}]',
            "credits",
        ),
        (
            '[{"id": "a", "name": "A", "credits": 1, "price_cents": 1, "currency": "eur"},'
            ' {"id": "a", "name": "B", "credits": 1, "price_cents": 1, "currency": "eur"}]',
            "twice",
        ),
        (
            '[{"id": "a", "name": "A", "credits": 1, "price_cents": true, "currency": "eur"}]',
            "price",
        ),
        (
            '[{"id": "a", "name": "A", "credits": 1, "price_cents": 1, "currency": "euro"}]',
            "currency",
        ),
        ('[{"id": "A B", "name": "A", "credits": 1, "price_cents": 1, "currency": "eur"}]', "slug"),
    ],
)
def test_bad_credit_pack_settings_are_refused(settings, raw, message):
    settings.BREACT_CREDIT_PACKS = raw
    with pytest.raises(ImproperlyConfigured, match=message):
        credit_packs()
