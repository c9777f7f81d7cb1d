"""Model-provider API keys are encrypted at rest (breact.encryption): no plaintext in the column,
rotation with BREACT_FIELD_KEY and `rotate_field_keys`, a clear message for a wrong key."""

from __future__ import annotations

import importlib
import io
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.apps import apps
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django.urls import reverse

from breact.encryption import PREFIX, UnreadableSecret
from services.models import ModelProvider
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SECRET = "sk-live-0123456789abcdefSECRET"
OLD, NEW, OTHER = (Fernet.generate_key().decode() for _ in range(3))
migration = importlib.import_module("services.migrations.0007_modelprovider_api_key_encrypted")


def _stored(provider: ModelProvider) -> str:
    """The column as the database holds it, past the field's decryption."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM services_modelprovider WHERE id = %s", [provider.pk])
        return str(cursor.fetchone()[0])


def _provider(api_key: str = SECRET) -> ModelProvider:
    return ModelProvider.objects.create(
        model_id="gpt-4o", base_url="https://llm.example.com/v1", api_key=api_key
    )


@pytest.fixture
def staff_client() -> Client:
    client = Client()
    client.force_login(UserFactory(is_staff=True))
    return client


def test_the_column_holds_no_plaintext_and_the_model_reads_the_key(settings: Any) -> None:
    settings.BREACT_FIELD_KEY = [NEW]
    provider = _provider()

    stored = _stored(provider)
    assert stored.startswith(PREFIX) and SECRET not in stored
    assert ModelProvider.objects.get(pk=provider.pk).api_key == SECRET
    twin = ModelProvider.objects.create(
        model_id="twin", base_url="https://llm.example.com/v1", api_key=SECRET
    )
    assert _stored(twin) != stored  # each encryption differs: equal keys do not show


def test_without_a_field_key_the_key_derived_from_the_secret_key_is_used(settings: Any) -> None:
    settings.BREACT_FIELD_KEY = []
    provider = _provider()

    assert SECRET not in _stored(provider)
    assert ModelProvider.objects.get(pk=provider.pk).api_key == SECRET
    settings.SECRET_KEY = "another-secret-key-" * 3
    assert isinstance(ModelProvider.objects.get(pk=provider.pk).api_key, UnreadableSecret)


def test_an_empty_key_stays_empty(settings: Any) -> None:
    provider = _provider(api_key="")
    assert _stored(provider) == ""
    assert ModelProvider.objects.get(pk=provider.pk).api_key == ""


def test_rotation_moves_every_key_to_the_first_key(settings: Any) -> None:
    settings.BREACT_FIELD_KEY = [OLD]
    provider = _provider()
    before = _stored(provider)

    settings.BREACT_FIELD_KEY = [NEW, OLD]  # new key first, the old one still decrypts
    assert ModelProvider.objects.get(pk=provider.pk).api_key == SECRET
    call_command("rotate_field_keys", stdout=io.StringIO())
    assert _stored(provider) != before

    settings.BREACT_FIELD_KEY = [NEW]  # the old key dropped
    assert ModelProvider.objects.get(pk=provider.pk).api_key == SECRET
    assert Fernet(NEW.encode()).decrypt(_stored(provider).removeprefix(PREFIX).encode()) == (
        SECRET.encode()
    )


def test_setting_a_field_key_on_a_derived_key_install_rotates_onto_it(settings: Any) -> None:
    settings.BREACT_FIELD_KEY = []
    provider = _provider()

    settings.BREACT_FIELD_KEY = [NEW]
    call_command("rotate_field_keys", stdout=io.StringIO())

    assert Fernet(NEW.encode()).decrypt(_stored(provider).removeprefix(PREFIX).encode()) == (
        SECRET.encode()
    )


def test_a_wrong_key_shows_a_clear_state_on_the_staff_pages_not_a_500(
    settings: Any, staff_client: Client
) -> None:
    settings.BREACT_FIELD_KEY = [OLD]
    provider = _provider()
    stored = _stored(provider)
    settings.BREACT_FIELD_KEY = [OTHER]  # the old key lost

    listing = staff_client.get(reverse("staff-providers"))
    assert listing.status_code == 200
    assert "key unreadable" in listing.content.decode()

    edit_url = reverse("staff-provider-edit", args=[provider.pk])
    page = staff_client.get(edit_url)
    assert page.status_code == 200
    assert "cannot be decrypted with the keys in BREACT_FIELD_KEY" in page.content.decode()

    # Saving the other fields keeps the stored ciphertext for when the right key is back.
    saved = staff_client.post(
        edit_url,
        {
            "model_id": "gpt-4o",
            "base_url": "https://llm.example.com/v2",
            "timeout_seconds": "30",
            "enabled": "on",
        },
    )
    assert saved.status_code == 302
    assert _stored(provider) == stored
    settings.BREACT_FIELD_KEY = [OTHER, OLD]
    assert ModelProvider.objects.get(pk=provider.pk).api_key == SECRET


def test_rotation_names_the_rows_no_key_opens_and_leaves_them(settings: Any) -> None:
    settings.BREACT_FIELD_KEY = [OLD]
    provider = _provider()
    stored = _stored(provider)
    settings.BREACT_FIELD_KEY = [OTHER]

    with pytest.raises(CommandError, match=rf"services.ModelProvider {provider.pk}"):
        call_command("rotate_field_keys", stdout=io.StringIO())
    assert _stored(provider) == stored


def test_a_malformed_field_key_is_a_system_check_error(settings: Any) -> None:
    settings.BREACT_FIELD_KEY = ["not-a-fernet-key"]
    errors = [e for e in run_checks() if e.id == "breact.E010"]
    assert errors and "BREACT_FIELD_KEY entry 1 is not a Fernet key" in errors[0].msg


def test_the_migration_encrypts_existing_keys_and_reverts_them(settings: Any) -> None:
    settings.BREACT_FIELD_KEY = [NEW]
    provider = _provider(api_key="")
    with connection.cursor() as cursor:  # a row as it was before the migration
        cursor.execute(
            "UPDATE services_modelprovider SET api_key = %s WHERE id = %s", [SECRET, provider.pk]
        )

    editor = SimpleNamespace(connection=connection)  # all the data step uses of a schema editor
    migration.encrypt_keys(apps, editor)
    assert _stored(provider).startswith(PREFIX)
    assert ModelProvider.objects.get(pk=provider.pk).api_key == SECRET

    migration.decrypt_keys(apps, editor)
    assert _stored(provider) == SECRET
