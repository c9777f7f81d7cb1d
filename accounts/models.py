"""Users (email login), accounts with a credit balance, hashed API keys and the credit ledger."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.rates import validate_rate_field
from breact.hot_cache import GenerationQuerySet


class UserQuerySet(GenerationQuerySet):
    hot_cache_ignored_fields = frozenset({"last_login", "password"})


class UserManager(BaseUserManager.from_queryset(UserQuerySet)):  # type: ignore[misc]
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(unique=True)
    name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []

    def __str__(self) -> str:
        return self.email


class AccountQuerySet(GenerationQuerySet):
    # The balance and its alert mark change on every charge: the hot path never reads them
    # from the cache (breact.hot_cache).
    hot_cache_ignored_fields = frozenset({"balance", "low_balance_alerted_at"})


class Account(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        DISABLED = "disabled", "Disabled"

    # The user the account was first made for. Access is decided by Membership rows; this stays
    # for the ledger's and the staff pages' sake and is cleared when the organisation is deleted.
    owner = models.OneToOneField(
        User, on_delete=models.PROTECT, related_name="account", null=True, blank=True
    )
    name = models.CharField(max_length=100, blank=True, help_text="The organisation's name.")
    mfa_required = models.BooleanField(
        default=False,
        help_text="Every member must have a second factor (authenticator app or passkey) to use "
        "this organisation's console pages.",
    )
    balance = models.BigIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    rate_limit = models.CharField(
        max_length=32,
        blank=True,
        validators=[validate_rate_field],
        help_text="Execute rate limit such as 60/m; blank = default.",
    )
    low_balance_threshold = models.PositiveIntegerField(
        default=0, help_text="Email the owner when the balance falls below this; 0 = off."
    )
    # Set when the alert for the current crossing was sent; cleared when the balance recovers.
    low_balance_alerted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # An organisation deleted by its Owner: no members, keys revoked, disabled; the ledger stays.
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = AccountQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="account_balance_non_negative")
        ]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.balance} credits)"

    @property
    def contact_email(self) -> str:
        """Where the organisation's mail goes: its first user while a member, else its first
        Owner's address ("" for a deleted organisation)."""
        owners = self.memberships.filter(role=Role.OWNER).select_related("user")
        if self.owner is not None and owners.filter(user=self.owner).exists():
            return self.owner.email
        first = owners.order_by("created_at", "id").first()
        return first.user.email if first is not None else (self.owner.email if self.owner else "")

    @property
    def display_name(self) -> str:
        return self.name or (self.owner.email if self.owner_id and self.owner else f"#{self.pk}")

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class ApiKeyQuerySet(GenerationQuerySet):
    hot_cache_ignored_fields = frozenset({"last_used_at", "credits_spent"})

    def usable(self) -> ApiKeyQuerySet:
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=now)
        )


class ApiKey(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    last_four = models.CharField(max_length=4)
    scopes = models.JSONField(
        default=list, blank=True, help_text="Service ids this key may call; empty = all."
    )
    rate_limit = models.CharField(
        max_length=32,
        blank=True,
        validators=[validate_rate_field],
        help_text="Override of the account's execute rate limit.",
    )
    spend_cap = models.BigIntegerField(
        null=True, blank=True, help_text="Most credits this key may spend in all; blank = no cap."
    )
    credits_spent = models.BigIntegerField(default=0)
    # The account's own key for console runs (playground): its secret is never kept anywhere,
    # so it cannot be used over HTTP; hidden from key lists.
    is_console = models.BooleanField(default=False)
    # The member the key belongs to: Developers see and manage only their own keys.
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(credits_spent__gte=0), name="api_key_credits_spent_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(spend_cap__isnull=True) | Q(credits_spent__lte=models.F("spend_cap")),
                name="api_key_within_spend_cap",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.masked})"

    @property
    def masked(self) -> str:
        return f"{self.prefix}…{self.last_four}"

    def allows_service(self, service_id: str) -> bool:
        return not self.scopes or service_id in self.scopes


class Role(models.TextChoices):
    """A member's role in an organisation; what each may do is in accounts/orgs/roles.py."""

    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    DEVELOPER = "developer", "Developer"
    BILLING = "billing", "Billing"
    VIEWER = "viewer", "Viewer"


class Membership(models.Model):
    """A user's place in an organisation (an Account) with one role. Access is decided here."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "user"], name="membership_once_per_account")
        ]

    def __str__(self) -> str:
        return f"{self.user.email} · {self.get_role_display()} of #{self.account_id}"


class Invitation(models.Model):
    """An invitation to join an organisation by email: the link carries a signed token whose
    hash is kept here; it expires, and is used once (accepted) or revoked."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices)
    invited_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["account", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.email} as {self.get_role_display()} to #{self.account_id}"

    @property
    def is_pending(self) -> bool:
        return (
            self.accepted_at is None
            and self.revoked_at is None
            and self.expires_at > timezone.now()
        )

    @property
    def state(self) -> str:
        if self.accepted_at is not None:
            return "accepted"
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"


class AppendOnlyQuerySet(models.QuerySet[Any]):
    """Rows of an append-only table: bulk updates and deletes are refused too."""

    def update(self, **kwargs: Any) -> int:
        raise ValueError(f"{self.model.__name__} rows are append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise ValueError(f"{self.model.__name__} rows are append-only.")


class LedgerEntry(models.Model):
    """One credit movement. Rows are only ever inserted; the balance is the sum of `amount`."""

    class Kind(models.TextChoices):
        GRANT = "grant", "Grant"
        TOPUP = "topup", "Top-up"
        CHARGE = "charge", "Charge"
        REFUND = "refund", "Refund"
        ADJUSTMENT = "adjustment", "Adjustment"

    # No index of its own: the (account, -created_at) index below serves every lookup by
    # account, and each charge writes one index fewer.
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="ledger", db_index=False
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    amount = models.BigIntegerField()
    balance_after = models.BigIntegerField()
    reference = models.CharField(max_length=255, blank=True)
    process = models.ForeignKey(
        "services.Process",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_entries",
    )
    api_key = models.ForeignKey(
        ApiKey, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "ledger entries"
        indexes = [
            models.Index(fields=["account", "-created_at"]),
            # Staff overview: range scans by time across all accounts (sold/consumed/refunded).
            models.Index(fields=["created_at", "kind"], name="ledger_created_kind"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["process", "kind"],
                condition=Q(kind__in=["charge", "refund"]),
                name="ledger_one_charge_one_refund_per_process",
            ),
            # A payment (reference "payment:<id>") is credited once, however often it is fulfilled.
            models.UniqueConstraint(
                fields=["reference"],
                condition=Q(kind="topup"),
                name="ledger_one_topup_per_reference",
            ),
            models.CheckConstraint(condition=~Q(amount=0), name="ledger_amount_not_zero"),
            models.CheckConstraint(
                condition=Q(balance_after__gte=0), name="ledger_balance_after_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount:+d} → {self.balance_after}"


class Payment(models.Model):
    """A credit purchase: a Stripe Checkout session, or a test-mode top-up."""

    class Provider(models.TextChoices):
        STRIPE = "stripe", "Stripe"
        TEST = "test", "Test mode"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PAID = "paid", "Paid"
        FAILED = "failed", "Failed"

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="payments")
    provider = models.CharField(max_length=16, choices=Provider.choices)
    # The provider's id (Checkout session id), or a generated one in test mode.
    provider_reference = models.CharField(max_length=255)
    pack_id = models.CharField(max_length=64)
    credits = models.PositiveIntegerField()
    amount_cents = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_reference"], name="payment_unique_provider_reference"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.provider_reference} [{self.status}]"


class WebhookEvent(models.Model):
    """A payment provider's event, kept so that a redelivered event is processed once."""

    provider = models.CharField(max_length=16)
    event_id = models.CharField(max_length=255)
    event_type = models.CharField(max_length=128)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "event_id"], name="webhook_event_once")
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_type} {self.event_id}"


class AuditEvent(models.Model):
    """An append-only record of a staff action or a key or credit event: who, what, on what,
    before and after, when, from where. Rows are never updated or deleted."""

    actor = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_email = models.CharField(max_length=254, blank=True, help_text="Kept if the user goes.")
    action = models.CharField(max_length=64, help_text="e.g. credits.adjust, api_key.revoke")
    account = models.ForeignKey(
        Account, on_delete=models.SET_NULL, null=True, blank=True, related_name="audit_events"
    )
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=64)
    target_repr = models.CharField(max_length=255, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["-created_at"]),
            models.Index(fields=["action", "-created_at"]),
            models.Index(fields=["account", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.target_type}:{self.target_id} by {self.actor_email or '-'}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ValueError("Audit events are append-only.")
