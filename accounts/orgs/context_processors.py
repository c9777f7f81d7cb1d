"""The header's organisation switcher: the signed-in user's organisations and the current one."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from accounts.console.actions import ORG_SESSION_KEY
from accounts.models import User
from accounts.orgs.roles import role_has
from accounts.orgs.selectors import memberships_of_user


def organisation(request: HttpRequest) -> dict[str, Any]:
    """`org_memberships` (all of the user's) and `org_current` (this session's, else the
    first). Reads only: an organisation is created by the pages, never while rendering."""
    user = getattr(request, "user", None)
    if not isinstance(user, User):
        return {}
    current = getattr(request, "_org_membership", None)
    memberships = list(memberships_of_user(user=user))
    if current is None:
        wanted = request.session.get(ORG_SESSION_KEY) if hasattr(request, "session") else None
        current = next((m for m in memberships if m.account_id == wanted), None) or (
            memberships[0] if memberships else None
        )
    can = {}
    if current is not None:
        can = {
            # Template-friendly names: org_can.keys_view
            name.replace(".", "_"): role_has(current.role, name)
            for name in (
                "keys.view",
                "credits.view",
                "playground.use",
                "webhooks.view",
                "activity.view",
            )
        }
    return {"org_memberships": memberships, "org_current": current, "org_can": can}
