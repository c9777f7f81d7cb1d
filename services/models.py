"""Service and endpoint rows (price, enabled), processes, idempotency records and usage logs."""

from __future__ import annotations

import re

from django.db import models
from django.db.models import Q
from django.utils import timezone

from breact.encryption import EncryptedTextField
from breact.hot_cache import GenerationQuerySet

# "<str:service_id>" in a stored URL pattern.
_ROUTE_PLACEHOLDER = re.compile(r"<(?:\w+:)?(\w+)>")


class Service(models.Model):
    """A catalogue service; defined in code (services.catalogue.registry), enabled flag edited by
    staff."""

    service_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=128)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = GenerationQuerySet.as_manager()

    class Meta:
        ordering = ["service_id"]

    def __str__(self) -> str:
        return self.service_id


class Endpoint(models.Model):
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="endpoints")
    name = models.CharField(max_length=64)
    price = models.PositiveIntegerField(help_text="Credits charged per call.")
    enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = GenerationQuerySet.as_manager()

    class Meta:
        ordering = ["service__service_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["service", "name"], name="endpoint_unique_per_service")
        ]

    def __str__(self) -> str:
        return f"{self.service.service_id}.{self.name}"


class ProcessQuerySet(models.QuerySet["Process"]):
    def unfinished(self) -> ProcessQuerySet:
        return self.filter(state__in=[Process.State.QUEUED, Process.State.RUNNING])

    def finished(self) -> ProcessQuerySet:
        return self.filter(state__in=[Process.State.COMPLETED, Process.State.ERROR])


class Process(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        ERROR = "error", "Error"

    public_id = models.CharField(max_length=40, unique=True)
    # No index of its own: the (account, -created_at) index below serves every lookup by
    # account, and each execute writes one index fewer.
    account = models.ForeignKey(
        "accounts.Account", on_delete=models.PROTECT, related_name="processes", db_index=False
    )
    api_key = models.ForeignKey(
        "accounts.ApiKey", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    service_id = models.CharField(max_length=64)
    endpoint = models.CharField(max_length=64)
    params = models.JSONField(default=dict)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    token_hash = models.CharField(max_length=64, blank=True)
    result = models.JSONField(null=True, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    credits = models.PositiveIntegerField(default=0)
    # The execute passed a per-call webhook_url (a ProcessWebhook row): its events go there too.
    # Kept on the row the worker already reads, so no cache entry decides whether they do.
    has_webhook_url = models.BooleanField(default=False)
    # The X-Request-ID of the execute that started it: the worker's log line for the process
    # carries it, so the request's line and the process's line can be joined.
    request_id = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    deadline_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)

    objects = ProcessQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "processes"
        indexes = [
            models.Index(fields=["account", "-created_at"]),
            # Staff figures by time across all accounts (process failure rates).
            models.Index(fields=["created_at"], name="process_created"),
            models.Index(
                fields=["deadline_at"],
                condition=Q(state__in=["queued", "running"]),
                name="process_unfinished_deadline",
            ),
            models.Index(
                fields=["expires_at"],
                condition=Q(purged_at__isnull=True, expires_at__isnull=False),
                name="process_unpurged_expiry",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.service_id}.{self.endpoint} [{self.state}]"

    @property
    def is_finished(self) -> bool:
        return self.state in (self.State.COMPLETED, self.State.ERROR)

    def is_expired(self, now: object = None) -> bool:
        moment = now or timezone.now()
        return self.purged_at is not None or (
            self.expires_at is not None and self.expires_at <= moment  # type: ignore[operator]
        )


class IdempotencyRecord(models.Model):
    """The first response to an (account, Idempotency-Key) pair, replayed on retries."""

    class State(models.TextChoices):
        IN_FLIGHT = "in_flight", "In flight"
        DONE = "done", "Done"

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    state = models.CharField(max_length=16, choices=State.choices, default=State.IN_FLIGHT)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "key"], name="idempotency_key_per_account")
        ]
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        return f"{self.key} [{self.state}]"


class UsageLog(models.Model):
    """One row per API request."""

    api_key = models.ForeignKey(
        "accounts.ApiKey", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    account = models.ForeignKey(
        "accounts.Account",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="usage_logs",
    )
    method = models.CharField(max_length=8)
    route = models.CharField(max_length=255)
    service_id = models.CharField(max_length=64, blank=True)
    endpoint = models.CharField(max_length=64, blank=True)
    process_id = models.CharField(max_length=40, blank=True)
    status_code = models.PositiveSmallIntegerField()
    error_code = models.CharField(max_length=64, blank=True)
    duration_ms = models.PositiveIntegerField()
    credits = models.IntegerField(default=0)
    request_id = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # The Redis stream entry the row was folded from (services.usage.actions.usage_log_fold);
    # unique, so a batch folded twice (a fold that died before trimming) adds nothing. Null for
    # rows written directly.
    stream_id = models.CharField(max_length=40, null=True, blank=True, unique=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["account", "created_at"]),
            models.Index(fields=["api_key", "created_at"]),
            models.Index(fields=["created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.route} {self.status_code}"

    @property
    def path(self) -> str:
        """The route as the caller wrote it: the stored URL pattern with its placeholders filled
        from the row (service, endpoint, process); a part the row does not know shows as "…"."""
        known = {
            "service_id": self.service_id,
            "endpoint": self.endpoint,
            "process_id": self.process_id,
        }
        filled = _ROUTE_PLACEHOLDER.sub(lambda m: known.get(m.group(1)) or "…", self.route)
        return filled if filled.startswith("/") else "/" + filled


class ModelProvider(models.Model):
    """A model id answered by an OpenAI-compatible chat-completions endpoint.

    `model_id` "*" catches every requested model not listed. Rows override the
    BREACT_MODEL_PROVIDERS setting for the same model id.
    """

    model_id = models.CharField(max_length=128, unique=True)
    base_url = models.URLField(max_length=500, help_text="e.g. https://api.openai.com/v1")
    # Encrypted at rest (BREACT_FIELD_KEY); reads as plaintext, or "" when no key opens it.
    api_key = EncryptedTextField(max_length=500, blank=True, help_text="Sent as a Bearer token.")
    upstream_model = models.CharField(
        max_length=128, blank=True, help_text="Model name sent upstream; blank = model id."
    )
    timeout_seconds = models.PositiveIntegerField(default=60)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["model_id"]

    def __str__(self) -> str:
        return f"{self.model_id} → {self.base_url}"


class KnowledgeBase(models.Model):
    """A named collection of documents owned by one account; queried by knowledge_service."""

    public_id = models.CharField(max_length=40, unique=True)
    account = models.ForeignKey(
        "accounts.Account", on_delete=models.CASCADE, related_name="knowledge_bases"
    )
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "name"], name="knowledge_base_name_per_account"
            )
        ]
        indexes = [models.Index(fields=["account", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.public_id} {self.name}"


class KnowledgeDocument(models.Model):
    """A document of a knowledge base: the source as sent, its plain text and its passages."""

    class ContentType(models.TextChoices):
        TEXT = "text", "Plain text"
        MARKDOWN = "markdown", "Markdown"
        HTML = "html", "HTML"

    public_id = models.CharField(max_length=40, unique=True)
    knowledge_base = models.ForeignKey(
        KnowledgeBase, on_delete=models.CASCADE, related_name="documents"
    )
    title = models.CharField(max_length=200)
    content_type = models.CharField(max_length=16, choices=ContentType.choices)
    source = models.TextField(help_text="The content as sent.")
    text = models.TextField(help_text="Plain text extracted from the source.")
    chunks = models.JSONField(default=list, help_text="Passages of the text, for retrieval.")
    char_count = models.PositiveIntegerField(help_text="Characters of the extracted text.")
    chunk_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["knowledge_base", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.public_id} {self.title}"


# Upper bounds (ms) of the latency buckets kept by UsageDaily; the last bucket is everything above.
LATENCY_BUCKETS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)


# account_ref and api_key_ref of a rollup row that sums every account and key (UsageDaily,
# ProcessDaily, LedgerDaily).
ALL_REFS = -1


class UsageDaily(models.Model):
    """Usage rolled up per UTC day, account, key, service, endpoint, kind and status class, so
    staff pages never scan the request log. Built from UsageLog by
    services.usage.actions.usage_rollup; 0 in account_ref / api_key_ref means none. Derived data:
    it can be rebuilt from UsageLog. Rows with ALL_REFS in account_ref and api_key_ref hold the
    sums over every account and key of their day, service, endpoint, kind and status class, so
    platform-wide figures read a few rows per day whatever the number of accounts; every other
    read leaves them out."""

    ALL_REFS = ALL_REFS
    # The unique key of a row (its usage_daily_grain constraint).
    GRAIN = ("day", "account_ref", "api_key_ref", "service_id", "endpoint", "kind", "status_class")

    class Kind(models.TextChoices):
        CALL = "call", "Execute call"
        READ = "read", "Other request"

    day = models.DateField()
    account_ref = models.BigIntegerField()
    api_key_ref = models.BigIntegerField()
    service_id = models.CharField(max_length=64)
    endpoint = models.CharField(max_length=64)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    status_class = models.PositiveSmallIntegerField(help_text="2, 4 or 5 (HTTP status // 100).")
    requests = models.BigIntegerField(default=0)
    credits = models.BigIntegerField(default=0)
    duration_ms_sum = models.BigIntegerField(default=0)
    # Counts per LATENCY_BUCKETS_MS bound, plus one for slower requests.
    latency_buckets = models.JSONField(default=list)

    class Meta:
        verbose_name_plural = "usage daily rollups"
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "day",
                    "account_ref",
                    "api_key_ref",
                    "service_id",
                    "endpoint",
                    "kind",
                    "status_class",
                ],
                name="usage_daily_grain",
            )
        ]
        indexes = [
            models.Index(fields=["day", "service_id"]),
            models.Index(fields=["account_ref", "day"]),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.service_id}.{self.endpoint} {self.kind} {self.status_class}xx"


class _FigureDaily(models.Model):
    """The grain the figure rollups share: a UTC day, account, key, service and endpoint (0 in
    account_ref / api_key_ref and "" in service_id / endpoint mean none). Rows with ALL_REFS in
    account_ref and api_key_ref hold the sums over every account and key of their day, service
    and endpoint, so platform-wide figures read a few rows per day whatever the number of
    accounts; every other read leaves them out."""

    ALL_REFS = ALL_REFS

    day = models.DateField()
    account_ref = models.BigIntegerField()
    api_key_ref = models.BigIntegerField()
    service_id = models.CharField(max_length=64)
    endpoint = models.CharField(max_length=64)

    GRAIN = ("day", "account_ref", "api_key_ref", "service_id", "endpoint")

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.day} {self.service_id}.{self.endpoint} account {self.account_ref}"


class ProcessDaily(_FigureDaily):
    """Finished processes (completed or error) per creation day and grain, and how many of them
    failed (services.usage.figures.FAILED_PROCESS), so the figures never scan the process
    table. Built by services.usage.actions.outcomes_rollup up to RollupState "processes";
    derived data: it can be rebuilt from Process."""

    finished = models.BigIntegerField(default=0)
    failed = models.BigIntegerField(default=0)

    class Meta:
        verbose_name_plural = "process daily rollups"
        constraints = [
            models.UniqueConstraint(fields=_FigureDaily.GRAIN, name="process_daily_grain")
        ]
        indexes = [models.Index(fields=["account_ref", "day"], name="process_daily_account")]


class LedgerDaily(_FigureDaily):
    """Credits sold (top-ups), consumed (charges) and refunded, as positive numbers, per ledger
    day and the grain of the entry's process (a top-up has none: key 0, service ""), so no
    figure scans the ledger; credits spent are consumed minus refunded. Grants and adjustments
    are not folded. Built by services.usage.actions.ledger_rollup up to RollupState "ledger";
    derived data: it can be rebuilt from the ledger."""

    sold = models.BigIntegerField(default=0)
    consumed = models.BigIntegerField(default=0)
    refunded = models.BigIntegerField(default=0)

    class Meta:
        verbose_name_plural = "ledger daily rollups"
        constraints = [
            models.UniqueConstraint(fields=_FigureDaily.GRAIN, name="ledger_daily_grain")
        ]
        indexes = [models.Index(fields=["account_ref", "day"], name="ledger_daily_account")]


class RollupState(models.Model):
    """How far a rollup has read its source table (the last id included)."""

    name = models.CharField(max_length=32, unique=True)
    last_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} up to {self.last_id}"


class Heartbeat(models.Model):
    """The last sign of life of a worker (its consumer is connected and taking jobs) or of beat
    (its scheduler is ticking), written by that process every few seconds."""

    class Role(models.TextChoices):
        WORKER = "worker", "Worker"
        BEAT = "beat", "Beat"

    role = models.CharField(max_length=16, choices=Role.choices)
    name = models.CharField(max_length=255, help_text="Host name and process id.")
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["role", "name"], name="heartbeat_once")]
        indexes = [models.Index(fields=["role", "-seen_at"], name="heartbeat_latest")]

    def __str__(self) -> str:
        return f"{self.role} {self.name} seen {self.seen_at:%Y-%m-%d %H:%M:%S}"


from services.webhooks.models import *  # noqa: E402, F403  (webhooks domain, same app)
