"""Staff reads on accounts: search and drill-down. Staff only: breact.staff guards every caller."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404

from accounts.keys.actions import KEY_PREFIX, PREFIX_LENGTH
from accounts.models import Account, ApiKey
from breact.params import ascii_int


def accounts_search(*, query: str = "") -> QuerySet[Account]:
    """Accounts for the staff search, newest first, with their owners. A query starting with
    the key prefix ("brk_") matches the accounts holding a key whose prefix starts with its
    first PREFIX_LENGTH characters (a whole pasted key works too; unique prefix index); a
    number also matches the account id; anything else matches emails case-insensitively by
    substring. Blank lists every account. The caller checks that the user is staff."""

    rows = Account.objects.select_related("owner").order_by("-created_at", "-id")
    query = query.strip()
    if not query:
        return rows
    if query.lower().startswith(KEY_PREFIX):
        holders = ApiKey.objects.filter(
            prefix__startswith=KEY_PREFIX + query[len(KEY_PREFIX) : PREFIX_LENGTH]
        ).values("account_id")
        return rows.filter(pk__in=holders)
    match = Q(owner__email__icontains=query)
    account_id = ascii_int(query)
    if account_id is not None:
        match |= Q(pk=account_id)
    return rows.filter(match)


def account_for_staff(*, pk: int) -> Account:
    """Any account by id with its owner, else Http404. Staff only: the caller checks."""

    account = Account.objects.select_related("owner").filter(pk=pk).first()
    if account is None:
        raise Http404("No such account.")
    return account
