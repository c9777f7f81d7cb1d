"""A ledger entry's account_id index goes: the (account, -created_at) index serves every lookup
by account. Only the index is dropped (concurrently on PostgreSQL, so writes go on); the
foreign key and its constraint stay as they are."""

import django.db.models.deletion
from django.db import migrations, models

INDEX = "accounts_ledgerentry_account_id_7615ec66"
TABLE = "accounts_ledgerentry"


def drop_index(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(f'DROP INDEX {concurrently}IF EXISTS "{INDEX}"')


def create_index(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(
        f'CREATE INDEX {concurrently}IF NOT EXISTS "{INDEX}" ON "{TABLE}" ("account_id")'
    )


class Migration(migrations.Migration):
    atomic = False  # DROP INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ("accounts", "0010_org_mfa_required"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop_index, create_index)],
            state_operations=[
                migrations.AlterField(
                    model_name="ledgerentry",
                    name="account",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="ledger",
                        to="accounts.account",
                    ),
                )
            ],
        )
    ]
