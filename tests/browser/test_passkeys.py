"""A passkey in Chromium: registered on the Account security page through a virtual
authenticator (CDP WebAuthn domain: ctap2, resident keys, user verification), then used to sign
in without a password. WebAuthn needs a secure context and a domain as relying party, so the
browser talks to the live stack as http://localhost:<port>."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from allauth.mfa.models import Authenticator
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from accounts.models import User
from tests.factories import AccountFactory, UserFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-Long-and-unusual-passphrase-42"


def _localhost(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"localhost:{parts.port}"))


def _user() -> User:
    user = UserFactory(email=f"passkey-{uuid.uuid4().hex[:8]}@example.com")
    # Hashed as the live server checks it (the in-process tests' fast hasher is not its).
    hasher = PBKDF2PasswordHasher()
    user.password = hasher.encode(PASSWORD, hasher.salt())
    user.save()
    AccountFactory(owner=user, credits=100)
    return user


@pytest.fixture
def authenticator_page(browser: Any, live_stack: Any) -> Iterator[tuple[Any, Any]]:
    """A page on http://localhost:<port> with a virtual platform authenticator attached."""
    context = browser.new_context(
        base_url=_localhost(live_stack.url), viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(20_000)
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    try:
        yield page, (cdp, added["authenticatorId"])
    finally:
        context.close()


def test_a_passkey_is_registered_and_then_signs_in(authenticator_page, screenshots):
    page, (cdp, authenticator_id) = authenticator_page
    user = _user()

    # Log in with the password, then add a passkey from the Account security page.
    page.goto("/login/")
    page.fill("#id_login", user.email)
    page.fill("#id_password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(lambda url: not url.split("?")[0].endswith("/login/"))
    page.goto("/account/security/")
    screenshots(page, "security-page")
    page.click("#passkey-add")
    # Changing second factors asks for the password again first.
    page.wait_for_url(re.compile(r"/accounts/reauthenticate/"))
    page.fill("#id_password", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r"/accounts/2fa/webauthn/add/"))
    page.fill("#id_name", "Virtual key")
    page.check("#id_passwordless")
    screenshots(page, "add-passkey")
    page.click("#mfa_webauthn_add")
    page.wait_for_url(lambda url: "/webauthn/add/" not in url)
    screenshots(page, "passkey-added")

    passkeys = Authenticator.objects.filter(user=user, type=Authenticator.Type.WEBAUTHN)
    assert passkeys.count() == 1
    assert passkeys.get().wrap().name == "Virtual key"
    credentials = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})
    assert len(credentials["credentials"]) == 1
    assert credentials["credentials"][0]["isResidentCredential"] is True

    # Log out, and sign in with the passkey alone: no email, no password typed.
    page.goto("/")
    page.click("header form[action='/logout/'] button")
    page.wait_for_url(re.compile(r"/login/"))
    assert page.locator("#login-form").is_visible()
    page.click("#passkey_login")
    page.wait_for_url(lambda url: not url.split("?")[0].endswith("/login/"))
    page.goto("/account/security/")

    assert page.url.endswith("/account/security/")
    assert user.email in page.text_content("header")
    assert "Virtual key" in page.text_content("#security-passkeys")
    screenshots(page, "signed-in-with-passkey")
