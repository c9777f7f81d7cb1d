"""Organisation pages: settings (rename, delete), members (roles, removal, leaving, the role
matrix), invitations (invite, resend, revoke, accept), the activity log and the switcher."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.console.actions import ORG_SESSION_KEY, request_membership
from accounts.models import Membership, Role, User
from accounts.orgs import actions, selectors
from accounts.orgs.access import PENDING_INVITATION_KEY, membership_can, org_permission
from accounts.orgs.forms import (
    InviteForm,
    MemberRemoveForm,
    OrgCreateForm,
    OrgRenameForm,
    RoleForm,
)
from accounts.orgs.roles import ROLE_ORDER, matrix_rows
from breact.http import HtmxHttpRequest, client_ip

ACTIVITY_PAGE_SIZE = 50


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # login_required ran first
    return request.user


@org_permission("org.view", "org.rename")
@require_http_methods(["GET", "POST"])
def org_settings(request: HtmxHttpRequest) -> HttpResponse:
    membership = request_membership(request)
    account = membership.account
    form = OrgRenameForm(request.POST or None, initial={"name": account.name})
    if request.method == "POST" and form.is_valid():
        try:
            actions.org_rename(
                account=account,
                name=form.cleaned_data["name"],
                actor=_user(request),
                ip=client_ip(request),
            )
        except actions.OrgError as exc:
            form.add_error("name", exc.message)
        else:
            messages.success(request, f"The organisation is now called “{account.name}”.")
            return redirect("org-settings")
    return render(
        request,
        "accounts/orgs/settings.html",
        {
            "membership": membership,
            "account": account,
            "form": form,
            "can_rename": membership_can(membership, "org.rename"),
            "can_delete": membership_can(membership, "org.delete"),
            "can_require_mfa": membership_can(membership, "org.require_mfa"),
        },
    )


@org_permission("org.view", "org.require_mfa")
@require_POST
def org_mfa(request: HtmxHttpRequest) -> HttpResponse:
    """Turn the organisation's second-factor rule on or off (Owners)."""
    membership = request_membership(request)
    required = request.POST.get("mfa_required") == "on"
    try:
        changed = actions.org_mfa_require(
            account=membership.account,
            required=required,
            actor=_user(request),
            ip=client_ip(request),
        )
    except actions.OrgError as exc:
        messages.error(request, exc.message)
    else:
        if changed and required:
            messages.success(request, "Every member now needs a second factor to use this console.")
        elif changed:
            messages.success(request, "Members no longer need a second factor here.")
    return redirect("org-settings")


@login_required
@require_http_methods(["GET", "POST"])
def org_create_view(request: HtmxHttpRequest) -> HttpResponse:
    """A new organisation, for any signed-in person (not a page of the current organisation):
    they become its Owner and it becomes their current one."""
    form = OrgCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        membership = actions.org_create(
            user=_user(request), name=form.cleaned_data["name"], ip=client_ip(request)
        )
        request.session[ORG_SESSION_KEY] = membership.account_id
        messages.success(request, f"You created “{membership.account.display_name}”.")
        return redirect("org-settings")
    return render(request, "accounts/orgs/create.html", {"form": form})


@org_permission("org.delete")
@require_http_methods(["GET", "POST"])
def org_delete_view(request: HtmxHttpRequest) -> HttpResponse:
    membership = request_membership(request)
    account = membership.account
    error = ""
    if request.method == "POST":
        if request.POST.get("confirm", "").strip() != account.display_name:
            error = "Type the organisation's name exactly to confirm."
        else:
            try:
                actions.org_delete(account=account, actor=_user(request), ip=client_ip(request))
            except actions.OrgError as exc:
                error = exc.message
            else:
                request.session.pop(ORG_SESSION_KEY, None)
                messages.success(request, f"“{account.display_name}” was deleted.")
                return redirect("home")
    status = 400 if error else 200
    return render(
        request,
        "accounts/orgs/delete.html",
        {"account": account, "error": error, "refused": account.balance > 0},
        status=status,
    )


@org_permission("console.view")
@require_POST
def org_switch(request: HtmxHttpRequest) -> HttpResponse:
    """Make another of the user's organisations the current one in this session."""
    wanted = request.POST.get("account", "")
    membership = (
        selectors.memberships_of_user(user=_user(request)).filter(account_id=wanted).first()
        if wanted.isdigit()
        else None
    )
    if membership is None:
        raise PermissionDenied("You are not a member of that organisation.")
    request.session[ORG_SESSION_KEY] = membership.account_id
    messages.info(request, f"Now working in “{membership.account.display_name}”.")
    return redirect("home")


def _members_context(request: HttpRequest, membership: Membership, **extra: Any) -> dict[str, Any]:
    account = membership.account
    can_manage = membership_can(membership, "members.manage")
    can_owners = membership_can(membership, "owners.manage")
    rows = []
    for member in selectors.members_of(account=account):
        manageable = can_manage and (member.role != Role.OWNER or can_owners)
        rows.append({"member": member, "manageable": manageable, "me": member.pk == membership.pk})
    role_choices = [
        (value, label) for value, label in Role.choices if value != Role.OWNER or can_owners
    ]
    context = {
        "membership": membership,
        "account": account,
        "rows": rows,
        "invitations": list(selectors.invitations_of(account=account)) if can_manage else [],
        "can_manage": can_manage,
        "role_choices": role_choices,
        "all_role_choices": Role.choices,
        "invite_form": InviteForm(),
        "matrix": matrix_rows(),
        "matrix_roles": [Role(role).label for role in ROLE_ORDER],
    }
    context.update(extra)
    return context


@org_permission("members.view")
@require_http_methods(["GET"])
def members(request: HtmxHttpRequest) -> HttpResponse:
    membership = request_membership(request)
    return render(request, "accounts/orgs/members.html", _members_context(request, membership))


@org_permission("members.manage")
@require_http_methods(["GET", "POST"])
def member_role(request: HtmxHttpRequest, pk: int) -> HttpResponseBase:
    membership = request_membership(request)
    target = selectors.member_get(account=membership.account, pk=pk)
    if request.method == "GET":  # the form lives on the Members page
        return redirect("org-members")
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the roles.")
        return redirect("org-members")
    try:
        actions.member_role_change(
            membership=target,
            role=form.cleaned_data["role"],
            actor=_user(request),
            actor_role=membership.role,
            ip=client_ip(request),
        )
    except actions.OrgError as exc:
        messages.error(request, exc.message)
    else:
        label = Role(form.cleaned_data["role"]).label
        messages.success(request, f"{target.user.email} is now {label}.")
    return redirect("org-members")


@org_permission("members.manage")
@require_http_methods(["GET", "POST"])
def member_remove_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    membership = request_membership(request)
    target = selectors.member_get(account=membership.account, pk=pk)
    if target.pk == membership.pk:
        return redirect("org-leave")
    keys = list(selectors.member_keys(account=membership.account, user=target.user))
    form = MemberRemoveForm(request.POST or None, membership=target)
    if request.method == "POST" and form.is_valid():
        try:
            outcome = actions.member_remove(
                membership=target,
                actor=_user(request),
                actor_role=membership.role,
                keys=form.cleaned_data["keys"],
                hand_to=form.cleaned_data.get("hand_to"),
                ip=client_ip(request),
            )
        except actions.OrgError as exc:
            form.add_error(None, exc.message)
        else:
            done = f"{target.user.email} was removed."
            if outcome.revoked:
                done += f" {outcome.revoked} key{'s' if outcome.revoked != 1 else ''} revoked."
            if outcome.handed_over:
                done += f" {outcome.handed_over} key{'s' if outcome.handed_over != 1 else ''} "
                done += "handed over."
            messages.success(request, done)
            return redirect("org-members")
    return render(
        request,
        "accounts/orgs/member_remove.html",
        {"target": target, "keys": keys, "form": form},
        status=400 if form.errors else 200,
    )


@org_permission("org.view")
@require_http_methods(["GET", "POST"])
def member_leave_view(request: HtmxHttpRequest) -> HttpResponse:
    membership = request_membership(request)
    error = ""
    if request.method == "POST":
        try:
            actions.member_leave(membership=membership, ip=client_ip(request))
        except actions.OrgError as exc:
            error = exc.message
        else:
            request.session.pop(ORG_SESSION_KEY, None)
            messages.success(request, f"You left “{membership.account.display_name}”.")
            return redirect("home")
    return render(
        request,
        "accounts/orgs/leave.html",
        {"membership": membership, "account": membership.account, "error": error},
        status=400 if error else 200,
    )


@org_permission("members.manage")
@require_POST
def invite(request: HtmxHttpRequest) -> HttpResponse:
    membership = request_membership(request)
    form = InviteForm(request.POST)
    if form.is_valid():
        try:
            invitation, _token = actions.invitation_create(
                account=membership.account,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                actor=_user(request),
                actor_role=membership.role,
                ip=client_ip(request),
            )
        except actions.OrgError as exc:
            form.add_error("email", exc.message)
        else:
            messages.success(
                request,
                f"Invitation sent to {invitation.email} as {invitation.get_role_display()}.",
            )
            return redirect("org-members")
    context = _members_context(request, membership, invite_form=form)
    return render(request, "accounts/orgs/members.html", context, status=400)


@org_permission("members.manage")
@require_http_methods(["GET", "POST"])
def invitation_resend_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    membership = request_membership(request)
    invitation = selectors.invitation_get(account=membership.account, pk=pk)
    if request.method == "GET":  # the buttons live on the Members page
        return redirect("org-members")
    try:
        actions.invitation_resend(
            invitation=invitation, actor=_user(request), ip=client_ip(request)
        )
    except actions.OrgError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Invitation sent again to {invitation.email}.")
    return redirect("org-members")


@org_permission("members.manage")
@require_http_methods(["GET", "POST"])
def invitation_revoke_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    membership = request_membership(request)
    invitation = selectors.invitation_get(account=membership.account, pk=pk)
    if request.method == "GET":  # the buttons live on the Members page
        return redirect("org-members")
    actions.invitation_revoke(invitation=invitation, actor=_user(request), ip=client_ip(request))
    messages.success(request, f"The invitation to {invitation.email} was revoked.")
    return redirect("org-members")


@org_permission("activity.view")
@require_http_methods(["GET"])
def activity(request: HtmxHttpRequest) -> HttpResponse:
    membership = request_membership(request)
    page = Paginator(selectors.activity_of(account=membership.account), ACTIVITY_PAGE_SIZE)
    page_obj = page.get_page(request.GET.get("page"))
    template = (
        "accounts/orgs/activity.html#events" if request.htmx else "accounts/orgs/activity.html"
    )
    return render(
        request,
        template,
        {"account": membership.account, "page_obj": page_obj, "query": request.GET},
    )


@never_cache
@require_http_methods(["GET", "POST"])
def invitation_accept_view(request: HttpRequest, token: str) -> HttpResponseBase:
    """The link of an invitation email. Signed out: the page offers to log in or sign up and
    remembers the invitation, so the first console page after signing in comes back here.
    Signed in: shows the invitation and accepts it on POST (for the invited address only)."""
    error = ""
    invitation = None
    try:
        invitation = actions.invitation_find(token=token)
    except actions.OrgError as exc:
        error = exc.message
    if not request.user.is_authenticated:
        if invitation is not None:
            request.session[PENDING_INVITATION_KEY] = token
        return render(
            request,
            "accounts/orgs/invitation.html",
            {"invitation": invitation, "error": error, "next": request.path},
            status=400 if error else 200,
        )
    request.session.pop(PENDING_INVITATION_KEY, None)
    if request.method == "POST" and not error:
        try:
            joined = actions.invitation_accept(
                token=token, user=_user(request), ip=client_ip(request)
            )
        except actions.OrgError as exc:
            error = exc.message
        else:
            request.session[ORG_SESSION_KEY] = joined.account_id
            messages.success(
                request,
                f"You joined “{joined.account.display_name}” as {joined.get_role_display()}.",
            )
            return redirect("home")
    return render(
        request,
        "accounts/orgs/invitation.html",
        {"invitation": invitation, "error": error, "next": request.path},
        status=400 if error else 200,
    )


# Not an organisation page: the link works for any visitor (tests/accounts/orgs lists it).
invitation_accept_view.org_exempt = True  # type: ignore[attr-defined]
