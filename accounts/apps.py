from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The billing checks and the OpenAPI auth scheme register on import; the alert task
        # lives in accounts/alerts/tasks.py, which Celery's autodiscovery (accounts.tasks) misses.
        from accounts import schema  # noqa: F401
        from accounts.alerts import tasks  # noqa: F401
        from accounts.billing import checks  # noqa: F401
        from accounts.models import Account, ApiKey, User
        from accounts.signin import receivers  # noqa: F401  (security changes in the audit log)
        from breact.hot_cache import watch

        for model in (User, Account, ApiKey):  # what an API key's check reads
            watch(model)
