"""The audit log's one write: append an event inside the transaction of the change it records."""

from __future__ import annotations

from typing import Any

from accounts.models import Account, AuditEvent, User


def audit_record(
    *,
    action: str,
    target: Any,
    actor: User | None = None,
    account: Account | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
    ip: str | None = None,
) -> AuditEvent:
    """Append one audit event. `target` is a model instance (type, id and repr are taken from
    it) or a (type, id) pair. Call it inside the transaction of the change it records, so the
    change and its record commit together."""
    if isinstance(target, tuple):
        target_type, target_id = str(target[0]), str(target[1])
        target_repr = ""
    else:
        target_type = target._meta.label_lower
        target_id = str(getattr(target, "public_id", None) or target.pk)
        target_repr = str(target)[:255]
    return AuditEvent.objects.create(
        actor=actor,
        actor_email=getattr(actor, "email", "") or "",
        action=action,
        account=account,
        target_type=target_type,
        target_id=target_id,
        target_repr=target_repr,
        before=before,
        after=after,
        reason=reason,
        ip=ip,
    )
