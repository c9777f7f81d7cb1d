"""Writes on one API key from its page: change its name, scopes, rate limit and spend cap."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q

from accounts.actions import _api_key_audit_state, audit_record, validate_rate
from accounts.models import Account, ApiKey, User
from breact.errors import BadRequest


@transaction.atomic
def api_key_update(
    *,
    api_key: ApiKey,
    name: str,
    scopes: list[str],
    rate_limit: str,
    spend_cap: int | None,
    actor: User | None = None,
    ip: str | None = None,
) -> ApiKey:
    """Set the key's name, scopes (empty = every service), rate limit ("" = the account's) and
    spend cap (None = no cap). One conditional UPDATE: refused with BadRequest when the key is
    revoked, or the cap is below what the key has already spent (both read at the moment of
    the write, so a concurrent charge or revoke cannot slip past). Records an "api_key.update"
    audit event with the settings before and after, in the same transaction, when anything
    changed; a save without changes records nothing. The caller has checked ownership."""
    name = name.strip()
    if not name:
        raise BadRequest("Give the key a name.")
    if rate_limit:
        validate_rate(rate_limit)
    if spend_cap is not None and spend_cap < 0:
        raise BadRequest("The spend cap cannot be negative.")
    before = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    state_before = _api_key_audit_state(before)
    rows = ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True)
    if spend_cap is not None:
        rows = rows.filter(Q(credits_spent__lte=spend_cap))
    updated = rows.update(
        name=name, scopes=list(scopes), rate_limit=rate_limit, spend_cap=spend_cap
    )
    if not updated:
        if before.revoked_at is not None:
            raise BadRequest("This key is revoked; a revoked key cannot be changed.")
        raise BadRequest(
            f"This key has already spent {before.credits_spent} credits; the spend cap cannot "
            "be lower than that.",
            details={"credits_spent": before.credits_spent},
        )
    api_key.refresh_from_db()
    state_after = _api_key_audit_state(api_key)
    if state_after != state_before:
        audit_record(
            action="api_key.update",
            target=api_key,
            actor=actor,
            account=Account(pk=api_key.account_id),
            before=state_before,
            after=state_after,
            ip=ip,
        )
    return api_key
