"""The role matrix walked over every console URL: each route declares its permission, and for
every role each GET and POST answers 403 exactly when the matrix (accounts/orgs/roles.py) says
the role lacks it."""

from __future__ import annotations

import html

import pytest

from accounts.models import Role
from accounts.orgs.access import permission_for
from accounts.orgs.roles import PERMISSIONS, role_has
from tests.accounts.orgs.conftest import client_for
from tests.routes import Route, all_routes

pytestmark = pytest.mark.django_db

# Routes that are not pages of an organisation: the API (keys), staff and admin (staff rule),
# the payment provider's webhook, metrics, an invitation link (any visitor), and the signed-in
# user's own sign-in pages (accounts/signin/urls.py: log-in, sign-up, reset, email verification,
# second factors, sessions), which belong to the person, not to an organisation.
NOT_ORG_ROUTES = ("api/", "admin/", "staff/", "stripe/", "metrics", "__", "accounts/")
NOT_ORG_NAMES = {
    "account_login",
    "account_signup",
    "account_logout",
    "account_reset_password",
    "account_reset_password_done",
    "account_reset_password_from_key",
    "account_reset_password_from_key_done",
    "password-reset-legacy",
    "account-security",
    "account-verification-resend",
    "invitation-accept",
    "org-create",  # any signed-in person may create an organisation (tests/accounts/orgs)
}


def console_routes() -> list[Route]:
    return [
        route
        for route in all_routes()
        if not route.route.startswith(NOT_ORG_ROUTES)
        and route.name not in NOT_ORG_NAMES
        and not route.regex
    ]


def test_every_console_route_declares_a_permission_of_the_matrix():
    routes = console_routes()
    assert len(routes) >= 39, [r.label for r in routes]
    for route in routes:
        for method in ("GET", "POST"):
            needed = permission_for(route.view, method)
            assert needed is not None, f"{route.label} is not behind org_permission"
            assert needed in PERMISSIONS, f"{route.label}: unknown permission {needed}"


def test_the_invitation_link_is_the_one_signed_in_route_without_a_role():
    exempt = [r for r in all_routes() if getattr(r.view, "org_exempt", False)]
    assert [r.name for r in exempt] == ["invitation-accept"]


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_every_console_url_and_post_answers_by_the_matrix(role, org, member, owner):
    # Owners are already there; every other role gets a member (and an Owner stays, so "leave"
    # and removals never touch the last Owner).
    membership = owner if role == Role.OWNER else member(role)
    values = {
        "pk": "999999",
        "public_id": "nope",
        "service_id": "text_analyzer",
        "kb_id": "nope",
        "doc_id": "nope",
        "event_id": "nope",
    }
    checked = 0
    # Leaving works for every role: walk it last, so the member is still one everywhere else.
    for route in sorted(console_routes(), key=lambda r: r.name == "org-leave"):
        url = route.url(**{name: values[name] for name in route.params})
        for method in ("GET", "POST"):
            client = client_for(membership)
            if method == "GET":
                response = client.get(url)
            else:
                # The switcher's POST names an organisation the user is in; nothing else here
                # is a valid form, so an allowed POST answers 200/302/400/404/405, never 403.
                response = client.post(url, {"account": str(org.pk)})
            needed = permission_for(route.view, method)
            assert needed is not None
            allowed = role_has(role, needed)
            if allowed:
                assert response.status_code != 403, f"{role} {method} {url}: 403, may {needed}"
            else:
                assert response.status_code == 403, (
                    f"{role} {method} {url}: {response.status_code}, lacks {needed}"
                )
                assert PERMISSIONS[needed][0] in html.unescape(response.content.decode())
            checked += 1
    assert checked == 2 * len(console_routes())


@pytest.mark.parametrize(
    ("role", "url", "status"),
    [
        # Spot checks written by hand, so a wrong declaration in a view or in the matrix fails.
        ("billing", "/keys/", 403),
        ("billing", "/keys/new/", 403),
        ("billing", "/credits/", 200),
        ("billing", "/playground/", 403),
        ("developer", "/keys/", 200),
        ("developer", "/credits/", 403),
        ("developer", "/playground/", 200),
        ("developer", "/organisation/activity/", 403),
        ("viewer", "/keys/", 200),
        ("viewer", "/keys/new/", 403),
        ("viewer", "/usage/", 200),
        ("admin", "/organisation/activity/", 200),
        ("admin", "/organisation/delete/", 403),
        ("admin", "/credits/", 200),
        ("owner", "/organisation/delete/", 200),
    ],
)
def test_spot_checks_of_the_matrix(role, url, status, member, owner):
    membership = owner if role == "owner" else member(role)
    assert client_for(membership).get(url).status_code == status


def test_a_signed_out_visitor_is_sent_to_log_in(org):
    response = pytest.importorskip("django.test").Client().get("/organisation/members/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
