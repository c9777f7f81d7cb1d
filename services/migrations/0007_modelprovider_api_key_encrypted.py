"""ModelProvider.api_key encrypted at rest (breact.encryption): the column becomes text and every
stored key is encrypted under the first BREACT_FIELD_KEY (or the SECRET_KEY-derived key).
Reversible: going back decrypts every key into the plain column again."""

from typing import Any

from cryptography.fernet import InvalidToken
from django.db import migrations, models

import breact.encryption


def _rows(schema_editor: Any, model: Any) -> tuple[str, list[tuple[int, str]]]:
    quote = schema_editor.connection.ops.quote_name
    table = quote(model._meta.db_table)
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"SELECT id, api_key FROM {table} WHERE api_key <> ''")  # noqa: S608
        return table, list(cursor.fetchall())


def _write(schema_editor: Any, table: str, pk: int, value: str) -> None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET api_key = %s WHERE id = %s", [value, pk])  # noqa: S608


def encrypt_keys(apps: Any, schema_editor: Any) -> None:
    # Raw SQL: the historical model's field would decrypt on read and encrypt on write.
    table, rows = _rows(schema_editor, apps.get_model("services", "ModelProvider"))
    for pk, stored in rows:
        if not stored.startswith(breact.encryption.PREFIX):
            _write(schema_editor, table, pk, breact.encryption.encrypt(stored))


def decrypt_keys(apps: Any, schema_editor: Any) -> None:
    table, rows = _rows(schema_editor, apps.get_model("services", "ModelProvider"))
    for pk, stored in rows:
        try:
            plaintext = breact.encryption.decrypt(stored)
        except InvalidToken:
            raise RuntimeError(
                f"Model provider {pk}: {breact.encryption.UNREADABLE_MESSAGE} Nothing was "
                "reverted."
            ) from None
        _write(schema_editor, table, pk, plaintext)


class Migration(migrations.Migration):
    dependencies = [
        ("services", "0006_heartbeat"),
    ]

    operations = [
        migrations.AlterField(
            model_name="modelprovider",
            name="api_key",
            field=breact.encryption.EncryptedTextField(
                blank=True, help_text="Sent as a Bearer token.", max_length=500
            ),
        ),
        migrations.RunPython(encrypt_keys, decrypt_keys),
    ]
