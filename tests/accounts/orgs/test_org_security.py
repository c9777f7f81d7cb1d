"""An Owner requires a second factor of every member; any signed-in person creates a new
organisation of their own."""

from __future__ import annotations

import pyotp
import pytest
from allauth.mfa.totp.internal.auth import TOTP

from accounts.models import Account, AuditEvent, LedgerEntry, Membership, Role
from tests.accounts.orgs.conftest import client_for

pytestmark = pytest.mark.django_db


def _with_totp(membership: Membership) -> Membership:
    TOTP.activate(membership.user, pyotp.random_base32())
    return membership


def test_an_owner_without_a_second_factor_cannot_require_it(org, owner):
    response = client_for(owner).post("/organisation/second-factor/", {"mfa_required": "on"})

    assert response.status_code == 302
    org.refresh_from_db()
    assert org.mfa_required is False
    assert not AuditEvent.objects.filter(action="org.mfa_required").exists()


def test_an_owner_with_one_requires_it_and_members_without_one_are_sent_to_set_it_up(
    org, owner, member
):
    _with_totp(owner)
    developer = member(Role.DEVELOPER)
    secured = _with_totp(member(Role.ADMIN))

    response = client_for(owner).post("/organisation/second-factor/", {"mfa_required": "on"})

    assert response.status_code == 302
    org.refresh_from_db()
    assert org.mfa_required is True
    event = AuditEvent.objects.get(action="org.mfa_required")
    assert (event.actor_id, event.after) == (owner.user_id, {"mfa_required": True})
    refused = client_for(developer).get("/keys/")
    assert (refused.status_code, refused["Location"]) == (302, "/account/security/")
    htmx = client_for(developer).post("/keys/new/", HTTP_HX_REQUEST="true")
    assert htmx["HX-Redirect"] == "/account/security/"
    assert client_for(developer).get("/account/security/").status_code == 200
    assert client_for(secured).get("/keys/").status_code == 200
    assert client_for(owner).get("/").status_code == 200


def test_only_owners_change_the_rule(org, owner, member):
    admin = _with_totp(member(Role.ADMIN))

    response = client_for(admin).post("/organisation/second-factor/", {"mfa_required": "on"})

    assert response.status_code == 403
    org.refresh_from_db()
    assert org.mfa_required is False


def test_turning_it_off_lets_members_in_again(org, owner, member):
    _with_totp(owner)
    developer = member(Role.DEVELOPER)
    client_for(owner).post("/organisation/second-factor/", {"mfa_required": "on"})
    assert client_for(developer).get("/keys/").status_code == 302

    client_for(owner).post("/organisation/second-factor/", {})

    assert client_for(developer).get("/keys/").status_code == 200
    assert AuditEvent.objects.filter(action="org.mfa_required").count() == 2


def test_anyone_signed_in_creates_an_organisation_of_their_own(org, member):
    viewer = member(Role.VIEWER)
    client = client_for(viewer)

    response = client.post("/organisations/new/", {"name": "  Side project  "})

    assert response.status_code == 302
    created = Account.objects.get(name="Side project")
    assert Membership.objects.get(account=created).user_id == viewer.user_id
    assert Membership.objects.get(account=created).role == Role.OWNER
    assert created.balance == 0 and not LedgerEntry.objects.filter(account=created).exists()
    assert AuditEvent.objects.filter(action="org.create", account=created).exists()
    settings_page = client.get("/organisation/").content.decode()
    assert "Side project" in settings_page  # the new one is now the current organisation
    assert client.get("/keys/new/").status_code == 200  # an Owner there


def test_a_blank_name_is_a_form_error(org, owner):
    response = client_for(owner).post("/organisations/new/", {"name": "   "})

    assert response.status_code == 200
    assert "Give the organisation a name." in response.content.decode()
    assert Account.objects.count() == 1


def test_signed_out_visitors_are_sent_to_log_in(db):
    from django.test import Client

    response = Client().get("/organisations/new/")

    assert response.status_code == 302 and "/login/" in response["Location"]


def test_accepting_an_invitation_verifies_the_address_it_was_mailed_to(org, owner):
    from allauth.account.models import EmailAddress

    from accounts.orgs.actions import invitation_accept, invitation_create
    from accounts.signin.selectors import email_verified
    from tests.factories import UserFactory

    newcomer = UserFactory(email="new@example.com")
    EmailAddress.objects.filter(user=newcomer).delete()  # signed up, link not opened yet
    assert not email_verified(user=newcomer)
    _, token = invitation_create(
        account=org, email="new@example.com", role=Role.DEVELOPER, actor=owner.user,
        actor_role=Role.OWNER,
    )  # fmt: skip

    invitation_accept(token=token, user=newcomer)

    assert email_verified(user=newcomer)


def test_a_key_of_a_created_organisation_calls_the_api(org, member):
    """An organisation made with org_create has no Account.owner: its keys act for their maker."""
    from rest_framework.test import APIClient

    from accounts.keys.actions import api_key_create
    from accounts.ledger.actions import credits_add
    from accounts.orgs.actions import org_create

    viewer = member(Role.VIEWER)
    created = org_create(user=viewer.user, name="Side project").account
    credits_add(account=created, amount=5, reference="test")
    _, raw = api_key_create(
        account=created, name="k", scopes=[], expires_at=None, rate_limit="", spend_cap=None,
        created_by=viewer.user,
    )  # fmt: skip
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw)

    response = client.post(
        "/api/v1/services/text_analyzer/analyze", {"text": "One. Two."}, format="json"
    )

    assert response.status_code == 202, response.content
    assert client.get("/api/v1/account").status_code == 200
