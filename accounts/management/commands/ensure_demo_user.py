"""Make sure the demo staff user exists; print its password the first time only."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from accounts.demo import DEMO_EMAIL, demo_user_ensure


class Command(BaseCommand):
    help = "Create the demo staff user (with an account and 1000 credits) if it does not exist."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", default=DEMO_EMAIL)

    def handle(self, *args: Any, **options: Any) -> None:
        demo = demo_user_ensure(options["email"])
        if demo.password is None:
            self.stdout.write(
                f"Demo staff user: {demo.email} (password printed when it was created; "
                "`manage.py reset_demo_user` sets a new one)"
            )
            return
        self.stdout.write("Created the demo staff user; these credentials are shown once:")
        self.stdout.write(f"  email:    {demo.email}")
        self.stdout.write(f"  password: {demo.password}")
