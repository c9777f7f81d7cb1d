"""Admin for services, endpoints (price, enabled), processes and usage logs."""

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from services.models import (
    Endpoint,
    KnowledgeBase,
    KnowledgeDocument,
    ModelProvider,
    Process,
    Service,
    UsageLog,
)


class EndpointInline(admin.TabularInline):
    model = Endpoint
    extra = 0
    fields = ["name", "price", "enabled"]
    readonly_fields = ["name"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["service_id", "name", "enabled", "updated_at"]
    list_filter = ["enabled"]
    readonly_fields = ["service_id"]
    inlines = [EndpointInline]


@admin.register(Process)
class ProcessAdmin(admin.ModelAdmin):
    list_display = [
        "public_id",
        "service_id",
        "endpoint",
        "state",
        "credits",
        "account",
        "created_at",
    ]
    list_filter = ["state", "service_id"]
    search_fields = ["public_id", "account__owner__email"]
    exclude = ["token_hash"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(UsageLog)
class UsageLogAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "method",
        "route",
        "service_id",
        "status_code",
        "error_code",
        "duration_ms",
        "credits",
    ]
    list_filter = ["status_code", "service_id"]
    search_fields = ["process_id", "request_id"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ModelProviderForm(forms.ModelForm):
    # The key is write-only: never rendered back; left blank, the stored key is kept.
    api_key = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False))

    class Meta:
        model = ModelProvider
        fields = ["model_id", "base_url", "api_key", "upstream_model", "timeout_seconds", "enabled"]

    def clean_api_key(self) -> str:
        value = self.cleaned_data.get("api_key") or ""
        if not value and self.instance.pk:
            return self.instance.api_key
        return value


@admin.register(ModelProvider)
class ModelProviderAdmin(admin.ModelAdmin):
    form = ModelProviderForm
    list_display = ["model_id", "base_url", "upstream_model", "enabled", "updated_at"]
    list_filter = ["enabled"]
    search_fields = ["model_id", "base_url"]


@admin.register(KnowledgeBase)
class KnowledgeBaseAdmin(admin.ModelAdmin):
    list_display = ["public_id", "name", "account", "created_at", "updated_at"]
    search_fields = ["public_id", "name", "account__owner__email"]
    readonly_fields = ["public_id"]


@admin.register(KnowledgeDocument)
class KnowledgeDocumentAdmin(admin.ModelAdmin):
    list_display = [
        "public_id",
        "title",
        "knowledge_base",
        "content_type",
        "char_count",
        "created_at",
    ]
    list_filter = ["content_type"]
    search_fields = ["public_id", "title", "knowledge_base__public_id"]
    exclude = ["chunks"]
    readonly_fields = ["public_id", "char_count", "chunk_count"]
