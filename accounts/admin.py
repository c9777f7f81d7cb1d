"""Admin for users, accounts, keys (no hashes shown), and the read-only ledger, audit log,
payments and webhook events. Changes made here are audited like the staff pages' ones."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import Model
from django.forms import BaseForm, BaseFormSet, ModelForm
from django.http import HttpRequest

from accounts.audit.actions import audit_record
from accounts.models import (
    Account,
    ApiKey,
    AuditEvent,
    Invitation,
    LedgerEntry,
    Membership,
    Payment,
    User,
    WebhookEvent,
)
from breact.http import client_ip

# Fields whose values never go into an audit event, only that they changed (and any
# "password…" field of the user forms).
SECRET_FIELDS = frozenset({"password", "key_hash", "api_key", "token_hash"})


def _is_secret(name: str) -> bool:
    return name in SECRET_FIELDS or name.startswith("password")


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Model):
        return value.pk
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, Iterable):
        return [_jsonable(v) for v in value]
    return str(value)


def _changes(form: BaseForm) -> tuple[dict[str, Any], dict[str, Any]]:
    """Before/after of the fields the admin form changed; secrets only as "<name>_changed"."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for name in form.changed_data:
        if _is_secret(name):
            after[f"{name}_changed"] = True
            continue
        before[name] = _jsonable(form.initial.get(name))
        after[name] = _jsonable(form.cleaned_data.get(name))
    return before, after


def _account_of(instance: Model) -> Account | None:
    if isinstance(instance, Account):
        return instance
    account = getattr(instance, "account", None)
    return account if isinstance(account, Account) else None


def admin_audit(
    request: HttpRequest,
    instance: Model,
    verb: str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """One audit event "admin.<model>.<verb>" for a change made in the admin. The admin's
    views run in a transaction, so the event commits with the change."""
    user = request.user if isinstance(request.user, User) else None
    audit_record(
        action=f"admin.{instance._meta.model_name}.{verb}",
        target=instance,
        actor=user,
        account=_account_of(instance),
        before=before,
        after=after,
        reason="Changed in the Django admin.",
        ip=client_ip(request),
    )


class AuditedAdmin(admin.ModelAdmin):
    """Records every add, change (the changed fields, before and after) and delete made here,
    inline rows included, in the audit log."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            admin_audit(request, obj, "add", after=_changes(form)[1])
        elif form.changed_data:
            before, after = _changes(form)
            admin_audit(request, obj, "change", before=before, after=after)

    def save_formset(
        self, request: HttpRequest, form: Any, formset: BaseFormSet, change: bool
    ) -> None:
        changed = [f for f in formset.forms if isinstance(f, ModelForm) and f.has_changed()]
        super().save_formset(request, form, formset, change)
        for inline_form in changed:
            instance = inline_form.instance
            if instance.pk is None or inline_form in formset.deleted_forms:
                continue
            before, after = _changes(inline_form)
            admin_audit(request, instance, "change", before=before, after=after)
        for instance in getattr(formset, "deleted_objects", []):
            admin_audit(request, instance, "delete")

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        admin_audit(request, obj, "delete")
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for obj in queryset:
            admin_audit(request, obj, "delete")
        super().delete_queryset(request, queryset)


class ViewOnlyAdmin(admin.ModelAdmin):
    """Rows written only by the platform: staff may look, never add, edit or delete (no delete
    action either)."""

    actions = None

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(User)
class UserAdmin(AuditedAdmin, BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "name", "is_staff", "is_superuser", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "name"]
    date_hierarchy = "date_joined"
    readonly_fields = ["last_login", "date_joined"]
    fieldsets = (
        (None, {"fields": ("email", "password", "name")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


@admin.register(Membership)
class MembershipAdmin(ViewOnlyAdmin):
    list_display = ["user", "account", "role", "created_at"]
    list_filter = ["role"]
    list_select_related = ["user", "account"]
    search_fields = ["user__email", "account__name", "=account__id"]
    readonly_fields = ["account", "user", "role", "created_at"]


@admin.register(Invitation)
class InvitationAdmin(ViewOnlyAdmin):
    list_display = [
        "email",
        "account",
        "role",
        "invited_by",
        "created_at",
        "expires_at",
        "accepted_at",
        "revoked_at",
    ]
    list_select_related = ["account", "invited_by"]
    search_fields = ["email", "account__name", "=account__id"]
    exclude = ["token_hash"]
    readonly_fields = [
        "account",
        "email",
        "role",
        "invited_by",
        "created_at",
        "sent_at",
        "expires_at",
        "accepted_at",
        "accepted_by",
        "revoked_at",
    ]


@admin.register(Account)
class AccountAdmin(AuditedAdmin):
    list_display = [
        "id",
        "name",
        "owner",
        "balance",
        "status",
        "low_balance_threshold",
        "rate_limit",
        "created_at",
    ]
    list_display_links = ["id", "owner"]
    list_filter = ["status"]
    list_select_related = ["owner"]
    search_fields = ["owner__email", "name", "memberships__user__email", "=id"]
    date_hierarchy = "created_at"

    # Accounts come from sign-up and are disabled, never deleted (the ledger protects them).
    # Credits move only through the ledger (staff adjustment page); the status through the
    # staff account page, which asks for the reason.
    readonly_fields = [
        "owner",
        "name",
        "members",
        "balance",
        "status",
        "low_balance_alerted_at",
        "created_at",
        "deleted_at",
    ]

    @admin.display(description="Members")
    def members(self, obj: Account) -> str:
        # Read-only here: roles change on the console's Members page (last-Owner rule, audit).
        rows = obj.memberships.select_related("user").order_by("created_at", "id")
        return ", ".join(f"{m.user.email} ({m.get_role_display()})" for m in rows) or "—"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ApiKey)
class ApiKeyAdmin(AuditedAdmin):
    list_display = [
        "name",
        "prefix",
        "last_four",
        "account",
        "is_console",
        "credits_spent",
        "spend_cap",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]
    list_select_related = ["account__owner"]
    search_fields = ["=prefix", "name", "account__owner__email"]
    list_filter = ["is_console", "revoked_at", "expires_at"]
    date_hierarchy = "created_at"
    raw_id_fields = ["account"]
    exclude = ["key_hash"]
    # Keys are issued (and revoked) by the console and the staff pages, which show the secret
    # once and record the event; here only limits and scopes are edited.
    readonly_fields = [
        "account",
        "prefix",
        "last_four",
        "is_console",
        "credits_spent",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ViewOnlyAdmin):
    list_display = [
        "created_at",
        "account",
        "kind",
        "amount",
        "balance_after",
        "reference",
        "process",
        "actor",
    ]
    list_filter = ["kind"]
    list_select_related = ["account__owner", "process", "actor"]
    search_fields = ["account__owner__email", "=reference", "=process__public_id"]
    date_hierarchy = "created_at"
    raw_id_fields = ["account", "process", "api_key", "actor"]


@admin.register(AuditEvent)
class AuditEventAdmin(ViewOnlyAdmin):
    list_display = [
        "created_at",
        "action",
        "actor_email",
        "target_type",
        "target_id",
        "target_repr",
        "account",
        "ip",
    ]
    list_filter = ["action", "target_type"]
    list_select_related = ["account__owner"]
    search_fields = ["actor_email", "=target_id", "target_repr", "reason", "account__owner__email"]
    date_hierarchy = "created_at"
    raw_id_fields = ["actor", "account"]


@admin.register(Payment)
class PaymentAdmin(ViewOnlyAdmin):
    list_display = [
        "created_at",
        "account",
        "provider",
        "status",
        "pack_id",
        "credits",
        "amount",
        "paid_at",
    ]
    list_filter = ["provider", "status", "currency", "pack_id"]
    list_select_related = ["account__owner"]
    search_fields = ["=provider_reference", "account__owner__email"]
    date_hierarchy = "created_at"
    raw_id_fields = ["account"]

    @admin.display(description="Amount", ordering="amount_cents")
    def amount(self, obj: Payment) -> str:
        return f"{obj.amount_cents / 100:.2f} {obj.currency.upper()}"


@admin.register(WebhookEvent)
class WebhookEventAdmin(ViewOnlyAdmin):
    list_display = ["received_at", "provider", "event_type", "event_id"]
    list_filter = ["provider", "event_type"]
    search_fields = ["=event_id", "event_type"]
    date_hierarchy = "received_at"
