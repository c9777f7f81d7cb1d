"""Webhook endpoints, events, deliveries (one per event and target) and their attempts."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

__all__ = [
    "EVENT_TYPES",
    "ProcessWebhook",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
]

EVENT_TYPES = (
    "process.completed",
    "process.failed",
    "credits.low",
    "payment.succeeded",
    "key.expiring",
)


class WebhookEndpoint(models.Model):
    """A URL an account wants events POSTed to. `secret` signs the bodies (it has to be kept to
    sign, unlike an API key's hash); after a roll, `previous_secret` also signs until
    `previous_secret_expires_at`."""

    public_id = models.CharField(max_length=40, unique=True)
    account = models.ForeignKey(
        "accounts.Account", on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list, help_text="Event types sent; empty = all.")
    enabled = models.BooleanField(default=True)
    secret = models.CharField(max_length=100)
    previous_secret = models.CharField(max_length=100, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    # First failed attempt of the current run of failures; cleared by a success.
    failing_since = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["account", "enabled"], name="webhook_endpoint_account")]

    def __str__(self) -> str:
        return f"{self.public_id} {self.url}"

    def wants(self, event_type: str) -> bool:
        return self.enabled and (not self.events or event_type in self.events)

    def signing_secrets(self, now: object = None) -> list[str]:
        moment = now or timezone.now()
        secrets = [self.secret]
        if (
            self.previous_secret
            and self.previous_secret_expires_at is not None
            and self.previous_secret_expires_at > moment  # type: ignore[operator]
        ):
            secrets.append(self.previous_secret)
        return secrets


class WebhookEvent(models.Model):
    """Something that happened to an account, with the exact body its deliveries send.
    `dedupe_key` makes each happening one event (a process finishes once, a key expires once)."""

    public_id = models.CharField(max_length=40, unique=True)
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    type = models.CharField(max_length=40)
    dedupe_key = models.CharField(max_length=200, unique=True)
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["account", "-created_at"], name="webhook_event_account")]

    def __str__(self) -> str:
        return f"{self.public_id} {self.type}"


class WebhookDelivery(models.Model):
    """One event to one target (a registered endpoint, or a per-call `webhook_url`): unique per
    pair, so an event reaches a target at most once. `next_attempt_at` doubles as a lease: a
    worker claims a due delivery by moving it past the attempt's timeout."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(
        WebhookEndpoint,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="deliveries",
    )
    url = models.URLField(max_length=2000)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    is_test = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "endpoint"],
                condition=Q(endpoint__isnull=False),
                name="webhook_delivery_once_per_endpoint",
            ),
            models.UniqueConstraint(
                fields=["event", "url"],
                condition=Q(endpoint__isnull=True),
                name="webhook_delivery_once_per_url",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(state="pending"),
                name="webhook_delivery_due",
            ),
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_endpoint"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.url} [{self.state}]"


class WebhookAttempt(models.Model):
    """One HTTP attempt of a delivery: when, how long, the answer's status and its start."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="tries")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    response_snippet = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["delivery", "-started_at"], name="webhook_attempt_delivery")
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}: {self.status_code or self.error}"


class ProcessWebhook(models.Model):
    """The per-call `webhook_url` of an execute (an extension of the public API)."""

    process = models.OneToOneField(
        "services.Process", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    url = models.URLField(max_length=2000)

    def __str__(self) -> str:
        return f"{self.process_id} → {self.url}"
