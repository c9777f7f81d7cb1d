"""The role matrix enforced: one decorator on every console view and POST action."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse

from accounts.console.actions import request_membership
from accounts.models import Membership, User
from accounts.orgs.roles import PERMISSIONS, role_has
from accounts.signin.selectors import user_has_second_factor

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
            if membership.account.mfa_required and not user_has_second_factor(user=membership.user):
                return second_factor_required(request, membership)
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


def second_factor_required(request: HttpRequest, membership: Membership) -> HttpResponseBase:
    """The organisation requires a second factor its member has not set up: to the Account
    security page (which is the person's, outside every organisation) with the reason; an htmx
    request is redirected as a whole page."""
    messages.warning(
        request,
        f"{membership.account.display_name} requires a second factor of every member. Turn on "
        "an authenticator app or add a passkey to continue.",
    )
    target = reverse("account-security")
    if request.headers.get("HX-Request") == "true":
        response = HttpResponse(status=204)
        response["HX-Redirect"] = target
        return response
    return redirect(target)


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
