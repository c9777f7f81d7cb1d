"""Reads on the audit log: the staff page's filter, the action names recorded."""

from __future__ import annotations

from datetime import datetime

from django.core.cache import cache
from django.db.models import Q, QuerySet

from accounts.models import AuditEvent
from breact.params import ascii_int


def audit_events_filtered(
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    actor: str = "",
    action: str = "",
    account: str = "",
    target: str = "",
) -> QuerySet[AuditEvent]:
    """Audit events matching the staff audit page's filters, newest first, with their account's
    owner: created in [start, end); the actor's email contains `actor`; exactly `action`;
    `account` is an account id (digits) or part of its owner's email; `target` is part of the
    target's type, id or description, or "type:id". Served by the created_at, (action,
    created_at) and (account, created_at) indexes. Staff only: the caller checks."""

    events = AuditEvent.objects.select_related("account__owner").order_by("-created_at", "-id")
    if start is not None:
        events = events.filter(created_at__gte=start)
    if end is not None:
        events = events.filter(created_at__lt=end)
    if actor:
        events = events.filter(actor_email__icontains=actor)
    if action:
        events = events.filter(action=action)
    if account:
        account_id = ascii_int(account)  # an id that fits a bigint
        if account_id is not None:
            events = events.filter(account_id=account_id)
        else:
            events = events.filter(account__owner__email__icontains=account)
    if target:
        kind, sep, ident = target.partition(":")
        if sep and kind and ident:
            events = events.filter(target_type__icontains=kind, target_id__icontains=ident)
        else:
            events = events.filter(
                Q(target_type__icontains=target)
                | Q(target_id__icontains=target)
                | Q(target_repr__icontains=target)
            )
    return events


AUDIT_ACTIONS_CACHE_SECONDS = 300


def audit_actions_recorded() -> list[str]:
    """The distinct action names in the audit log, sorted; cached for a few minutes (a walk of
    the (action, created_at) index), read straight from the database when the cache is down."""

    def read() -> list[str]:
        names = AuditEvent.objects.order_by().values_list("action", flat=True).distinct()
        return sorted(set(names))

    try:
        names = cache.get_or_set("staff:audit-actions", read, AUDIT_ACTIONS_CACHE_SECONDS)
    except Exception:  # the cache (Redis) is unreachable: the page still works
        names = read()
    return list(names or [])
