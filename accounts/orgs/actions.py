"""Writes on organisations: the first organisation, a new one, rename, the second-factor rule,
delete, roles, removal, leaving,
invitations. Each is one transaction with its audit event; views check the role matrix first,
these enforce the rules that depend on the objects (Owners, the last Owner, emails)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.audit.actions import audit_record
from accounts.keys.actions import api_key_revoke
from accounts.models import Account, ApiKey, Invitation, Membership, Role, User
from accounts.orgs.roles import role_has
from accounts.orgs.selectors import member_keys, owners_count
from accounts.signin.actions import email_mark_verified
from accounts.signin.selectors import user_has_second_factor

INVITATION_MAX_AGE = timedelta(days=7)
INVITATION_SALT = "breact.orgs.invitation"


class OrgError(Exception):
    """A refused organisation change; `message` is shown to the user as it is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NoOrganisation(OrgError):
    """The user belongs to no organisation and cannot get a new one made (they left theirs)."""


def _org_name(email: str) -> str:
    return email[:100]


@transaction.atomic
def org_for_new_member(*, user: User) -> Membership:
    """The membership a user without any gets on first use: their own organisation, created
    empty (as sign-up or an account made by a command left it), with them as Owner.

    An account made for this user before memberships existed (or by a path that only set
    Account.owner) with no members at all gets its Owner membership. A user who left or was
    removed from the account made for them gets NoOrganisation: they need an invitation."""
    account = Account.objects.select_for_update().filter(owner=user).first()
    if account is None:
        account = Account.objects.create(owner=user, name=_org_name(user.email))
    elif account.deleted_at is not None or account.memberships.exists():
        raise NoOrganisation(
            "You are not a member of any organisation. Ask an Owner to invite you again."
        )
    elif not account.name:
        account.name = _org_name(user.email)
        account.save(update_fields=["name"])
    membership, _created = Membership.objects.get_or_create(
        account=account, user=user, defaults={"role": Role.OWNER}
    )
    return membership


@transaction.atomic
def org_create(*, user: User, name: str, ip: str | None = None) -> Membership:
    """A new organisation with `user` as its Owner: empty (no sign-up grant: credits are bought
    or granted by staff), audited as org.create. Any signed-in user may create one."""
    name = name.strip()[:100]
    if not name:
        raise OrgError("Give the organisation a name.")
    account = Account.objects.create(name=name)
    membership = Membership.objects.create(account=account, user=user, role=Role.OWNER)
    audit_record(
        action="org.create",
        target=account,
        actor=user,
        account=account,
        after={"name": name},
        ip=ip,
    )
    return membership


@transaction.atomic
def org_mfa_require(
    *, account: Account, required: bool, actor: User, ip: str | None = None
) -> bool:
    """Require (or stop requiring) a second factor of every member; audited as
    org.mfa_required. The Owner who turns it on must have one themself, so nobody turns it on
    for others only. Returns whether anything changed."""
    if required and not user_has_second_factor(user=actor):
        raise OrgError(
            "Turn on an authenticator app or add a passkey for yourself first (Account "
            "security), then require it of every member."
        )
    changed = Account.objects.filter(pk=account.pk, mfa_required=not required).update(
        mfa_required=required
    )
    if not changed:
        return False
    account.mfa_required = required
    audit_record(
        action="org.mfa_required",
        target=account,
        actor=actor,
        account=account,
        before={"mfa_required": not required},
        after={"mfa_required": required},
        ip=ip,
    )
    return True


@transaction.atomic
def org_rename(*, account: Account, name: str, actor: User, ip: str | None = None) -> None:
    """Rename the organisation; audited as org.rename (no event when nothing changed)."""
    name = name.strip()[:100]
    if not name:
        raise OrgError("Give the organisation a name.")
    before = account.name
    if before == name:
        return
    account.name = name
    account.save(update_fields=["name"])
    audit_record(
        action="org.rename",
        target=account,
        actor=actor,
        account=account,
        before={"name": before},
        after={"name": name},
        ip=ip,
    )


@transaction.atomic
def org_delete(*, account: Account, actor: User, ip: str | None = None) -> None:
    """Delete the organisation as far as an append-only ledger allows: refused while it holds
    credits; otherwise every key is revoked, invitations revoked, every membership removed, the
    account disabled and marked deleted (its ledger, payments and audit events stay). The
    caller has checked that the actor is an Owner."""
    locked = Account.objects.select_for_update().get(pk=account.pk)
    if locked.balance > 0:
        raise OrgError(
            f"This organisation still holds {locked.balance} credits. It can be deleted when "
            "its balance is 0: use the credits, or ask support for a refund first."
        )
    now = timezone.now()
    for key in ApiKey.objects.usable().filter(account=locked):
        api_key_revoke(api_key=key, actor=actor, ip=ip, reason="organisation deleted")
    Invitation.objects.filter(
        account=locked, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=now)
    members = list(locked.memberships.select_related("user"))
    for membership in members:
        audit_record(
            action="member.remove",
            target=("user", membership.user_id),
            actor=actor,
            account=locked,
            before={"email": membership.user.email, "role": membership.role},
            reason="organisation deleted",
            ip=ip,
        )
    locked.memberships.all().delete()
    locked.deleted_at = now
    locked.status = Account.Status.DISABLED
    locked.owner = None
    locked.save(update_fields=["deleted_at", "status", "owner"])
    audit_record(
        action="org.delete",
        target=locked,
        actor=actor,
        account=locked,
        before={"name": locked.name, "members": [m.user.email for m in members]},
        ip=ip,
    )


def _guard_owner_rights(*, actor_role: str, role: str) -> None:
    if role == Role.OWNER and not role_has(actor_role, "owners.manage"):
        raise OrgError("Only an Owner can make, change or remove Owners.")


def _guard_last_owner(*, membership: Membership, what: str) -> None:
    if membership.role == Role.OWNER and owners_count(account=membership.account) <= 1:
        raise OrgError(
            f"{membership.user.email} is the organisation's last Owner, so they cannot {what}. "
            "Make another member an Owner first."
        )


def _lock(membership: Membership) -> Membership:
    """Lock the organisation row (member changes of one organisation run one at a time, so two
    concurrent changes cannot remove the last two Owners) and reread the membership."""
    Account.objects.select_for_update().filter(pk=membership.account_id).first()
    return Membership.objects.select_related("user", "account").get(pk=membership.pk)


@transaction.atomic
def member_role_change(
    *, membership: Membership, role: str, actor: User, actor_role: str, ip: str | None = None
) -> Membership:
    """Give the member another role. Only Owners touch Owners (making one or changing one); the
    last Owner keeps the role. Audited as member.role_change."""
    if role not in Role.values:
        raise OrgError("Choose one of the roles.")
    membership = _lock(membership)
    _guard_owner_rights(actor_role=actor_role, role=membership.role)
    _guard_owner_rights(actor_role=actor_role, role=role)
    if membership.role == role:
        return membership
    if membership.role == Role.OWNER:
        _guard_last_owner(membership=membership, what="stop being an Owner")
    before = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(
        action="member.role_change",
        target=("user", membership.user_id),
        actor=actor,
        account=membership.account,
        before={"email": membership.user.email, "role": before},
        after={"email": membership.user.email, "role": role},
        ip=ip,
    )
    return membership


@dataclass(frozen=True)
class KeysOutcome:
    revoked: int
    handed_over: int


@transaction.atomic
def member_remove(
    *,
    membership: Membership,
    actor: User,
    actor_role: str,
    keys: str = "revoke",
    hand_to: Membership | None = None,
    ip: str | None = None,
) -> KeysOutcome:
    """Remove a member. Their usable keys are revoked (`keys="revoke"`) or handed over to
    another member `hand_to` (`keys="hand_over"`), each audited (api_key.revoke /
    api_key.hand_over), then member.remove. Only Owners remove Owners; never the last one."""
    membership = _lock(membership)
    _guard_owner_rights(actor_role=actor_role, role=membership.role)
    _guard_last_owner(membership=membership, what="be removed")
    outcome = _member_keys_settle(
        membership=membership, actor=actor, keys=keys, hand_to=hand_to, ip=ip
    )
    audit_record(
        action="member.remove",
        target=("user", membership.user_id),
        actor=actor,
        account=membership.account,
        before={"email": membership.user.email, "role": membership.role},
        after={"keys_revoked": outcome.revoked, "keys_handed_over": outcome.handed_over},
        ip=ip,
    )
    membership.delete()
    return outcome


def _member_keys_settle(
    *, membership: Membership, actor: User, keys: str, hand_to: Membership | None, ip: str | None
) -> KeysOutcome:
    own = list(member_keys(account=membership.account, user=membership.user))
    if keys == "hand_over":
        if hand_to is None or hand_to.account_id != membership.account_id or hand_to == membership:
            raise OrgError("Choose another member of this organisation to hand the keys to.")
        if not role_has(hand_to.role, "keys.manage"):
            raise OrgError(
                f"{hand_to.user.email} is {hand_to.get_role_display()} and cannot hold keys."
            )
        for key in own:
            ApiKey.objects.filter(pk=key.pk).update(created_by=hand_to.user)
            audit_record(
                action="api_key.hand_over",
                target=key,
                actor=actor,
                account=membership.account,
                before={"created_by": membership.user.email},
                after={"created_by": hand_to.user.email},
                ip=ip,
            )
        return KeysOutcome(revoked=0, handed_over=len(own))
    if keys != "revoke":
        raise OrgError("Choose what happens to the member's keys.")
    for key in own:
        api_key_revoke(api_key=key, actor=actor, ip=ip, reason="member removed")
    return KeysOutcome(revoked=len(own), handed_over=0)


@transaction.atomic
def member_leave(*, membership: Membership, ip: str | None = None) -> None:
    """The member leaves. The last Owner cannot. Their keys stay with the organisation (Owners
    and Admins manage them). Audited as member.leave with the member as actor."""
    membership = _lock(membership)
    _guard_last_owner(membership=membership, what="leave")
    audit_record(
        action="member.leave",
        target=("user", membership.user_id),
        actor=membership.user,
        account=membership.account,
        before={"email": membership.user.email, "role": membership.role},
        ip=ip,
    )
    membership.delete()


def _token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _invitation_token(invitation: Invitation) -> str:
    """A fresh secret for the invitation (its hash is stored) and the signed link token."""
    secret = secrets.token_urlsafe(32)
    invitation.token_hash = _token_hash(secret)
    return signing.dumps(secret, salt=INVITATION_SALT, compress=False)


def invitation_url(token: str) -> str:
    return settings.BREACT_PUBLIC_URL + reverse("invitation-accept", args=[token])


def _invitation_send(invitation: Invitation, token: str) -> None:
    context = {
        "invitation": invitation,
        "organisation": invitation.account.display_name,
        "url": invitation_url(token),
        "days": INVITATION_MAX_AGE.days,
    }
    send_mail(
        subject=f"You are invited to {invitation.account.display_name} on BReact Console",
        message=render_to_string("accounts/orgs/invitation_email.txt", context),
        from_email=None,
        recipient_list=[invitation.email],
    )


@transaction.atomic
def invitation_create(
    *, account: Account, email: str, role: str, actor: User, actor_role: str, ip: str | None = None
) -> tuple[Invitation, str]:
    """Invite `email` as `role`: store the invitation (the token's hash only), email the signed
    link (after commit) valid for INVITATION_MAX_AGE, audit invitation.create. Returns
    (invitation, token). Refused for members and for an address with an open invitation."""
    email = User.objects.normalize_email(email).strip().lower()
    if role not in Role.values:
        raise OrgError("Choose one of the roles.")
    _guard_owner_rights(actor_role=actor_role, role=role)
    Account.objects.select_for_update().filter(pk=account.pk).first()
    if Membership.objects.filter(account=account, user__email__iexact=email).exists():
        raise OrgError(f"{email} is already a member.")
    if Invitation.objects.filter(
        account=account,
        email__iexact=email,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    ).exists():
        raise OrgError(f"{email} is already invited. Resend the invitation instead.")
    invitation = Invitation(
        account=account,
        email=email,
        role=role,
        invited_by=actor,
        expires_at=timezone.now() + INVITATION_MAX_AGE,
        sent_at=timezone.now(),
    )
    token = _invitation_token(invitation)
    invitation.save()
    audit_record(
        action="invitation.create",
        target=invitation,
        actor=actor,
        account=account,
        after={"email": email, "role": role},
        ip=ip,
    )
    transaction.on_commit(lambda: _invitation_send(invitation, token))
    return invitation, token


@transaction.atomic
def invitation_resend(
    *, invitation: Invitation, actor: User, ip: str | None = None
) -> tuple[Invitation, str]:
    """Send the invitation again with a new link and a new expiry: the previous link stops
    working. Audited as invitation.resend."""
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at is not None or invitation.revoked_at is not None:
        raise OrgError("This invitation was already accepted or revoked.")
    token = _invitation_token(invitation)
    invitation.expires_at = timezone.now() + INVITATION_MAX_AGE
    invitation.sent_at = timezone.now()
    invitation.save(update_fields=["token_hash", "expires_at", "sent_at"])
    audit_record(
        action="invitation.resend",
        target=invitation,
        actor=actor,
        account=invitation.account,
        after={"email": invitation.email, "role": invitation.role},
        ip=ip,
    )
    transaction.on_commit(lambda: _invitation_send(invitation, token))
    return invitation, token


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor: User, ip: str | None = None) -> None:
    """Revoke an open invitation (its link stops working). Audited as invitation.revoke."""
    updated = Invitation.objects.filter(
        pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())
    if updated:
        audit_record(
            action="invitation.revoke",
            target=invitation,
            actor=actor,
            account=invitation.account,
            before={"email": invitation.email, "role": invitation.role},
            ip=ip,
        )


def invitation_find(*, token: str) -> Invitation:
    """The invitation of a link token, whatever its state; OrgError when the token is not one
    of ours, is older than INVITATION_MAX_AGE, or was replaced by a resend."""
    try:
        secret = signing.loads(token, salt=INVITATION_SALT, max_age=INVITATION_MAX_AGE)
    except signing.SignatureExpired:
        raise OrgError("This invitation has expired. Ask for a new one.") from None
    except signing.BadSignature:
        raise OrgError("This invitation link is not valid.") from None
    invitation = (
        Invitation.objects.select_related("account", "invited_by")
        .filter(token_hash=_token_hash(str(secret)))
        .first()
    )
    if invitation is None:
        raise OrgError("This invitation link is no longer valid (a newer one may have been sent).")
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, user: User, ip: str | None = None) -> Membership:
    """Accept the invitation for `user`: it must be open (not accepted, revoked or expired),
    addressed to the user's email, and its organisation live. Creates the membership, marks the
    invitation used (single use, under a row lock) and audits invitation.accept. The user's
    address counts as verified from then on (the invitation was mailed to it)."""
    found = invitation_find(token=token)
    invitation = Invitation.objects.select_for_update().select_related("account").get(pk=found.pk)
    state = invitation.state
    if state == "accepted":
        raise OrgError("This invitation was already used.")
    if state == "revoked":
        raise OrgError("This invitation was revoked. Ask for a new one.")
    if state == "expired":
        raise OrgError("This invitation has expired. Ask for a new one.")
    if invitation.account.deleted_at is not None:
        raise OrgError("This organisation no longer exists.")
    if invitation.email.lower() != user.email.lower():
        raise OrgError(
            f"This invitation is for {invitation.email}; you are signed in as {user.email}. "
            "Sign in with that address to accept it."
        )
    membership, created = Membership.objects.get_or_create(
        account=invitation.account, user=user, defaults={"role": invitation.role}
    )
    # The link reached this address and its owner is signed in with it: the address is proven.
    email_mark_verified(user=user)
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    audit_record(
        action="invitation.accept",
        target=invitation,
        actor=user,
        account=invitation.account,
        after={"email": user.email, "role": membership.role, "joined": created},
        ip=ip,
    )
    return membership
