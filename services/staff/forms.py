"""Forms of the staff services and model provider pages."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.http import QueryDict
from django.utils import timezone

from breact.encryption import UNREADABLE_MESSAGE, UnreadableSecret
from breact.forms import DateRangeFilterForm
from services.engines.llm import LOCAL_MODEL
from services.models import ModelProvider

MAX_PRICE = 1_000_000
MAX_TIMEOUT_SECONDS = 600


def validate_http_url(value: str) -> None:
    """An http(s) URL with a host. Lenient on purpose: a self-hosted model server is often
    reached by a bare host name (http://ollama:11434/v1), which Django's URLValidator refuses."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or any(char.isspace() or ord(char) < 32 for char in value)
    ):
        raise forms.ValidationError(
            "Enter an http:// or https:// URL, e.g. https://api.openai.com/v1.",
            code="invalid_url",
        )


SORT_CHOICES = [
    ("", "Service and endpoint"),
    ("calls", "Most calls"),
    ("credits", "Most credits"),
    ("rate_5xx", "Highest 5xx rate"),
    ("process_failure_rate", "Highest process failure rate"),
    ("p95", "Slowest p95"),
]


class ServiceFiguresForm(DateRangeFilterForm):
    """The services page's filters, bound to request.GET: a date range (empty = the last 30
    days, today in UTC included; the inputs are filled in with the range in use), a service
    and a sort order."""

    service = forms.ChoiceField(required=False, label="Service")
    sort = forms.ChoiceField(required=False, label="Sort by", choices=SORT_CHOICES)

    def __init__(self, data: QueryDict | dict[str, Any] | None, *, service_ids: list[str]) -> None:
        super().__init__(data, today=timezone.now().date())
        self.order_fields(["from", "to", "service", "sort"])
        service_field = self.fields["service"]
        assert isinstance(service_field, forms.ChoiceField)
        service_field.choices = [("", "All services")] + [(s, s) for s in service_ids]


class EndpointEditForm(forms.Form):
    """An endpoint's price and switch and its service's switch, with the reason kept in the
    audit log."""

    price = forms.IntegerField(
        min_value=0,
        max_value=MAX_PRICE,
        label="Price (credits per call)",
        help_text="A whole number of credits; 0 makes the endpoint free.",
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "step": 1}),
    )
    enabled = forms.BooleanField(
        required=False,
        label="Endpoint enabled",
        help_text="Off: calls to this endpoint answer 404 SERVICE_NOT_FOUND.",
    )
    service_enabled = forms.BooleanField(
        required=False,
        label="Service enabled",
        help_text="Off: every endpoint of the service answers 404 SERVICE_NOT_FOUND.",
    )
    reason = forms.CharField(
        max_length=500,
        label="Reason",
        help_text="Kept in the audit log with the change.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def clean_reason(self) -> str:
        reason = str(self.cleaned_data.get("reason") or "").strip()
        if not reason:
            raise forms.ValidationError("Say why: the reason is kept in the audit log.")
        return reason


class ModelProviderStaffForm(forms.ModelForm):
    """A model provider row. The API key is write-only: never rendered back; left blank, the
    stored key is kept; "remove the key" clears it."""

    api_key = forms.CharField(
        required=False,
        max_length=500,
        strip=True,
        label="API key",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    clear_api_key = forms.BooleanField(
        required=False, label="Remove the stored key", help_text="Send no key upstream."
    )
    base_url = forms.CharField(
        max_length=500,
        label="Base URL",
        help_text="The OpenAI-compatible API root, e.g. https://api.openai.com/v1.",
        validators=[validate_http_url],
        widget=forms.URLInput(attrs={"placeholder": "https://api.example.com/v1"}),
    )
    timeout_seconds = forms.IntegerField(
        min_value=1,
        max_value=MAX_TIMEOUT_SECONDS,
        initial=60,
        label="Timeout (s)",
        help_text="How long one upstream request may take.",
    )
    reason = forms.CharField(
        required=False,
        max_length=500,
        label="Reason (optional)",
        help_text="Kept in the audit log with the change.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    class Meta:
        model = ModelProvider
        # base_url is a plain form field (validate_http_url), outside the model's URL check.
        fields = ["model_id", "upstream_model", "timeout_seconds", "enabled"]
        labels = {"model_id": "Model id", "upstream_model": "Upstream model"}
        help_texts = {
            "model_id": "The id callers ask for, e.g. gpt-4o; “*” answers every model not listed.",
            "upstream_model": "The model name sent upstream; blank sends the model id.",
        }

    field_order = [
        "model_id",
        "base_url",
        "api_key",
        "clear_api_key",
        "upstream_model",
        "timeout_seconds",
        "enabled",
        "reason",
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial.setdefault("base_url", self.instance.base_url)
        # A stored key no configured key decrypts reads as "": say so instead of "no key".
        unreadable = isinstance(self.instance.api_key, UnreadableSecret)
        has_key = bool(self.instance.pk and (self.instance.api_key or unreadable))
        key_help = (
            "Leave blank to keep the current key."
            if has_key
            else "Sent as a Bearer token; leave blank when the endpoint needs none."
        )
        if unreadable:
            key_help = f"{UNREADABLE_MESSAGE} {key_help}"
        self.fields["api_key"].help_text = key_help + " It is never shown again."
        if not has_key:
            del self.fields["clear_api_key"]

    def clean_model_id(self) -> str:
        model_id = str(self.cleaned_data.get("model_id") or "").strip()
        if not model_id or any(char.isspace() for char in model_id):
            raise forms.ValidationError("A model id is one word without spaces.")
        if model_id == LOCAL_MODEL or model_id.startswith(f"{LOCAL_MODEL}/"):
            raise forms.ValidationError(
                f"“{LOCAL_MODEL}” is the built-in engine's model id; it cannot be routed."
            )
        return model_id

    def clean_base_url(self) -> str:
        return str(self.cleaned_data.get("base_url") or "").strip().rstrip("/")

    def new_api_key(self) -> str | None:
        """The key to store: None keeps the current one, "" removes it. Once valid."""
        if self.cleaned_data.get("clear_api_key"):
            return ""
        typed = str(self.cleaned_data.get("api_key") or "")
        if typed:
            return typed
        return None if self.instance.pk else ""
