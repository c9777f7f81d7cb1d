"""A process's account_id index goes: the (account, -created_at) index serves every lookup
by account. Only the index is dropped (concurrently on PostgreSQL, so writes go on); the
foreign key and its constraint stay as they are."""

import django.db.models.deletion
from django.db import migrations, models

INDEX = "services_process_account_id_47c4e6e0"
TABLE = "services_process"


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
        ("accounts", "0011_ledger_account_index_covered"),
        ("services", "0013_process_request_id"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop_index, create_index)],
            state_operations=[
                migrations.AlterField(
                    model_name="process",
                    name="account",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="processes",
                        to="accounts.account",
                    ),
                )
            ],
        )
    ]
