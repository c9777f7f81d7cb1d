"""Members: roles, the last-Owner rule, removal with the keys revoked or handed over, leaving,
Developers' own keys, renaming, deleting, switching, the Activity page."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.keys.actions import api_key_create
from accounts.models import Account, ApiKey, AuditEvent, Membership, Role
from accounts.orgs import actions
from tests.accounts.orgs.conftest import client_for
from tests.factories import AccountFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_the_last_owner_cannot_be_demoted_removed_or_leave(owner, member):
    admin = member(Role.ADMIN)
    with pytest.raises(actions.OrgError, match="last Owner"):
        actions.member_role_change(
            membership=owner, role=Role.ADMIN, actor=owner.user, actor_role=owner.role
        )
    with pytest.raises(actions.OrgError, match="last Owner"):
        actions.member_leave(membership=owner)
    response = client_for(owner).post("/organisation/leave/")
    assert response.status_code == 400 and "last Owner" in response.content.decode()
    # Admins never touch Owners at all.
    with pytest.raises(actions.OrgError, match="Only an Owner"):
        actions.member_remove(membership=owner, actor=admin.user, actor_role=admin.role)
    assert Membership.objects.filter(pk=owner.pk, role=Role.OWNER).exists()


def test_with_a_second_owner_the_first_may_step_down_and_leave(owner, member):
    second = member(Role.DEVELOPER)
    client = client_for(owner)
    response = client.post(f"/organisation/members/{second.pk}/role/", {"role": "owner"})
    assert response.status_code == 302
    second.refresh_from_db()
    assert second.role == Role.OWNER
    assert client.post("/organisation/leave/").status_code == 302
    assert not Membership.objects.filter(pk=owner.pk).exists()
    # The last Owner is now `second`: the rule holds for them.
    with pytest.raises(actions.OrgError, match="last Owner"):
        actions.member_leave(membership=second)
    assert set(
        AuditEvent.objects.filter(account=owner.account).values_list("action", flat=True)
    ) >= {"member.role_change", "member.leave"}


def test_two_owners_demoting_each_other_keep_one_owner(owner, member):
    second = member(Role.OWNER)
    actions.member_role_change(
        membership=second, role=Role.VIEWER, actor=owner.user, actor_role=Role.OWNER
    )
    with pytest.raises(actions.OrgError, match="last Owner"):
        actions.member_role_change(
            membership=owner, role=Role.VIEWER, actor=second.user, actor_role=Role.OWNER
        )


def test_an_admin_manages_members_but_not_owners(owner, member):
    admin = member(Role.ADMIN)
    dev = member(Role.DEVELOPER)
    client = client_for(admin)
    assert client.post(f"/organisation/members/{dev.pk}/role/", {"role": "billing"}).status_code
    dev.refresh_from_db()
    assert dev.role == Role.BILLING
    client.post(f"/organisation/members/{dev.pk}/role/", {"role": "owner"})
    dev.refresh_from_db()
    assert dev.role == Role.BILLING  # refused: only Owners make Owners
    client.post(f"/organisation/members/{owner.pk}/role/", {"role": "viewer"})
    owner.refresh_from_db()
    assert owner.role == Role.OWNER


def test_removing_a_member_revokes_their_keys(owner, member):
    dev = member(Role.DEVELOPER)
    key, _ = api_key_create(account=owner.account, name="dev key", actor=dev.user)
    mine, _ = api_key_create(account=owner.account, name="owner key", actor=owner.user)
    response = client_for(owner).post(f"/organisation/members/{dev.pk}/remove/", {"keys": "revoke"})
    assert response.status_code == 302
    key.refresh_from_db()
    mine.refresh_from_db()
    assert key.revoked_at is not None and mine.revoked_at is None
    assert not Membership.objects.filter(pk=dev.pk).exists()
    event = AuditEvent.objects.get(action="member.remove")
    assert event.actor == owner.user and event.after == {"keys_revoked": 1, "keys_handed_over": 0}


def test_removing_a_member_can_hand_their_keys_over(owner, member):
    dev = member(Role.DEVELOPER)
    heir = member(Role.DEVELOPER)
    key, _ = api_key_create(account=owner.account, name="dev key", actor=dev.user)
    client = client_for(owner)
    form = client.get(f"/organisation/members/{dev.pk}/remove/").content.decode()
    assert "dev key" in form and heir.user.email in form
    # A Billing member cannot hold keys, and a choice is required.
    billing = member(Role.BILLING)
    response = client.post(
        f"/organisation/members/{dev.pk}/remove/", {"keys": "hand_over", "hand_to": billing.pk}
    )
    assert response.status_code == 400
    response = client.post(f"/organisation/members/{dev.pk}/remove/", {"keys": "hand_over"})
    assert response.status_code == 400
    response = client.post(
        f"/organisation/members/{dev.pk}/remove/", {"keys": "hand_over", "hand_to": heir.pk}
    )
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is None and key.created_by == heir.user
    event = AuditEvent.objects.get(action="api_key.hand_over")
    assert event.before == {"created_by": dev.user.email}
    assert event.after == {"created_by": heir.user.email}
    # The heir now sees and manages the key.
    assert client_for(heir).get(f"/keys/{key.pk}/").status_code == 200


def test_developers_see_and_manage_only_their_own_keys(owner, member):
    dev = member(Role.DEVELOPER)
    theirs, _ = api_key_create(account=owner.account, name="dev key", actor=dev.user)
    other, _ = api_key_create(account=owner.account, name="owner key", actor=owner.user)
    client = client_for(dev)
    listing = client.get("/keys/").content.decode()
    assert "dev key" in listing and "owner key" not in listing
    assert client.get(f"/keys/{other.pk}/").status_code == 404
    assert client.post(f"/keys/{other.pk}/revoke/").status_code == 404
    assert client.post(f"/keys/{theirs.pk}/revoke/").status_code == 302
    response = client.post("/keys/new/", {"name": "fresh"})
    assert response.status_code == 200
    assert ApiKey.objects.get(name="fresh").created_by == dev.user
    # Owners see every member's keys.
    listing = client_for(owner).get("/keys/").content.decode()
    assert "dev key" in listing and "owner key" in listing


def test_rename_is_audited_and_shown(owner, member):
    client = client_for(owner)
    assert client.post("/organisation/", {"name": "Acme"}).status_code == 302
    owner.account.refresh_from_db()
    assert owner.account.name == "Acme"
    event = AuditEvent.objects.get(action="org.rename")
    assert event.before == {"name": "owner@example.com"} and event.after == {"name": "Acme"}
    viewer = member(Role.VIEWER)
    assert "Acme" in client_for(viewer).get("/").content.decode()
    assert client_for(viewer).post("/organisation/", {"name": "Hijack"}).status_code == 403


def test_delete_is_refused_while_credits_remain(owner):
    client = client_for(owner)
    page = client.get("/organisation/delete/").content.decode()
    assert "holds 50 credits" in page
    response = client.post("/organisation/delete/", {"confirm": owner.account.display_name})
    assert response.status_code == 400
    assert "still holds 50 credits" in response.content.decode()
    owner.account.refresh_from_db()
    assert owner.account.deleted_at is None


def test_an_empty_organisation_is_deleted_keys_revoked_members_gone(member):
    user = UserFactory(email="solo@example.com")
    account = AccountFactory(owner=user)
    dev = Membership.objects.create(account=account, user=UserFactory(), role=Role.DEVELOPER)
    key, _ = api_key_create(account=account, name="k", actor=user)
    client = Client()
    client.force_login(user)
    response = client.post("/organisation/delete/", {"confirm": account.display_name})
    assert response.status_code == 302
    account.refresh_from_db()
    key.refresh_from_db()
    assert account.deleted_at is not None and account.status == Account.Status.DISABLED
    assert key.revoked_at is not None
    assert not Membership.objects.filter(account=account).exists()
    assert AuditEvent.objects.filter(action="org.delete", account=account).exists()
    # The former members get an organisation of their own on their next visit.
    assert client.get("/").status_code == 200
    new = Membership.objects.get(user=user)
    assert new.account_id != account.pk and new.role == Role.OWNER
    assert Membership.objects.filter(user=dev.user).count() == 0


def test_switching_organisations_changes_the_current_one(owner):
    user = owner.user
    other = AccountFactory(name="Other org")
    Membership.objects.create(account=other, user=user, role=Role.VIEWER)
    client = client_for(owner)
    home = client.get("/").content.decode()
    assert 'id="org-switch"' in home and "Other org" in home
    assert client.get("/keys/new/").status_code == 200  # Owner of the first
    assert client.post("/organisation/switch/", {"account": other.pk}).status_code == 302
    assert client.get("/keys/new/").status_code == 403  # Viewer of the other
    stranger = AccountFactory()
    assert client.post("/organisation/switch/", {"account": stranger.pk}).status_code == 403


def test_a_user_who_left_their_own_organisation_is_told_to_ask_for_an_invitation(owner, member):
    second = member(Role.OWNER)
    actions.member_leave(membership=owner)
    response = client_for(owner).get("/")
    assert response.status_code == 403
    assert "not a member of any organisation" in response.content.decode()
    assert Membership.objects.filter(account=owner.account, user=second.user).exists()


def test_activity_lists_member_events_for_owners_and_admins(owner, member):
    admin = member(Role.ADMIN)
    actions.org_rename(account=owner.account, name="Renamed", actor=owner.user)
    page = client_for(admin).get("/organisation/activity/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "org.rename" in html and owner.user.email in html
    # Another organisation's events never show.
    other = AccountFactory()
    actions.org_rename(account=other, name="Secret", actor=other.owner)
    assert "Secret" not in client_for(admin).get("/organisation/activity/").content.decode()


def test_the_members_page_shows_the_role_matrix(owner):
    html = client_for(owner).get("/organisation/members/").content.decode()
    assert 'id="role-matrix"' in html
    for label in ("Owner", "Admin", "Developer", "Billing", "Viewer"):
        assert f'<th scope="col">{label}</th>' in html
    assert "Delete the organisation" in html


def test_staff_see_the_members_of_an_account(owner, member):
    member(Role.BILLING, email="pay@example.com")
    staff = UserFactory(is_staff=True)
    client = Client()
    client.force_login(staff)
    html = client.get(f"/staff/accounts/{owner.account_id}/").content.decode()
    assert 'id="account-members"' in html and "pay@example.com · Billing" in html


@pytest.mark.parametrize(
    ("role", "shown", "hidden"),
    [
        ("owner", ["nav-keys", "nav-credits", "nav-playground"], []),
        ("developer", ["nav-keys", "nav-playground"], ["nav-credits"]),
        ("billing", ["nav-credits"], ["nav-keys", "nav-playground"]),
    ],
)
def test_the_navigation_shows_what_the_role_may_open(role, shown, hidden, owner, member):
    membership = owner if role == "owner" else member(role)
    html = client_for(membership).get("/").content.decode()
    for link in shown:
        assert f'id="{link}"' in html, link
    for link in hidden:
        assert f'id="{link}"' not in html, link


def test_activity_is_paginated(owner):
    for n in range(55):
        actions.org_rename(account=owner.account, name=f"Name {n}", actor=owner.user)
    client = client_for(owner)
    first = client.get("/organisation/activity/").content.decode()
    assert first.count('data-action="org.rename"') == 50
    assert 'id="activity-next"' in first
    second = client.get("/organisation/activity/?page=2").content.decode()
    assert second.count('data-action="org.rename"') == 5
    assert "Name 0" in second  # oldest last
