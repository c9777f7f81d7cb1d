from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts import (  # noqa: F401  (registers the billing checks, the OpenAPI auth scheme)
            checks,
            schema,
        )
