"""Reads on organisations: a user's memberships, members, invitations, the activity log."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from accounts.models import Account, ApiKey, AuditEvent, Invitation, Membership, Role, User


def memberships_of_user(*, user: User) -> QuerySet[Membership]:
    """The user's memberships of live organisations, oldest first, with their accounts."""
    return (
        Membership.objects.filter(user=user, account__deleted_at__isnull=True)
        .select_related("account", "account__owner")
        .order_by("created_at", "id")
    )


def members_of(*, account: Account) -> QuerySet[Membership]:
    """The organisation's members, oldest first, with their users."""
    return (
        Membership.objects.filter(account=account)
        .select_related("user")
        .order_by("created_at", "id")
    )


def member_get(*, account: Account, pk: int) -> Membership:
    """Membership `pk` of this organisation, else Http404 (missing and another's alike)."""
    membership = members_of(account=account).filter(pk=pk).first()
    if membership is None:
        raise Http404("No such member.")
    return membership


def owners_count(*, account: Account) -> int:
    return Membership.objects.filter(account=account, role=Role.OWNER).count()


def invitations_of(*, account: Account) -> QuerySet[Invitation]:
    """The organisation's invitations that are neither accepted nor revoked, newest first
    (expired ones included: they can be resent)."""
    return (
        Invitation.objects.filter(
            account=account, accepted_at__isnull=True, revoked_at__isnull=True
        )
        .select_related("invited_by")
        .order_by("-created_at", "-id")
    )


def invitation_get(*, account: Account, pk: int) -> Invitation:
    """Open invitation `pk` of this organisation, else Http404."""
    invitation = invitations_of(account=account).filter(pk=pk).first()
    if invitation is None:
        raise Http404("No such invitation.")
    return invitation


def member_keys(*, account: Account, user: User) -> QuerySet[ApiKey]:
    """The usable keys `user` created in this organisation (console keys excluded)."""
    return ApiKey.objects.usable().filter(account=account, created_by=user, is_console=False)


def activity_of(*, account: Account) -> QuerySet[AuditEvent]:
    """The organisation's audit events, newest first, for its Activity page. The caller checks
    that the viewer is an Owner or Admin."""
    return AuditEvent.objects.filter(account=account).order_by("-created_at", "-id")
