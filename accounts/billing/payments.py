"""Credit packs from settings and the Stripe edge: Checkout Session creation, webhook verification.

Only this module talks to Stripe. It makes no database writes: accounts/billing/actions.py
records payments and credit the ledger.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any

import stripe
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from accounts.models import Account

STRIPE_TIMEOUT_SECONDS = 20
_PACK_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_CURRENCY = re.compile(r"^[a-z]{3}$")


@dataclass(frozen=True)
class CreditPack:
    id: str
    name: str
    credits: int
    price_cents: int
    currency: str

    @property
    def price(self) -> str:
        """The price for people, e.g. "10.00 EUR"."""
        return f"{self.price_cents // 100}.{self.price_cents % 100:02d} {self.currency.upper()}"


class PaymentProviderError(Exception):
    """Stripe refused the request or could not be reached; the message is safe to show."""


@functools.lru_cache(maxsize=4)
def _parse_packs(raw: str) -> tuple[CreditPack, ...]:
    """Parse and validate BREACT_CREDIT_PACKS once per distinct value."""
    where = "BREACT_CREDIT_PACKS"
    try:
        items = json.loads(raw or "[]")
    except json.JSONDecodeError as exc:
        raise ImproperlyConfigured(f"{where} is not valid JSON: {exc}") from None
    if not isinstance(items, list):
        raise ImproperlyConfigured(f"{where} must be a JSON list of packs.")
    packs: list[CreditPack] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ImproperlyConfigured(f"{where}[{index}] must be an object.")
        pack_id, name = item.get("id"), item.get("name")
        credits, price, currency = (
            item.get("credits"),
            item.get("price_cents"),
            item.get("currency"),
        )
        if not isinstance(pack_id, str) or not _PACK_ID.match(pack_id):
            raise ImproperlyConfigured(f"{where}[{index}].id must be a short lowercase slug.")
        if pack_id in seen:
            raise ImproperlyConfigured(f"{where}: the pack id {pack_id!r} appears twice.")
        if not isinstance(name, str) or not name.strip():
            raise ImproperlyConfigured(f"{where}[{index}].name must be a non-empty string.")
        for field, value in (("credits", credits), ("price_cents", price)):
            # bool is an int subclass: true/false are not amounts.
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ImproperlyConfigured(f"{where}[{index}].{field} must be a positive integer.")
        if not isinstance(currency, str) or not _CURRENCY.match(currency.lower()):
            raise ImproperlyConfigured(f"{where}[{index}].currency must be a 3-letter ISO code.")
        seen.add(pack_id)
        packs.append(
            CreditPack(
                id=pack_id,
                name=name.strip(),
                credits=int(credits),  # type: ignore[arg-type]
                price_cents=int(price),  # type: ignore[arg-type]
                currency=currency.lower(),
            )
        )
    return tuple(packs)


def credit_packs() -> tuple[CreditPack, ...]:
    """The packs on sale, in settings order. Raises ImproperlyConfigured for a bad setting."""
    return _parse_packs(settings.BREACT_CREDIT_PACKS)


def credit_pack(pack_id: str) -> CreditPack | None:
    return next((pack for pack in credit_packs() if pack.id == pack_id), None)


def stripe_enabled() -> bool:
    """Stripe Checkout is used only when both the API key and the webhook secret are set;
    without the webhook secret nothing could ever confirm a payment."""
    return bool(settings.STRIPE_SECRET_KEY and settings.STRIPE_WEBHOOK_SECRET)


STRIPE = "stripe"
TEST_MODE = "test"
OFF = "off"


def is_test_mode_requested() -> bool:
    """Whether the operator asked for test-mode top-ups (BREACT_PAYMENTS_TEST_MODE on or
    force), whether or not they are in effect."""
    return settings.BREACT_PAYMENTS_TEST_MODE in ("on", "force")


def topup_mode() -> str:
    """How this server sells credits: STRIPE when Stripe is configured; else TEST_MODE when the
    operator opted in (BREACT_PAYMENTS_TEST_MODE=on with BREACT_DEBUG, or =force); else OFF
    (no top-ups: a server that forgot its Stripe keys must not hand out free credits)."""
    if stripe_enabled():
        return STRIPE
    mode = settings.BREACT_PAYMENTS_TEST_MODE
    if mode == "force" or (mode == "on" and settings.DEBUG):
        return TEST_MODE
    return OFF


def _client() -> stripe.StripeClient:
    # A client per call instead of the module-global stripe.api_key/api_base: no process-wide
    # state shared between threads. STRIPE_API_BASE points it at a loopback stub in tests.
    base = settings.STRIPE_API_BASE
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses={"api": base.rstrip("/")} if base else None,
        http_client=stripe.new_default_http_client(timeout=STRIPE_TIMEOUT_SECONDS),
    )


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str


def checkout_session_create(
    *, account: Account, pack: CreditPack, success_url: str, cancel_url: str
) -> CheckoutSession:
    """Create a Stripe Checkout Session selling `pack` (one network call; no database writes).

    `success_url` may contain Stripe's `{CHECKOUT_SESSION_ID}` placeholder. Raises
    PaymentProviderError when Stripe answers with an error or cannot be reached.
    """
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": pack.currency,
                    "unit_amount": pack.price_cents,
                    "product_data": {"name": f"{pack.name}: {pack.credits} BReact credits"},
                },
            }
        ],
        "success_url": success_url,
        "cancel_url": cancel_url,
        "client_reference_id": str(account.pk),
        "customer_email": account.contact_email,
        "metadata": {
            "account_id": str(account.pk),
            "pack_id": pack.id,
            "credits": str(pack.credits),
        },
    }
    try:
        session = _client().v1.checkout.sessions.create(params=params)  # type: ignore[arg-type]
    except stripe.StripeError as exc:
        raise PaymentProviderError(
            "The payment provider could not start a checkout; nothing was charged. "
            "Try again in a minute."
        ) from exc
    if not session.id or not session.url:
        raise PaymentProviderError("The payment provider answered without a checkout page.")
    return CheckoutSession(id=str(session.id), url=str(session.url))


@dataclass(frozen=True)
class StripeEvent:
    id: str
    type: str
    object: dict[str, Any]


def stripe_event_verify(*, payload: bytes, sig_header: str) -> StripeEvent:
    """The event in a webhook request whose Stripe-Signature header verifies against
    STRIPE_WEBHOOK_SECRET (with Stripe's 5-minute timestamp tolerance).

    Raises stripe.SignatureVerificationError for a missing or wrong signature and ValueError
    for a body that is not an event.
    """
    event = stripe.Webhook.construct_event(payload, sig_header, settings.STRIPE_WEBHOOK_SECRET)
    try:
        event_id, event_type = str(event.id), str(event.type)
        obj = event.data.object.to_dict()
    except (AttributeError, KeyError):
        raise ValueError("The webhook body is not a Stripe event.") from None
    return StripeEvent(id=event_id, type=event_type, object=obj)
