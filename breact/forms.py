"""Form pieces shared by the console's filter forms."""

from __future__ import annotations

from collections.abc import MutableMapping
from datetime import date, timedelta
from typing import Any

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.http import QueryDict

# Every date a filter accepts, here and in the API: far enough from date.min and date.max that
# "a day before" and "the day after" never overflow.
DATE_MIN = date(2000, 1, 1)
DATE_MAX = date(2999, 12, 31)
DATE_RANGE_MESSAGE = f"Enter a date from {DATE_MIN.isoformat()} to {DATE_MAX.isoformat()}."


class BoundedDateField(forms.DateField):
    """A YYYY-MM-DD date between DATE_MIN and DATE_MAX (a field error otherwise)."""

    widget = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("input_formats", ["%Y-%m-%d"])
        super().__init__(**kwargs)
        self.widget.attrs.update(min=DATE_MIN.isoformat(), max=DATE_MAX.isoformat())
        self.validators += [
            MinValueValidator(DATE_MIN, message=DATE_RANGE_MESSAGE),
            MaxValueValidator(DATE_MAX, message=DATE_RANGE_MESSAGE),
        ]


class FilterForm(forms.Form):
    """A GET filter form: the page's query (copied, so defaults can be written back and shown
    in the inputs), and aria-invalid on the fields that have errors."""

    def __init__(self, data: QueryDict | dict[str, Any] | None) -> None:
        values: MutableMapping[str, Any] = (
            data.copy() if data is not None else QueryDict(mutable=True)
        )
        super().__init__(values)
        self.values = values

    def full_clean(self) -> None:
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                self.fields[name].widget.attrs["aria-invalid"] = "true"


class DateRangeFilterForm(FilterForm):
    """A filter form with `from` and `to` (whole UTC days, both included; "from" is a Python
    keyword, so the fields carry their GET names). Empty means the last `default_days` days up
    to `today`; a range longer than `max_days`, or backwards, is a field error."""

    default_days = 30
    max_days = 366

    def __init__(self, data: QueryDict | dict[str, Any] | None, *, today: date) -> None:
        super().__init__(data)
        self.today = today
        self.fields["from"] = BoundedDateField(required=False, label="From")
        self.fields["to"] = BoundedDateField(
            required=False,
            label="To",
            help_text=f"Whole days in UTC; at most {self.max_days} days.",
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if "from" not in cleaned or "to" not in cleaned:
            return cleaned  # a date did not parse; its own error says so
        end: date = cleaned["to"] or self.today
        # The default start never goes before DATE_MIN (to=2000-01-05 starts on DATE_MIN).
        start: date = cleaned["from"] or max(end - timedelta(days=self.default_days - 1), DATE_MIN)
        cleaned["from"], cleaned["to"] = start, end
        span = (end - start).days + 1
        if start > end:
            self.add_error("from", "The start date must not be after the end date.")
        elif span > self.max_days:
            self.add_error(
                "to", f"The range may span at most {self.max_days} days; it spans {span}."
            )
        # Show the range in use in the inputs.
        if not self.values.get("from"):
            self.values["from"] = start.isoformat()
        if not self.values.get("to"):
            self.values["to"] = end.isoformat()
        return cleaned
