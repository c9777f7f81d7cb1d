"""Rate strings such as 60/m or 10/5s, checked strictly before django-ratelimit reads them."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django_ratelimit.core import _split_rate

# django-ratelimit only prefix-matches: "lots" crashes it and "60/M" or "60/x" silently mean
# 60 per second, so the whole string must have the shape first.
_RATE_SHAPE = re.compile(r"[0-9]+/[0-9]*[smhd]")


def parse_rate(rate: str) -> tuple[int, int]:
    """(requests, seconds) of a rate string; ValueError when it is not one or allows nothing."""
    if not isinstance(rate, str) or not _RATE_SHAPE.fullmatch(rate):
        raise ValueError(f"{rate!r} is not a rate such as 60/m, 1000/h or 10/5s.")
    count, seconds = _split_rate(rate)
    if count <= 0 or seconds <= 0:
        raise ValueError(f"{rate!r} must allow at least one request per period.")
    return int(count), int(seconds)


def validate_rate_field(value: str) -> None:
    """Model/form field validator; blank means "use the default"."""
    if value:
        try:
            parse_rate(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
