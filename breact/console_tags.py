"""Template filters every console template has (a builtin library, see TEMPLATES in settings)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince

register = template.Library()

JUST_NOW = timedelta(minutes=1)


@register.filter
def ago(value: datetime | None) -> str:
    """ "just now" under a minute (never "0 minutes ago"), else "3 hours, 2 minutes ago"."""
    if not value:
        return ""
    if timezone.now() - value < JUST_NOW:
        return "just now"
    return f"{timesince(value)} ago"


_INLINE_CODE = re.compile(r"`([^`\n]+)`")


@register.filter(needs_autoescape=True)
def inline_code(value: object, autoescape: bool = True) -> SafeString:
    """Markdown's `code` spans of a catalogue description as <code>; everything else escaped."""
    text = conditional_escape(str(value)) if autoescape else str(value)
    return mark_safe(_INLINE_CODE.sub(r"<code>\1</code>", text))  # noqa: S308 - escaped above
