"""Admin for services and endpoints (price, enabled; audited), model providers (write-only
key; audited), knowledge bases, and the read-only processes, idempotency records, request log
and usage rollups."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from accounts.admin import AuditedAdmin, ViewOnlyAdmin
from services.catalogue.registry import all_services
from services.models import (
    Endpoint,
    Heartbeat,
    IdempotencyRecord,
    KnowledgeBase,
    KnowledgeDocument,
    LedgerDaily,
    ModelProvider,
    Process,
    ProcessDaily,
    RollupState,
    Service,
    UsageDaily,
    UsageLog,
)
from services.staff.forms import validate_http_url


class ServiceIdFilter(admin.SimpleListFilter):
    """Services of the catalogue, from code: no DISTINCT over a large table per page view."""

    title = "service"
    parameter_name = "service_id"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(service_id, service_id) for service_id in sorted(all_services())]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(service_id=value) if value else queryset


class StatusClassFilter(admin.SimpleListFilter):
    """2xx / 4xx / 5xx as status code ranges (index-free but no DISTINCT scan)."""

    title = "status"
    parameter_name = "status_class"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("2", "2xx"), ("3", "3xx"), ("4", "4xx"), ("5", "5xx")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value not in {"2", "3", "4", "5"}:
            return queryset
        low = int(value) * 100
        return queryset.filter(Q(status_code__gte=low) & Q(status_code__lt=low + 100))


class EndpointInline(admin.TabularInline):
    model = Endpoint
    extra = 0
    fields = ["name", "price", "enabled", "updated_at"]
    readonly_fields = ["name", "updated_at"]
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Service)
class ServiceAdmin(AuditedAdmin):
    list_display = ["service_id", "name", "enabled", "updated_at"]
    list_filter = ["enabled"]
    search_fields = ["service_id", "name"]
    readonly_fields = ["service_id", "created_at", "updated_at"]
    inlines = [EndpointInline]

    # Services and endpoints are defined in code (services.catalogue.registry) and synced as rows.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Endpoint)
class EndpointAdmin(AuditedAdmin):
    list_display = ["__str__", "service", "name", "price", "enabled", "updated_at"]
    list_filter = ["enabled", "service"]
    list_select_related = ["service"]
    search_fields = ["name", "service__service_id"]
    readonly_fields = ["service", "name", "updated_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Process)
class ProcessAdmin(ViewOnlyAdmin):
    list_display = [
        "public_id",
        "service_id",
        "endpoint",
        "state",
        "credits",
        "account",
        "error_code",
        "created_at",
        "finished_at",
    ]
    list_filter = ["state", ServiceIdFilter]
    list_select_related = ["account__owner"]
    search_fields = ["=public_id", "account__owner__email"]
    raw_id_fields = ["account", "api_key"]
    exclude = ["token_hash"]
    ordering = ["-id"]  # the primary key: no sort of the whole table (ids follow time)
    show_full_result_count = False


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ViewOnlyAdmin):
    list_display = ["key", "account", "state", "response_status", "created_at"]
    list_filter = ["state"]
    list_select_related = ["account__owner"]
    search_fields = ["=key", "account__owner__email"]
    raw_id_fields = ["account"]
    date_hierarchy = "created_at"


@admin.register(UsageLog)
class UsageLogAdmin(ViewOnlyAdmin):
    list_display = [
        "created_at",
        "method",
        "route",
        "service_id",
        "endpoint",
        "status_code",
        "error_code",
        "duration_ms",
        "credits",
        "account",
    ]
    # Fixed lookups only: a field filter would run a DISTINCT over the whole request log.
    list_filter = [StatusClassFilter, ServiceIdFilter, "method"]
    list_select_related = ["account__owner"]
    search_fields = ["=process_id", "=request_id"]
    raw_id_fields = ["account", "api_key"]
    ordering = ["-id"]
    show_full_result_count = False


@admin.register(UsageDaily)
class UsageDailyAdmin(ViewOnlyAdmin):
    list_display = [
        "day",
        "service_id",
        "endpoint",
        "kind",
        "status_class",
        "account_ref",
        "api_key_ref",
        "requests",
        "credits",
        "duration_ms_sum",
    ]
    list_filter = ["kind", "status_class", ServiceIdFilter]
    search_fields = ["=account_ref", "=api_key_ref", "endpoint"]
    date_hierarchy = "day"


@admin.register(ProcessDaily)
class ProcessDailyAdmin(ViewOnlyAdmin):
    list_display = [
        "day",
        "service_id",
        "endpoint",
        "account_ref",
        "api_key_ref",
        "finished",
        "failed",
    ]
    list_filter = [ServiceIdFilter]
    date_hierarchy = "day"


@admin.register(LedgerDaily)
class LedgerDailyAdmin(ViewOnlyAdmin):
    list_display = [
        "day",
        "service_id",
        "endpoint",
        "account_ref",
        "api_key_ref",
        "sold",
        "consumed",
        "refunded",
    ]
    list_filter = [ServiceIdFilter]
    date_hierarchy = "day"


@admin.register(RollupState)
class RollupStateAdmin(ViewOnlyAdmin):
    list_display = ["name", "last_id", "updated_at"]


@admin.register(Heartbeat)
class HeartbeatAdmin(ViewOnlyAdmin):
    list_display = ["role", "name", "started_at", "seen_at"]
    list_filter = ["role"]


class WriteOnlyField(forms.CharField):
    """A secret typed in a password input that is never rendered back: blank = unchanged."""

    widget = forms.PasswordInput(render_value=False)

    def has_changed(self, initial: Any, data: Any) -> bool:
        return bool(data) and data != initial


class ModelProviderForm(forms.ModelForm):
    # The key is write-only: never rendered back; left blank, the stored key is kept.
    api_key = WriteOnlyField(
        required=False,
        max_length=500,
        help_text="Sent as a Bearer token. Never shown; leave blank to keep the current key.",
    )

    class Meta:
        model = ModelProvider
        fields = ["model_id", "base_url", "api_key", "upstream_model", "timeout_seconds", "enabled"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["base_url"].validators.append(validate_http_url)

    def clean_api_key(self) -> str:
        value = self.cleaned_data.get("api_key") or ""
        if not value and self.instance.pk:
            return self.instance.api_key
        return value


@admin.register(ModelProvider)
class ModelProviderAdmin(AuditedAdmin):
    form = ModelProviderForm
    list_display = ["model_id", "base_url", "upstream_model", "key_set", "enabled", "updated_at"]
    list_filter = ["enabled"]
    search_fields = ["model_id", "base_url"]

    @admin.display(description="Key", boolean=True)
    def key_set(self, obj: ModelProvider) -> bool:
        return bool(obj.api_key)


@admin.register(KnowledgeBase)
class KnowledgeBaseAdmin(AuditedAdmin):
    list_display = ["public_id", "name", "account", "created_at", "updated_at"]
    list_select_related = ["account__owner"]
    search_fields = ["=public_id", "name", "account__owner__email"]
    readonly_fields = ["public_id"]
    raw_id_fields = ["account"]
    date_hierarchy = "created_at"


@admin.register(KnowledgeDocument)
class KnowledgeDocumentAdmin(AuditedAdmin):
    list_display = [
        "public_id",
        "title",
        "knowledge_base",
        "content_type",
        "char_count",
        "created_at",
    ]
    list_filter = ["content_type"]
    list_select_related = ["knowledge_base"]
    search_fields = ["=public_id", "title", "knowledge_base__public_id"]
    exclude = ["chunks"]
    readonly_fields = ["public_id", "char_count", "chunk_count"]
    raw_id_fields = ["knowledge_base"]
    date_hierarchy = "created_at"


import services.webhooks.admin  # noqa: E402, F401  (registers the webhooks models)
