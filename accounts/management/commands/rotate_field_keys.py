"""Re-encrypt every secret stored with breact.encryption under the first BREACT_FIELD_KEY."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from breact.encryption import UNREADABLE_MESSAGE, field_keys_rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt stored secrets (model-provider API keys) under the first key of "
        "BREACT_FIELD_KEY. Rotation: put the new key first, keep the old one after it, run this, "
        "then drop the old key."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        rewritten, unreadable = field_keys_rotate()
        self.stdout.write(f"Re-encrypted {rewritten} stored secret(s) under the first key.")
        if unreadable:
            raise CommandError(
                f"{len(unreadable)} secret(s) left as they are ({', '.join(unreadable)}): "
                f"{UNREADABLE_MESSAGE}"
            )
