"""Invitations: the mailed link is signed, expires after 7 days, works once, only for the
invited address, and not after a revoke or a resend."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.core import mail, signing
from django.test import Client
from django.utils import timezone

from accounts.models import AuditEvent, Invitation, Membership, Role
from accounts.orgs import actions
from tests.accounts.orgs.conftest import client_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LINK = re.compile(r"https?://[^\s]+/invitations/([^/\s]+)/")


def _invite(client, email="new@example.com", role="developer", capture=None):
    with capture(execute=True):
        response = client.post("/organisation/invitations/", {"email": email, "role": role})
    assert response.status_code == 302, response.content.decode()[:500]
    match = LINK.search(mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return match.group(1)


def test_an_invitation_is_mailed_and_accepted_by_the_invited_user(
    owner, django_capture_on_commit_callbacks
):
    token = _invite(client_for(owner), capture=django_capture_on_commit_callbacks)
    assert mail.outbox[-1].to == ["new@example.com"]
    assert "7 days" in mail.outbox[-1].body
    invitation = Invitation.objects.get()
    assert invitation.token_hash and token not in invitation.token_hash  # only the hash kept

    invited = UserFactory(email="new@example.com")
    client = Client()
    client.force_login(invited)
    page = client.get(f"/invitations/{token}/")
    assert page.status_code == 200 and "Accept and join" in page.content.decode()
    response = client.post(f"/invitations/{token}/")
    assert response.status_code == 302

    membership = Membership.objects.get(user=invited)
    assert membership.account_id == owner.account_id and membership.role == Role.DEVELOPER
    assert AuditEvent.objects.filter(action="invitation.accept", actor=invited).exists()
    assert AuditEvent.objects.filter(action="invitation.create", actor=owner.user).exists()
    # The new member now works in the organisation they joined.
    assert client.get("/keys/").status_code == 200
    assert client.get("/credits/").status_code == 403


def test_an_invitation_works_once(owner, django_capture_on_commit_callbacks):
    token = _invite(client_for(owner), capture=django_capture_on_commit_callbacks)
    invited = UserFactory(email="new@example.com")
    actions.invitation_accept(token=token, user=invited)
    with pytest.raises(actions.OrgError, match="already used"):
        actions.invitation_accept(token=token, user=invited)
    client = Client()
    client.force_login(invited)
    response = client.post(f"/invitations/{token}/")
    assert response.status_code == 400 and "already used" in response.content.decode()


def test_an_invitation_for_another_address_is_refused(owner):
    _invitation, token = actions.invitation_create(
        account=owner.account,
        email="new@example.com",
        role="viewer",
        actor=owner.user,
        actor_role=owner.role,
    )
    stranger = UserFactory(email="someone-else@example.com")
    client = Client()
    client.force_login(stranger)
    response = client.post(f"/invitations/{token}/")
    assert response.status_code == 400
    assert "This invitation is for new@example.com" in response.content.decode()
    assert not Membership.objects.filter(user=stranger, account=owner.account).exists()


def test_an_expired_invitation_is_refused(owner):
    invitation, token = actions.invitation_create(
        account=owner.account,
        email="new@example.com",
        role="viewer",
        actor=owner.user,
        actor_role=owner.role,
    )
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    with pytest.raises(actions.OrgError, match="expired"):
        actions.invitation_accept(token=token, user=UserFactory(email="new@example.com"))


def test_a_link_signed_more_than_7_days_ago_is_refused_whatever_the_row_says(owner, monkeypatch):
    invitation, token = actions.invitation_create(
        account=owner.account,
        email="new@example.com",
        role="viewer",
        actor=owner.user,
        actor_role=owner.role,
    )
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() + timedelta(days=30)
    )
    later = timezone.now().timestamp() + 7 * 24 * 3600 + 60
    monkeypatch.setattr(signing.time, "time", lambda: later)
    with pytest.raises(actions.OrgError, match="expired"):
        actions.invitation_accept(token=token, user=UserFactory(email="new@example.com"))


def test_a_tampered_link_is_refused(owner):
    _invitation, token = actions.invitation_create(
        account=owner.account,
        email="new@example.com",
        role="viewer",
        actor=owner.user,
        actor_role=owner.role,
    )
    with pytest.raises(actions.OrgError, match="not valid"):
        actions.invitation_find(token=token[:-2] + ("AA" if not token.endswith("AA") else "BB"))


def test_a_revoked_invitation_is_refused(owner, django_capture_on_commit_callbacks):
    client = client_for(owner)
    token = _invite(client, capture=django_capture_on_commit_callbacks)
    invitation = Invitation.objects.get()
    assert client.post(f"/organisation/invitations/{invitation.pk}/revoke/").status_code == 302
    with pytest.raises(actions.OrgError, match="revoked"):
        actions.invitation_accept(token=token, user=UserFactory(email="new@example.com"))
    assert AuditEvent.objects.filter(action="invitation.revoke").count() == 1


def test_a_resend_mails_a_new_link_and_the_old_one_stops(owner, django_capture_on_commit_callbacks):
    client = client_for(owner)
    old = _invite(client, capture=django_capture_on_commit_callbacks)
    invitation = Invitation.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/organisation/invitations/{invitation.pk}/resend/")
    assert response.status_code == 302
    assert len(mail.outbox) == 2
    new = LINK.search(mail.outbox[-1].body).group(1)
    assert new != old
    user = UserFactory(email="new@example.com")
    with pytest.raises(actions.OrgError, match="no longer valid"):
        actions.invitation_accept(token=old, user=user)
    assert actions.invitation_accept(token=new, user=user).role == Role.DEVELOPER


def test_a_signed_out_visitor_signs_in_and_comes_back_to_the_invitation(owner):
    _invitation, token = actions.invitation_create(
        account=owner.account,
        email="new@example.com",
        role="billing",
        actor=owner.user,
        actor_role=owner.role,
    )
    client = Client()
    page = client.get(f"/invitations/{token}/")
    html = page.content.decode()
    assert page.status_code == 200
    back = quote(f"/invitations/{token}/", safe="/")
    assert f"/signup/?next={back}" in html
    assert f"/login/?next={back}" in html
    client.force_login(UserFactory(email="new@example.com"))  # signed up meanwhile
    # Sign-up lands on the home page: the first console page sends the user back.
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == f"/invitations/{token}/"
    assert client.post(f"/invitations/{token}/").status_code == 302
    assert client.get("/").status_code == 200  # once only


def test_admins_cannot_invite_owners_and_members_cannot_be_invited_twice(member, owner):
    admin = member(Role.ADMIN)
    client = client_for(admin)
    response = client.post(
        "/organisation/invitations/", {"email": "x@example.com", "role": "owner"}
    )
    assert response.status_code == 400
    assert "Only an Owner" in response.content.decode()
    response = client.post(
        "/organisation/invitations/", {"email": owner.user.email, "role": "viewer"}
    )
    assert response.status_code == 400 and "already a member" in response.content.decode()
    assert not Invitation.objects.exists()
