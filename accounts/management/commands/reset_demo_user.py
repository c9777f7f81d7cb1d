"""Give the demo staff user a new password and print it."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from accounts.demo import DEMO_EMAIL, demo_user_reset_password


class Command(BaseCommand):
    help = "Set a new random password for the demo staff user (created if missing) and print it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", default=DEMO_EMAIL)

    def handle(self, *args: Any, **options: Any) -> None:
        demo = demo_user_reset_password(options["email"])
        self.stdout.write(f"  email:    {demo.email}")
        self.stdout.write(f"  password: {demo.password}")
