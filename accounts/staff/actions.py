"""Staff writes on accounts that are not money: disable or enable an account."""

from __future__ import annotations

from django.db import transaction

from accounts.audit.actions import audit_record
from accounts.models import Account, User
from breact.errors import BadRequest


@transaction.atomic
def account_status_set(
    *, account: Account, status: str, actor: User, reason: str, ip: str | None = None
) -> bool:
    """Disable or enable an account. Its keys are refused (403) or accepted again from the next
    request on: api_key_verify reads the status every time. One conditional UPDATE, so a repeat
    (a double submit) changes nothing, records nothing and returns False; a change records one
    "account.disable"/"account.enable" audit event with the status before and after. Raises
    BadRequest for an unknown status or a blank reason. The caller checks that `actor` is
    staff."""
    reason = reason.strip()
    if status not in Account.Status.values:
        raise BadRequest("Unknown account status.")
    if not reason:
        raise BadRequest("A status change needs a reason.")
    before = (
        Account.objects.select_for_update()
        .filter(pk=account.pk)
        .values_list("status", flat=True)
        .get()
    )
    if before == status:
        account.status = status
        return False
    Account.objects.filter(pk=account.pk, status=before).update(status=status)
    account.status = status
    audit_record(
        action="account.enable" if status == Account.Status.ACTIVE else "account.disable",
        target=account,
        actor=actor,
        account=account,
        before={"status": before},
        after={"status": status},
        reason=reason,
        ip=ip,
    )
    return True
