"""The usage page's filters: date range, key (the account's own), service and status."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import QueryDict
from django.utils import timezone

from accounts.models import Account, ApiKey
from breact.forms import DateRangeFilterForm
from breact.params import ascii_int
from services.catalogue.registry import all_services
from services.usage.selectors import USAGE_STATUS_GROUPS

STATUS_GROUP_LABELS = {
    "success": "Success (2xx)",
    "client_error": "Client error (4xx)",
    "server_error": "Server error (5xx)",
}
# Statuses the API answers with; any other code from 100 to 599 is accepted too (e.g. ?status=418).
COMMON_STATUSES = (200, 202, 400, 401, 402, 403, 404, 409, 413, 422, 429, 500, 502, 503, 504)


def key_label(key: ApiKey) -> str:
    """How a key is named on the usage page: the console key is the playground's."""
    if key.is_console:
        return "Console (playground)"
    label = f"{key.name} ({key.masked})"
    return f"{label} — revoked" if key.revoked_at else label


class KeyChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: ApiKey) -> str:
        return key_label(obj)


class UsageFilterForm(DateRangeFilterForm):
    """Bound to request.GET. Empty dates mean the last 30 days (today in UTC included); the form
    fills them in so the inputs show the range in use. `filters()` gives the keyword arguments
    of the usage selectors once valid."""

    key = KeyChoiceField(
        queryset=ApiKey.objects.none(), required=False, empty_label="All keys", label="Key"
    )
    service = forms.ChoiceField(required=False, label="Service")
    status = forms.ChoiceField(required=False, label="Status")

    def __init__(self, data: QueryDict | dict[str, Any] | None, *, account: Account) -> None:
        super().__init__(data, today=timezone.now().date())
        self.account = account
        self.order_fields(["from", "to", "key", "service", "status"])
        key_field = self.fields["key"]
        assert isinstance(key_field, KeyChoiceField)
        # The account's keys only: another account's key id is "not one of the choices".
        key_field.queryset = ApiKey.objects.filter(account=account).order_by(
            "-is_console", "revoked_at", "name", "id"
        )
        service_field = self.fields["service"]
        assert isinstance(service_field, forms.ChoiceField)
        service_field.choices = [("", "All services")] + [
            (service_id, service_id) for service_id in sorted(all_services())
        ]
        status_field = self.fields["status"]
        assert isinstance(status_field, forms.ChoiceField)
        statuses = list(COMMON_STATUSES)
        asked = ascii_int(str(self.data.get("status", "")))
        if asked is not None and 100 <= asked <= 599 and asked not in statuses:
            statuses = sorted([*statuses, asked])
        status_field.choices = [
            ("", "Any status"),
            ("Groups", [(name, STATUS_GROUP_LABELS[name]) for name in USAGE_STATUS_GROUPS]),
            ("HTTP status", [(str(code), str(code)) for code in statuses]),
        ]
        for name, field in self.fields.items():
            field.widget.attrs.setdefault("aria-describedby", f"errors-{name}")

    def filters(self) -> dict[str, Any]:
        """The selectors' keyword arguments (account included); only once is_valid()."""
        data = self.cleaned_data
        key = data.get("key")
        return {
            "account": self.account,
            "start": data["from"],
            "end": data["to"],
            "api_key_id": key.pk if key is not None else None,
            "service_id": data.get("service") or None,
            "status": data.get("status") or None,
        }

    def query(self) -> QueryDict:
        """The filters in use as GET parameters (for pagination and export links)."""
        query = QueryDict(mutable=True)
        for name in ("from", "to", "key", "service", "status"):
            value = self.data.get(name)
            if value:
                query[name] = value
        return query
