"""Sign-in security through allauth: the email-verification gate on keys and payments, TOTP
and recovery codes as a second factor, sign out everywhere, the Account security page, and the
verified addresses of existing and demo users."""

from __future__ import annotations

import re
import time
from importlib import import_module
from typing import Any

import pyotp
import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.apps import apps as django_apps
from django.test import Client

from accounts.demo import demo_user_ensure
from accounts.models import ApiKey, AuditEvent, LedgerEntry, User
from accounts.signin.selectors import email_verified
from tests.conftest import PASSWORD
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

STRONG = "plum-kettle-orbit-97"


def _login(client: Client, email: str, password: str = PASSWORD, **extra: Any) -> Any:
    return client.post("/login/", {"login": email, "password": password, **extra})


def _reauthenticate(client: Client, password: str = PASSWORD) -> None:
    """allauth asks for the password again before changing second factors or sessions."""
    response = client.post("/accounts/reauthenticate/", {"password": password})
    assert response.status_code == 302, response.content


def _logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.fixture
def unverified(db: Any) -> Any:
    """An account with 100 credits whose owner has not verified their address."""
    return AccountFactory(credits=100, owner__verified=False)


# --- the email-verification gate ---------------------------------------------------------------


def test_sign_up_mails_a_verification_link_and_the_new_user_is_unverified(client, mailoutbox):
    response = client.post(
        "/signup/", {"email": "fresh@example.com", "password1": STRONG, "password2": STRONG}
    )

    assert response.status_code == 302
    user = User.objects.get(email="fresh@example.com")
    assert not email_verified(user=user)
    assert [mail.to for mail in mailoutbox] == [["fresh@example.com"]]
    assert mailoutbox[0].subject == "BReact Console: Verify your email address"
    assert "/accounts/confirm-email/" in mailoutbox[0].body


def test_an_unverified_user_may_sign_in_and_browse(unverified):
    client = Client()

    assert _login(client, unverified.owner.email).status_code == 302
    for url in ("/", "/keys/", "/credits/", "/usage/", "/account/security/"):
        assert client.get(url).status_code == 200, url


def test_key_creation_is_refused_until_the_address_is_verified_then_allowed(unverified, mailoutbox):
    client = Client()
    _login(client, unverified.owner.email)

    form_page = client.get("/keys/new/")
    refused = client.post("/keys/new/", {"name": "first"})
    refused_htmx = client.post("/keys/new/", {"name": "first"}, HTTP_HX_REQUEST="true")

    assert b"Verify your email address first" in form_page.content
    assert b'id="verification-resend"' in form_page.content
    assert b'id="key-create-submit"' not in form_page.content
    assert refused.status_code == refused_htmx.status_code == 403
    assert b"Verify your email address first" in refused.content
    assert b'id="verification-resend"' in refused_htmx.content
    assert not ApiKey.objects.exists()

    resent = client.post("/account/verification/resend/", {"next": "/keys/new/"})
    assert resent.status_code == 302 and resent["Location"] == "/keys/new/"
    assert len(mailoutbox) == 1
    link = re.search(r"http://testserver(/accounts/confirm-email/[^/\s]+/)", mailoutbox[0].body)
    assert link, mailoutbox[0].body
    confirm_page = client.get(link.group(1))
    assert confirm_page.status_code == 200
    assert email_verified(user=unverified.owner) is False  # a GET verifies nothing
    client.post(link.group(1))
    assert email_verified(user=unverified.owner)
    assert AuditEvent.objects.filter(action="email.verify", actor=unverified.owner).count() == 1

    created = client.post("/keys/new/", {"name": "first"})

    assert created.status_code == 200
    assert ApiKey.objects.filter(account=unverified, name="first").count() == 1


def test_top_up_is_refused_until_the_address_is_verified(unverified, settings):
    settings.BREACT_PAYMENTS_TEST_MODE = "force"
    client = Client()
    _login(client, unverified.owner.email)
    page = client.get("/credits/")

    refused = client.post("/credits/top-up/", {"pack": "starter"})

    assert b'id="verify-email"' in page.content
    assert refused.status_code == 403
    assert b"Verify your email address first" in refused.content
    assert not LedgerEntry.objects.filter(account=unverified, reference__startswith="test").exists()
    unverified.refresh_from_db()
    assert unverified.balance == 100

    EmailAddress.objects.create(
        user=unverified.owner, email=unverified.owner.email, verified=True, primary=True
    )
    allowed = client.post("/credits/top-up/", {"pack": "starter"})

    assert allowed.status_code == 303
    unverified.refresh_from_db()
    assert unverified.balance == 1100


def test_resend_is_skipped_within_the_cooldown(unverified, mailoutbox):
    client = Client()
    _login(client, unverified.owner.email)

    client.post("/account/verification/resend/")
    second = client.post("/account/verification/resend/", follow=True)

    assert len(mailoutbox) == 1
    assert b"sent a moment ago" in second.content


def test_existing_users_are_marked_verified_by_the_data_migration(db):
    user = User.objects.create_user("before@example.com", password=PASSWORD)
    other = User.objects.create_user("other@example.com", password=PASSWORD)
    EmailAddress.objects.create(user=other, email=other.email, verified=False, primary=True)
    assert not email_verified(user=user) and not email_verified(user=other)

    migration = import_module("accounts.migrations.0009_verified_email_addresses")
    migration.mark_existing_verified(django_apps, None)
    migration.mark_existing_verified(django_apps, None)  # twice: nothing duplicated

    assert email_verified(user=user) and email_verified(user=other)
    assert EmailAddress.objects.filter(user=user).count() == 1
    assert EmailAddress.objects.filter(user=other).count() == 1
    assert EmailAddress.objects.get(user=user).primary


def test_the_demo_user_is_verified(db):
    demo = demo_user_ensure()

    assert email_verified(user=User.objects.get(email=demo.email))


# --- TOTP and recovery codes -------------------------------------------------------------------


@pytest.fixture
def totp_user(transactional_db, account, settings, mailoutbox) -> tuple[User, str]:
    """`account`'s owner with an authenticator app enrolled through the pages; its secret.
    Transactional: allauth sends its signals and notice mails on commit, inside the request."""
    settings.MFA_TOTP_TOLERANCE = 1  # a code computed at the edge of a period still counts
    client = Client()
    _login(client, account.owner.email)
    _reauthenticate(client)
    page = client.get("/accounts/2fa/totp/activate/")
    assert page.status_code == 200
    secret = page.context["form"].secret
    activated = client.post(
        "/accounts/2fa/totp/activate/", {"code": pyotp.TOTP(secret).now()}, follow=True
    )
    assert activated.status_code == 200
    assert Authenticator.objects.filter(user=account.owner, type="totp").exists()
    added = AuditEvent.objects.get(action="mfa.totp.add")
    assert (added.actor, added.account) == (account.owner, account)
    notices = [mail.subject for mail in mailoutbox if mail.to == [account.owner.email]]
    assert "BReact Console: Authenticator App Activated" in notices
    return account.owner, secret


def test_totp_enrolment_refuses_a_wrong_code(account):
    client = Client()
    _login(client, account.owner.email)
    _reauthenticate(client)
    client.get("/accounts/2fa/totp/activate/")

    response = client.post("/accounts/2fa/totp/activate/", {"code": "000000"})

    assert response.status_code == 200
    assert not Authenticator.objects.filter(user=account.owner, type="totp").exists()


def test_login_with_totp_asks_for_a_code_after_the_password(totp_user):
    user, secret = totp_user
    client = Client()

    first = _login(client, user.email, next="/keys/")

    assert first.status_code == 302
    assert first["Location"].startswith("/accounts/2fa/authenticate/")
    assert not _logged_in(client)  # the password alone is not enough
    wrong = client.post("/accounts/2fa/authenticate/", {"code": "123456"})
    assert wrong.status_code == 200 and not _logged_in(client)

    code = pyotp.TOTP(secret).at(time.time() + 30)  # not the one used to enrol
    done = client.post("/accounts/2fa/authenticate/", {"code": code})

    assert done.status_code == 302
    assert done["Location"] == "/keys/"
    assert _logged_in(client)


def test_a_totp_code_works_once(totp_user):
    user, secret = totp_user
    code = pyotp.TOTP(secret).at(time.time() + 30)
    first, second = Client(), Client()
    _login(first, user.email)
    first.post("/accounts/2fa/authenticate/", {"code": code})
    _login(second, user.email)

    replay = second.post("/accounts/2fa/authenticate/", {"code": code})

    assert _logged_in(first)
    assert replay.status_code == 200 and not _logged_in(second)


def test_a_recovery_code_signs_in_once(totp_user):
    user, _secret = totp_user
    codes = Authenticator.objects.get(user=user, type="recovery_codes").wrap().get_unused_codes()
    assert len(codes) == 10
    client = Client()
    _login(client, user.email)

    used = client.post("/accounts/2fa/authenticate/", {"code": codes[0]})

    assert used.status_code == 302 and _logged_in(client)
    again = Client()
    _login(again, user.email)
    replay = again.post("/accounts/2fa/authenticate/", {"code": codes[0]})
    assert replay.status_code == 200 and not _logged_in(again)
    unused = Authenticator.objects.get(user=user, type="recovery_codes").wrap().get_unused_codes()
    assert len(unused) == 9 and codes[0] not in unused


def test_the_security_page_shows_the_second_factors(totp_user):
    user, _secret = totp_user
    client = Client()
    client.force_login(user)

    page = client.get("/account/security/")

    assert page.status_code == 200
    content = page.content.decode()
    assert 'id="totp-deactivate"' in content
    assert "10 unused recovery codes" in content
    assert 'id="passkey-add"' in content
    assert 'id="sign-out-everywhere"' in content


def test_recovery_codes_can_be_viewed_and_regenerated(totp_user):
    user, secret = totp_user
    client = Client()
    _login(client, user.email)
    client.post("/accounts/2fa/authenticate/", {"code": pyotp.TOTP(secret).at(time.time() + 30)})
    _reauthenticate(client)
    old = set(Authenticator.objects.get(user=user, type="recovery_codes").wrap().get_unused_codes())

    view = client.get("/accounts/2fa/recovery-codes/")
    regenerated = client.post("/accounts/2fa/recovery-codes/generate/")

    assert view.status_code == 200
    assert sorted(old)[0] in view.content.decode()
    assert regenerated.status_code == 302
    new = set(Authenticator.objects.get(user=user, type="recovery_codes").wrap().get_unused_codes())
    assert new and not (new & old)
    assert AuditEvent.objects.filter(action="mfa.recovery_codes.reset", actor=user).exists()


# --- sessions ----------------------------------------------------------------------------------


def test_sign_out_everywhere_ends_the_other_sessions_only(account):
    here, elsewhere = Client(), Client(HTTP_USER_AGENT="Other browser")
    _login(here, account.owner.email)
    _login(elsewhere, account.owner.email)
    assert elsewhere.get("/keys/").status_code == 200
    page = here.get("/account/security/")
    assert "Other browser" in page.content.decode()

    response = here.post("/accounts/sessions/")

    assert response.status_code == 302
    assert here.get("/keys/").status_code == 200
    gone = elsewhere.get("/keys/")
    assert gone.status_code == 302 and gone["Location"].startswith("/login/")


# --- passkeys of other users -------------------------------------------------------------------


def test_another_users_passkey_is_not_found(account):
    other = AccountFactory()
    passkey = Authenticator.objects.create(
        user=other.owner, type=Authenticator.Type.WEBAUTHN, data={"name": "theirs"}
    )
    client = Client()
    _login(client, account.owner.email)
    _reauthenticate(client)

    for url in (
        f"/accounts/2fa/webauthn/keys/{passkey.pk}/remove/",
        f"/accounts/2fa/webauthn/keys/{passkey.pk}/",
    ):
        assert client.get(url).status_code == 404, url
        assert client.post(url).status_code == 404, url
    assert Authenticator.objects.filter(pk=passkey.pk).exists()


# --- a cache (Redis) outage ---------------------------------------------------------------------


def test_verification_resend_during_a_cache_outage_answers_503(unverified, mailoutbox, settings):
    client = Client()
    _login(client, unverified.owner.email)
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # a closed port: the outage
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
        }
    }

    response = client.post("/account/verification/resend/")

    assert response.status_code == 503
    assert b"unavailable for a moment" in response.content
    assert mailoutbox == []


def test_second_factor_during_a_cache_outage_answers_503(totp_user, settings):
    user, secret = totp_user
    client = Client()
    _login(client, user.email)
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
        }
    }

    response = client.post(
        "/accounts/2fa/authenticate/", {"code": pyotp.TOTP(secret).at(time.time() + 30)}
    )

    assert response.status_code == 503
    assert b"unavailable for a moment" in response.content
    assert not _logged_in(client)
