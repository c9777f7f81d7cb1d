"""Object access across accounts, route by route: every route of the URL resolver (API and
console) that takes an object's id is called by a second account, with the first account's ids,
for GET and every write method. Each answer must be the one a missing id gets (404 where the
route serves the method, 403 on staff pages for a non-staff user) and nothing may change.
A new id-taking route fails test_every_id_route_is_covered until a rule below covers it."""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import Account, Membership, Payment
from accounts.orgs.actions import invitation_create
from services.models import ModelProvider, UsageDaily, UsageLog
from tests.factories import AccountFactory, ApiKeyFactory, UserFactory
from tests.routes import WRITE_METHODS, Route, all_routes

pytestmark = pytest.mark.django_db

# Which object a path parameter names: the path segment before it says (…/keys/<int:pk>/…).
OBJECT_BY_SEGMENT = {
    "result": "process",
    "runs": "process",
    "processes": "process",
    "knowledge-bases": "knowledge_base",
    "knowledge": "knowledge_base",  # the console's pages: /knowledge/<kb_id>/…
    "documents": "document",
    "keys": "api_key",
    "accounts": "account",
    "models": "model_provider",
    "webhooks": "webhook",
    "deliveries": "delivery",
    "members": "membership",  # /organisation/members/<pk>/…
    "invitations": "invitation",  # /organisation/invitations/<pk>/…
}
# Ids in the query string (the resolver cannot see them), by route name.
QUERY_IDS = {
    "credits-topup-done": ("session_id", "payment"),
    "playground": ("from", "process"),
}
# Routes with path parameters that name no account's object, and why they are not exercised.
NOT_OBJECT_ROUTES = {
    "service-page": "a service id of the public catalogue, the same for every account",
    "service-detail": "a service id of the public catalogue, the same for every account",
    "service-execute": "service and endpoint ids of the catalogue; what it creates is the "
    "caller's own process",
    "staff-endpoint-edit": "service and endpoint ids of the catalogue, staff only (non-staff "
    "users get 403: tests/staff/test_services.py)",
    "invitation-accept": "a signed, expiring invitation token for one email address, not an "
    "object id (tests/accounts/orgs/test_invitations.py)",
    "account_reset_password_from_key": "a signed, expiring reset token (allauth, Django's "
    "token generator), not an object id",
    "password-reset-legacy": "an old reset link's token: always sent to ask for a new link",
    "account_confirm_email": "a signed email-verification key (allauth), not an object id",
    "mfa_remove_webauthn": "allauth.mfa looks the passkey up among the signed-in user's own "
    "authenticators (tests/accounts/test_signin_security.py)",
    "mfa_edit_webauthn": "allauth.mfa looks the passkey up among the signed-in user's own "
    "authenticators (tests/accounts/test_signin_security.py)",
}
ADMIN_REASON = "Django admin: staff only, its own permission checks (tests/staff/test_admin.py)"
# Rows a request may add or touch without changing anything of the first account.
UNTRACKED = (UsageLog, UsageDaily)
UNTRACKED_FIELDS = {"last_used_at"}
FORM_DATA = {
    "reason": "testing access",
    "amount": "5",
    "status": "disabled",
    "grace": "24h",
    "name": "renamed",
    "nonce": "n" * 24,
    "price": "1",
    "enabled": "on",
    "model_id": "gpt-x",
    "base_url": "http://example.com/v1",
    "timeout_seconds": "5",
}
JSON_DATA = {"content": "Some text to index.", "name": "renamed", "title": "t"}


def _segment_object(route: Route, param: str) -> str | None:
    parts = route.route.split("/")
    index = next(i for i, part in enumerate(parts) if f":{param}>" in part or f"<{param}>" in part)
    return OBJECT_BY_SEGMENT.get(parts[index - 1]) if index else None


def id_routes() -> list[Route]:
    return [
        r
        for r in all_routes()
        if (r.params or r.name in QUERY_IDS)
        and not r.route.startswith("admin/")
        and r.name not in NOT_OBJECT_ROUTES
    ]


def test_every_id_route_is_covered():
    """Every route with a path parameter is exercised below or listed with its reason."""
    uncovered = [
        f"{r.label} ({r.route}): {param}"
        for r in id_routes()
        for param in r.params
        if _segment_object(r, param) is None
    ]
    assert not uncovered, "No rule says which object these parameters name: " + ", ".join(uncovered)
    skipped = [r for r in all_routes() if r.params and r not in id_routes()]
    assert all(r.route.startswith("admin/") or r.name in NOT_OBJECT_ROUTES for r in skipped)
    assert len(id_routes()) >= 15


@pytest.fixture
def owner(api_client: APIClient) -> dict[str, Any]:
    """The first account and one object of each kind, made through the API where it can be."""
    account = AccountFactory(credits=100)
    key = ApiKeyFactory(account=account)
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=key.raw)
    executed = client.post(
        "/api/v1/services/text_analyzer/analyze", {"text": "Mine alone."}, format="json"
    )
    assert executed.status_code == 202, executed.content
    base = client.post("/api/v1/knowledge-bases", {"name": "Mine"}, format="json").json()
    document = client.post(
        f"/api/v1/knowledge-bases/{base['id']}/documents",
        {"content": "Private notes."},
        format="json",
    ).json()
    payment = Payment.objects.create(
        account=account,
        provider=Payment.Provider.STRIPE,
        provider_reference="cs_test_owner",
        pack_id="starter",
        credits=1000,
        amount_cents=1000,
        currency="usd",
    )
    provider = ModelProvider.objects.create(model_id="gpt-owner", base_url="http://127.0.0.1:9/v1")
    webhook = client.post(
        "/api/v1/webhooks", {"url": "https://example.com/mine"}, format="json"
    ).json()
    delivery = client.post(f"/api/v1/webhooks/{webhook['id']}/test").json()
    membership = Membership.objects.create(account=account, user=UserFactory(), role="developer")
    invitation, _token = invitation_create(
        account=account,
        email="invited@example.com",
        role="viewer",
        actor=account.owner,
        actor_role="owner",
    )
    return {
        "membership": str(membership.pk),
        "invitation": str(invitation.pk),
        "process": executed.json()["process_id"],
        "access_token": executed.json()["access_token"],
        "knowledge_base": base["id"],
        "document": document["id"],
        "api_key": str(key.pk),
        "account": str(account.pk),
        "payment": payment.provider_reference,
        "model_provider": str(provider.pk),
        "webhook": webhook["id"],
        "delivery": delivery["id"],
    }


MISSING = {
    "membership": "999999999",
    "invitation": "999999999",
    "process": "prc_missing000000000000000",
    "knowledge_base": "kb_missing00000000000000",
    "document": "doc_missing0000000000000",
    "api_key": "999999999",
    "account": "999999999",
    "payment": "cs_test_missing",
    "model_provider": "999999999",
    "webhook": "whe_missing0000000",
    "delivery": "evt_missing000000000",
}


def _snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row of the project's own models (usage logs aside), as values."""
    state = {}
    for model in [
        *apps.get_app_config("accounts").get_models(),
        *apps.get_app_config("services").get_models(),
    ]:
        if model in UNTRACKED:
            continue
        rows = model.objects.order_by("pk").values()
        state[model.__name__] = [
            {k: v for k, v in row.items() if k not in UNTRACKED_FIELDS} for row in rows
        ]
    return state


def _url(route: Route, values: dict[str, str]) -> str:
    if route.name in QUERY_IDS:
        param, kind = QUERY_IDS[route.name]
        return f"{route.url()}?{param}={values[kind]}"
    url = route.url(**{p: values[_segment_object(route, p) or ""] for p in route.params})
    if route.name == "process-result":
        url += f"?access_token={values['access_token']}"
    return url


def _call(client: Any, route: Route, method: str, url: str) -> int:
    if route.is_api:
        data = JSON_DATA if method != "get" else None
        return int(getattr(client, method)(url, data, format="json").status_code)
    data = FORM_DATA if method == "post" else None
    return int(getattr(client, method)(url, data).status_code)


@pytest.mark.parametrize("route", id_routes(), ids=lambda r: r.label)
def test_another_account_gets_what_a_missing_id_gets_and_changes_nothing(route, owner):
    other = AccountFactory(credits=100)
    if route.is_api:
        client: Any = APIClient()
        client.credentials(HTTP_X_API_KEY=ApiKeyFactory(account=other).raw)
    else:
        client = Client()
        client.force_login(other.owner)
    missing = {**MISSING, "access_token": owner["access_token"]}
    before = _snapshot()

    answers = {}
    for method in ("get", *WRITE_METHODS):
        theirs = _call(client, route, method, _url(route, owner))
        nobodys = _call(client, route, method, _url(route, missing))
        answers[method] = theirs
        assert theirs == nobodys, f"{method.upper()} {route.label}: {theirs} vs {nobodys}"

    if route.route.startswith("staff/"):
        assert set(answers.values()) == {403}, answers  # staff pages refuse non-staff users
    else:
        assert answers["get"] == 404, answers
        assert set(answers.values()) <= {404, 405}, answers
    assert _snapshot() == before


def test_the_owner_reaches_the_same_objects(owner):
    """The ids above are real: the first account's own key reads them."""
    key = ApiKeyFactory(account=Account.objects.get(pk=owner["account"]))
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=key.raw)

    poll = client.get(
        f"/api/v1/services/result/{owner['process']}?access_token={owner['access_token']}"
    )
    document = client.get(
        f"/api/v1/knowledge-bases/{owner['knowledge_base']}/documents/{owner['document']}"
    )

    assert poll.status_code == 200
    assert document.status_code == 200
