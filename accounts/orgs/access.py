"""The role matrix enforced: one decorator on every console view and POST action."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import redirect

from accounts.console.actions import request_membership
from accounts.models import Membership, User
from accounts.orgs.roles import PERMISSIONS, role_has

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# A signed-out visitor opened an invitation link: after signing in (or up), the first console
# page sends them back to it.
PENDING_INVITATION_KEY = "breact_pending_invitation"

View = TypeVar("View", bound=Callable[..., HttpResponseBase])


def permission_for(view: Any, method: str) -> str | None:
    """The permission `view` requires for `method` (None: not guarded by org_permission)."""
    declared = getattr(view, "org_permissions", None)
    if declared is None:
        return None
    read, write = declared
    return str(read if method.upper() in SAFE_METHODS else write)


def org_permission(read: str, write: str | None = None) -> Callable[[View], View]:
    """Sign-in, then the current organisation's role must hold `read` for GET/HEAD and `write`
    (default: `read`) for other methods; a 403 page otherwise. The view finds the membership
    with request_membership(request) / request_account(request)."""
    for name in (read, write):
        if name is not None and name not in PERMISSIONS:
            raise ValueError(f"Unknown permission {name!r}")

    def decorate(view: View) -> View:
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            pending = request.session.get(PENDING_INVITATION_KEY)
            if pending and request.method == "GET":
                del request.session[PENDING_INVITATION_KEY]
                return redirect("invitation-accept", pending)
            membership = request_membership(request)
            needed = permission_for(wrapper, request.method or "GET")
            assert needed is not None
            if not role_has(membership.role, needed):
                raise PermissionDenied(
                    f"Your role in {membership.account.display_name} "
                    f"({membership.get_role_display()}) does not allow this. It takes: "
                    f"“{PERMISSIONS[needed][0]}”. An Owner or Admin can change your role."
                )
            return view(request, *args, **kwargs)

        wrapper.org_permissions = (read, write or read)  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def membership_can(membership: Membership, permission: str) -> bool:
    return role_has(membership.role, permission)


def key_scope(request: HttpRequest) -> User | None:
    """Whose keys the request may see and manage: None for every key of the organisation
    (Owner, Admin; a Viewer reads them all), the member themself for a Developer."""
    membership = request_membership(request)
    if role_has(membership.role, "keys.manage") and not role_has(
        membership.role, "keys.manage_all"
    ):
        return membership.user
    return None
