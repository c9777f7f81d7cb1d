"""Django admin: every model listed, the ledger and the audit log read-only, secrets hidden,
changes made here audited."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.audit.actions import audit_record
from accounts.ledger.actions import credits_charge
from accounts.models import (
    Account,
    ApiKey,
    AuditEvent,
    Invitation,
    LedgerEntry,
    Membership,
    Payment,
    WebhookEvent,
)
from accounts.orgs.actions import invitation_create
from services.catalogue.actions import services_sync
from services.models import (
    Endpoint,
    Heartbeat,
    IdempotencyRecord,
    KnowledgeBase,
    KnowledgeDocument,
    LedgerDaily,
    ModelProvider,
    Process,
    ProcessDaily,
    RollupState,
    UsageDaily,
    UsageLog,
)
from services.usage.actions import usage_rollup
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PROVIDER_KEY = "sk-admin-SECRET-KEY-5555"
READ_ONLY = [
    LedgerEntry,
    Membership,
    Invitation,
    AuditEvent,
    Payment,
    WebhookEvent,
    Process,
    UsageLog,
    UsageDaily,
    ProcessDaily,
    LedgerDaily,
    RollupState,
    IdempotencyRecord,
]


@pytest.fixture
def superuser() -> Any:
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(superuser: Any) -> Client:
    client = Client()
    client.force_login(superuser)
    return client


@pytest.fixture
def seeded(key: ApiKey, superuser: Any) -> dict[str, Any]:
    """One row or more of every model, so each changelist renders its columns."""
    account = key.account
    services_sync()
    now = timezone.now()
    process = Process.objects.create(
        public_id="prc_admin",
        account=account,
        api_key=key,
        service_id="summary",
        endpoint="summarize",
        credits=2,
        token_hash="a-token-hash",
        deadline_at=now + timedelta(minutes=5),
    )
    credits_charge(process=process)
    UsageLog.objects.create(
        account=account,
        api_key=key,
        method="POST",
        route="api/v1/services/<str:service_id>/<str:endpoint>",
        service_id="summary",
        endpoint="summarize",
        status_code=202,
        duration_ms=12,
        credits=2,
        created_at=now - timedelta(minutes=2),
    )
    usage_rollup()
    grain = {
        "day": now.date(),
        "account_ref": account.pk,
        "api_key_ref": key.pk,
        "service_id": "summary",
        "endpoint": "summarize",
    }
    ProcessDaily.objects.create(**grain, finished=1, failed=0)
    LedgerDaily.objects.create(**grain, consumed=2)
    IdempotencyRecord.objects.create(account=account, key="idem-1", fingerprint="f" * 64)
    Payment.objects.create(
        account=account,
        provider="test",
        provider_reference="test_ref_1",
        pack_id="starter",
        credits=100,
        amount_cents=900,
        currency="eur",
        status="paid",
        paid_at=now,
    )
    WebhookEvent.objects.create(provider="stripe", event_id="evt_1", event_type="x.y")
    audit_record(action="test.event", target=account, actor=superuser, account=account)
    provider = ModelProvider.objects.create(
        model_id="gpt-4o", base_url="https://llm.example.com/v1", api_key=PROVIDER_KEY
    )
    Heartbeat.objects.create(
        role="worker", name="host:1", started_at=timezone.now(), seen_at=timezone.now()
    )
    base = KnowledgeBase.objects.create(public_id="kb_1", account=account, name="Docs")
    KnowledgeDocument.objects.create(
        public_id="doc_1",
        knowledge_base=base,
        title="Guide",
        content_type="text",
        source="Hello.",
        text="Hello.",
        char_count=6,
    )
    _seed_webhooks(account, process)
    invitation_create(
        account=account,
        email="invited@example.com",
        role="viewer",
        actor=account.owner,
        actor_role="owner",
    )
    return {"account": account, "key": key, "process": process, "provider": provider}


def _seed_webhooks(account: Any, process: Any) -> None:
    from services.webhooks import actions as webhook_actions
    from services.webhooks.models import ProcessWebhook, WebhookAttempt

    endpoint, _ = webhook_actions.endpoint_create(
        account_id=account.pk, url="https://hooks.example.com/x", events=None
    )
    delivery = webhook_actions.test_event_send(endpoint=endpoint)
    WebhookAttempt.objects.create(
        delivery=delivery, number=1, started_at=timezone.now(), duration_ms=5, status_code=200
    )
    ProcessWebhook.objects.create(process=process, url="https://hooks.example.com/y")


def _registered(app_label: str) -> list[type]:
    return [model for model in admin.site._registry if model._meta.app_label == app_label]


def test_every_model_of_accounts_and_services_is_registered():
    from django.apps import apps

    for app_label in ("accounts", "services"):
        models = set(apps.get_app_config(app_label).get_models())
        assert models == set(_registered(app_label)), app_label


def test_a_superuser_can_open_every_changelist(admin_client, seeded):
    for app_label in ("accounts", "services"):
        for model in _registered(app_label):
            opts = model._meta
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
            response = admin_client.get(url)
            assert response.status_code == 200, url
            # …and the list's filters and search answer too.
            assert admin_client.get(url, {"q": "x"}).status_code == 200, url


def test_every_change_page_opens(admin_client, seeded):
    for app_label in ("accounts", "services"):
        for model in _registered(app_label):
            row = model._default_manager.first()
            assert row is not None, model
            opts = model._meta
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[row.pk])
            assert admin_client.get(url).status_code == 200, url


@pytest.mark.parametrize("model", READ_ONLY, ids=lambda m: m.__name__)
def test_read_only_models_refuse_add_change_and_delete(model, admin_client, seeded, rf, superuser):
    model_admin = admin.site._registry[model]
    request = rf.get("/")
    request.user = superuser
    row = model._default_manager.first()
    assert model_admin.has_view_permission(request, row)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, row)
    assert not model_admin.has_delete_permission(request, row)
    assert "delete_selected" not in model_admin.get_actions(request)

    opts = model._meta
    change_url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[row.pk])
    delete_url = reverse(f"admin:{opts.app_label}_{opts.model_name}_delete", args=[row.pk])
    add_url = reverse(f"admin:{opts.app_label}_{opts.model_name}_add")
    assert admin_client.post(change_url, {}).status_code == 403
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert admin_client.get(add_url).status_code == 403
    assert model._default_manager.filter(pk=row.pk).exists()


def test_ledger_edit_posted_to_the_admin_changes_nothing(admin_client, seeded):
    entry = LedgerEntry.objects.filter(kind="charge").get()
    url = reverse("admin:accounts_ledgerentry_change", args=[entry.pk])
    response = admin_client.post(url, {"amount": "-999", "balance_after": "0", "kind": "grant"})
    assert response.status_code == 403
    entry.refresh_from_db()
    assert (entry.kind, entry.amount) == ("charge", -2)


def test_ledger_changelist_has_no_delete_action(admin_client, seeded):
    response = admin_client.get(reverse("admin:accounts_ledgerentry_changelist"))
    assert b"delete_selected" not in response.content
    response = admin_client.post(
        reverse("admin:accounts_ledgerentry_changelist"),
        {"action": "delete_selected", "_selected_action": [LedgerEntry.objects.first().pk]},
    )
    assert LedgerEntry.objects.count() == 2  # the grant and the charge are still there


def test_api_key_page_shows_no_hash(admin_client, seeded):
    key = seeded["key"]
    response = admin_client.get(reverse("admin:accounts_apikey_change", args=[key.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert key.key_hash not in html
    assert key.raw not in html
    assert key.prefix in html


def test_process_page_shows_no_token_hash(admin_client, seeded):
    process = seeded["process"]
    response = admin_client.get(reverse("admin:services_process_change", args=[process.pk]))
    assert "a-token-hash" not in response.content.decode()


def test_model_provider_key_is_write_only_in_the_admin(admin_client, seeded):
    provider = seeded["provider"]
    url = reverse("admin:services_modelprovider_change", args=[provider.pk])
    assert PROVIDER_KEY not in admin_client.get(url).content.decode()
    assert (
        PROVIDER_KEY
        not in admin_client.get(reverse("admin:services_modelprovider_changelist")).content.decode()
    )

    response = admin_client.post(
        url,
        {
            "model_id": "gpt-4o",
            "base_url": "https://llm.example.com/v2",
            "api_key": "",
            "upstream_model": "",
            "timeout_seconds": "60",
            "enabled": "on",
        },
    )

    assert response.status_code == 302
    provider.refresh_from_db()
    assert provider.api_key == PROVIDER_KEY
    assert provider.base_url == "https://llm.example.com/v2"
    event = AuditEvent.objects.get(action="admin.modelprovider.change")
    assert event.after == {"base_url": "https://llm.example.com/v2"}
    assert PROVIDER_KEY not in str([event.before, event.after])


def test_model_provider_admin_refuses_a_non_http_url(admin_client, seeded):
    provider = seeded["provider"]
    response = admin_client.post(
        reverse("admin:services_modelprovider_change", args=[provider.pk]),
        {"model_id": "gpt-4o", "base_url": "ftp://x.example/v1", "timeout_seconds": "60"},
    )
    assert response.status_code == 200
    provider.refresh_from_db()
    assert provider.base_url == "https://llm.example.com/v1"


def test_endpoint_price_changed_in_the_admin_is_audited(admin_client, seeded, superuser):
    endpoint = Endpoint.objects.get(service__service_id="summary", name="summarize")
    response = admin_client.post(
        reverse("admin:services_endpoint_change", args=[endpoint.pk]),
        {"price": "11", "enabled": "on"},
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.price == 11
    event = AuditEvent.objects.get(action="admin.endpoint.change")
    assert event.actor == superuser
    assert event.before == {"price": 2}
    assert event.after == {"price": 11}


def test_account_balance_and_status_cannot_be_edited_in_the_admin(admin_client, seeded):
    account = seeded["account"]
    response = admin_client.post(
        reverse("admin:accounts_account_change", args=[account.pk]),
        {
            "balance": "1000000",
            "status": "disabled",
            "rate_limit": "",
            "low_balance_threshold": "25",
        },
    )
    assert response.status_code == 302
    account.refresh_from_db()
    assert (account.balance, account.status, account.low_balance_threshold) == (98, "active", 25)
    event = AuditEvent.objects.get(action="admin.account.change")
    assert event.after == {"low_balance_threshold": 25}
    assert event.account == account


def test_password_typed_in_the_admin_never_reaches_the_audit_log(admin_client):
    response = admin_client.post(
        reverse("admin:accounts_user_add"),
        {
            "email": "new@example.com",
            "password1": "Very-secret-pass-123",
            "password2": "Very-secret-pass-123",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="admin.user.add")
    assert "Very-secret-pass-123" not in str([event.before, event.after])


def test_admin_is_closed_to_non_staff(page_client):
    response = page_client.get(reverse("admin:accounts_ledgerentry_changelist"))
    assert response.status_code == 302
    assert Account.objects.exists()


def test_endpoint_price_changed_in_the_service_inline_is_audited(admin_client, seeded):
    endpoint = Endpoint.objects.get(service__service_id="summary", name="summarize")
    service = endpoint.service
    rows = list(service.endpoints.order_by("id"))
    data: dict[str, Any] = {
        "name": service.name,
        "enabled": "on",
        "endpoints-TOTAL_FORMS": str(len(rows)),
        "endpoints-INITIAL_FORMS": str(len(rows)),
        "endpoints-MIN_NUM_FORMS": "0",
        "endpoints-MAX_NUM_FORMS": "1000",
    }
    for index, row in enumerate(rows):
        data[f"endpoints-{index}-id"] = str(row.pk)
        data[f"endpoints-{index}-service"] = str(service.pk)
        data[f"endpoints-{index}-price"] = "6" if row.pk == endpoint.pk else str(row.price)
        if row.enabled:
            data[f"endpoints-{index}-enabled"] = "on"

    response = admin_client.post(reverse("admin:services_service_change", args=[service.pk]), data)

    assert response.status_code == 302, response.content[:2000]
    endpoint.refresh_from_db()
    assert endpoint.price == 6
    event = AuditEvent.objects.get(action="admin.endpoint.change")
    assert (event.before, event.after) == ({"price": 2}, {"price": 6})
    assert not AuditEvent.objects.filter(action="admin.service.change").exists()
