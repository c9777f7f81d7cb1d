"""Rate strings such as 60/m, 1000/h or 10/5s: one strict parser for every limit."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

# A count, a slash, an optional multiplier and a unit: the whole string, lower-case units only
# (django-ratelimit's own parser prefix-matches, so "60/M" or "60/x" would mean 60 per second).
_RATE_SHAPE = re.compile(r"([0-9]+)/([0-9]*)([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def parse_rate(rate: str) -> tuple[int, int]:
    """(requests, seconds) of a rate string; ValueError when it is not one or allows nothing."""
    match = _RATE_SHAPE.fullmatch(rate) if isinstance(rate, str) else None
    if match is None:
        raise ValueError(f"{rate!r} is not a rate such as 60/m, 1000/h or 10/5s.")
    count, multiplier, unit = match.groups()
    seconds = _UNIT_SECONDS[unit] * int(multiplier or 1)
    if int(count) <= 0 or seconds <= 0:
        raise ValueError(f"{rate!r} must allow at least one request per period.")
    return int(count), seconds


def validate_rate_field(value: str) -> None:
    """Model/form field validator; blank means "use the default"."""
    if value:
        try:
            parse_rate(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
