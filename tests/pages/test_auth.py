"""Sign up, log in (throttled, safe next), log out and password reset pages."""

from __future__ import annotations

import re
from typing import Any
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from accounts.console.actions import account_get_or_create, account_sign_up
from accounts.models import Account, LedgerEntry, User
from accounts.signin.adapter import LOGIN_FAILED
from accounts.signin.selectors import email_verified
from tests.conftest import PASSWORD
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

STRONG = "plum-kettle-orbit-97"


def _signup(client: Client, email: str, password1: str = STRONG, password2: str | None = None):
    data = {"email": email, "password1": password1, "password2": password2 or password1}
    return client.post("/signup/", data)


def _login(client: Client, email: str, password: str, ip: str = "10.0.0.1", **extra: Any):
    return client.post("/login/", {"login": email, "password": password, **extra}, REMOTE_ADDR=ip)


def _logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


# --- sign up -----------------------------------------------------------------------------------


def test_signup_page_shows_the_form(client):
    response = client.get("/signup/")

    assert response.status_code == 200
    assert b'id="signup-form"' in response.content
    assert b'name="password2"' in response.content


def test_signup_creates_user_and_account_grants_credits_and_logs_in(client, settings):
    settings.BREACT_SIGNUP_CREDITS = 100

    response = _signup(client, "New.Person@Example.COM")

    assert response.status_code == 302
    assert response["Location"] == "/"
    user = User.objects.get()
    assert user.email == "new.person@example.com"
    assert user.check_password(STRONG)
    account = Account.objects.get(owner=user)
    assert account.balance == 100
    grant = LedgerEntry.objects.get(account=account)
    assert (grant.kind, grant.amount, grant.reference) == ("grant", 100, "signup")
    assert grant.balance_after == 100
    assert _logged_in(client)
    home = client.get("/")
    assert home.status_code == 200
    assert b"Welcome to BReact Console!" in home.content
    assert b"100 free credits" in home.content


def test_signup_without_signup_credits_writes_no_ledger_row(client, settings):
    settings.BREACT_SIGNUP_CREDITS = 0

    response = _signup(client, "zero@example.com")

    assert response.status_code == 302
    account = Account.objects.get(owner__email="zero@example.com")
    assert account.balance == 0
    assert not LedgerEntry.objects.exists()


def test_signup_with_a_taken_email_in_other_case_is_refused(client, account):
    response = _signup(client, account.owner.email.upper())

    assert response.status_code == 200
    assert b"An account with this email already exists" in response.content
    assert User.objects.count() == 1
    assert not _logged_in(client)


def test_signup_with_a_weak_password_shows_the_validator_errors(client):
    response = _signup(client, "weak@example.com", password1="password")

    assert response.status_code == 200
    assert b"This password is too common." in response.content
    assert not User.objects.exists()


def test_signup_with_a_password_like_the_email_is_refused(client):
    response = _signup(client, "orbitplum@example.com", password1="orbitplum")

    assert response.status_code == 200
    assert b"too similar" in response.content
    assert not User.objects.exists()


def test_signup_with_mismatched_confirmation_is_refused(client):
    response = _signup(client, "typo@example.com", password1=STRONG, password2=STRONG + "x")

    assert response.status_code == 200
    assert b"You must type the same password each time." in response.content
    assert not User.objects.exists()
    assert not Account.objects.exists()


def test_signup_with_an_invalid_email_shows_the_error_beside_the_field(client):
    response = _signup(client, "not-an-email")

    assert response.status_code == 200
    assert b'id="id_email_error"' in response.content
    assert not User.objects.exists()


def test_sign_up_action_refuses_a_taken_email_without_writing(account):
    with pytest.raises(ValidationError):
        account_sign_up(email=account.owner.email.title(), password=STRONG)

    assert User.objects.count() == 1
    assert LedgerEntry.objects.filter(reference="signup").count() == 0


def test_logged_in_user_visiting_signup_or_login_goes_home(page_client):
    assert page_client.get("/signup/")["Location"] == "/"
    assert page_client.get("/login/")["Location"] == "/"
    assert page_client.post("/signup/", {"email": "x@example.com"})["Location"] == "/"


# --- log in ------------------------------------------------------------------------------------


def test_login_page_shows_the_form_with_next(client):
    response = client.get("/login/?next=/keys/")

    assert response.status_code == 200
    assert b'id="login-form"' in response.content
    assert b'name="next" value="/keys/"' in response.content


def test_login_succeeds_and_follows_a_local_next(client, account):
    response = _login(client, account.owner.email, PASSWORD, next="/keys/?page=2")

    assert response.status_code == 302
    assert response["Location"] == "/keys/?page=2"
    assert client.session["_auth_user_id"] == str(account.owner.pk)


def test_login_email_is_case_insensitive(client, account):
    response = _login(client, account.owner.email.upper(), PASSWORD)

    assert response["Location"] == "/"
    assert _logged_in(client)


@pytest.mark.parametrize(
    "next_url",
    ["https://evil.example/", "//evil.example/path", "http://testserver.evil.example/"],
)
def test_login_ignores_an_off_site_next(client, account, next_url):
    response = _login(client, account.owner.email, PASSWORD, next=next_url)

    assert response.status_code == 302
    assert response["Location"] == "/"


def test_login_page_drops_an_off_site_next(client):
    response = client.get("/login/?next=https://evil.example/")

    assert b"evil.example" not in response.content


def _error_block(content: bytes) -> bytes:
    match = re.search(rb'<div class="form-error"[^>]*>.*?</div>', content, re.S)
    assert match, content
    return match.group(0)


def test_unknown_user_and_wrong_password_get_the_same_message(client, account):
    unknown = _login(client, "nobody@example.com", PASSWORD)
    wrong = _login(client, account.owner.email, "not the password")

    assert unknown.status_code == wrong.status_code == 200
    assert LOGIN_FAILED.encode() in unknown.content
    assert _error_block(unknown.content) == _error_block(wrong.content)
    assert not _logged_in(client)


def test_inactive_user_gets_the_same_message(client, account):
    User.objects.filter(pk=account.owner.pk).update(is_active=False)

    response = _login(client, account.owner.email, PASSWORD)

    assert LOGIN_FAILED.encode() in response.content
    assert not _logged_in(client)


def test_login_is_throttled_per_ip_after_the_allowed_failures(client, account, settings):
    """Credential stuffing: many addresses guessed from one network lock the network."""
    settings.BREACT_LOGIN_RATE_LIMIT = "5/5m"
    settings.BREACT_LOGIN_IP_RATE_LIMIT = "8/5m"
    for n in range(8):
        response = _login(client, f"guess{n}@example.com", "wrong", ip="10.0.0.9")
        assert LOGIN_FAILED.encode() in response.content

    blocked = _login(client, account.owner.email, PASSWORD, ip="10.0.0.9")
    other_ip = _login(Client(), account.owner.email, PASSWORD, ip="10.0.0.10")

    assert blocked.status_code == 429
    assert b"Too many failed log-ins from your network" in blocked.content
    assert b"reset your password" not in blocked.content  # a reset would not help here
    assert LOGIN_FAILED.encode() not in blocked.content
    assert not _logged_in(client)
    assert other_ip.status_code == 302


def test_login_is_throttled_per_account_across_ips(client, account, settings):
    settings.BREACT_LOGIN_RATE_LIMIT = "5/5m"
    for n in range(5):
        _login(Client(), account.owner.email, "wrong", ip=f"10.0.1.{n}")

    blocked = _login(client, account.owner.email, PASSWORD, ip="10.0.2.1")
    other_user = _login(Client(), "someone@example.com", "x", ip="10.0.2.1")

    assert blocked.status_code == 429
    assert b"Too many failed attempts to log in to this account" in blocked.content
    assert not _logged_in(client)
    assert other_user.status_code == 200  # a different address from a clean IP is still heard


def test_one_accounts_wrong_passwords_do_not_lock_out_others_on_the_same_network(account, settings):
    settings.BREACT_LOGIN_RATE_LIMIT = "5/5m"
    settings.BREACT_LOGIN_IP_RATE_LIMIT = "30/5m"
    office = "10.0.3.1"
    colleague = AccountFactory()  # its owner's password is PASSWORD too
    for _ in range(6):
        _login(Client(), account.owner.email, "typo", ip=office)

    locked = _login(Client(), account.owner.email, PASSWORD, ip=office)
    client = Client()
    other_user = _login(client, colleague.owner.email, PASSWORD, ip=office)

    assert locked.status_code == 429
    assert other_user.status_code == 302
    assert _logged_in(client)


def test_a_right_password_is_not_counted_as_a_failure(client, account, settings):
    settings.BREACT_LOGIN_RATE_LIMIT = "2/5m"
    settings.BREACT_LOGIN_IP_RATE_LIMIT = "2/5m"
    for _ in range(5):
        assert _login(Client(), account.owner.email, PASSWORD, ip="10.0.4.1").status_code == 302

    _login(client, account.owner.email, "wrong", ip="10.0.4.1")
    response = _login(client, account.owner.email, PASSWORD, ip="10.0.4.1")

    assert response.status_code == 302


def test_refused_attempts_do_not_use_up_the_networks_allowance(account, settings):
    """Hammering a locked account is refused unheard and counts for nothing more, so the
    network's allowance stays for other people."""
    settings.BREACT_LOGIN_RATE_LIMIT = "3/5m"
    settings.BREACT_LOGIN_IP_RATE_LIMIT = "6/5m"
    colleague = AccountFactory()  # its owner's password is PASSWORD too
    statuses = [
        _login(Client(), account.owner.email, "x", ip="10.0.5.1").status_code for _ in range(20)
    ]

    other_user = _login(Client(), colleague.owner.email, PASSWORD, ip="10.0.5.1")

    assert statuses == [200] * 3 + [429] * 17
    assert other_user.status_code == 302


def test_a_completed_password_reset_lifts_the_accounts_lock(client, account, mailoutbox, settings):
    settings.BREACT_LOGIN_RATE_LIMIT = "3/5m"
    for _ in range(3):
        _login(Client(), account.owner.email, "wrong")
    locked = _login(Client(), account.owner.email, PASSWORD)
    assert locked.status_code == 429
    assert b"reset your password" in locked.content

    client.post("/password-reset/", {"email": account.owner.email})
    form_page = client.get(_reset_link(mailoutbox[0].body), follow=True)
    set_url = form_page.redirect_chain[-1][0]
    client.post(set_url, {"password1": STRONG, "password2": STRONG})

    assert _login(Client(), account.owner.email, STRONG).status_code == 302


# --- the Django admin's log-in ---------------------------------------------------------------


@pytest.fixture
def staff_account(account):
    User.objects.filter(pk=account.owner.pk).update(is_staff=True, is_superuser=True)
    return account


def test_admin_login_page_sends_people_to_the_console_login(client, db):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/admin/"

    response = client.get(response["Location"])

    assert response.status_code == 302
    assert response["Location"] == "/login/?next=%2Fadmin%2F"


def test_admin_login_brute_force_is_throttled(client, staff_account, settings):
    settings.BREACT_LOGIN_RATE_LIMIT = "5/5m"
    email = staff_account.owner.email
    form = {"username": email, "password": "wrong", "this_is_the_login_form": "1"}
    for _ in range(20):  # the admin's own form checks no password at all
        response = client.post("/admin/login/?next=/admin/", form)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")
    right = client.post("/admin/login/?next=/admin/", {**form, "password": PASSWORD})
    assert right.status_code == 302 and not _logged_in(client)

    for _ in range(5):  # where it sends them, the console's throttle counts
        _login(client, email, "wrong", next="/admin/")
    refused = _login(client, email, PASSWORD, next="/admin/")

    assert refused.status_code == 429
    assert not _logged_in(client)
    assert client.get("/admin/").status_code == 302


def test_staff_log_in_to_the_admin_through_the_console(client, staff_account):
    response = _login(client, staff_account.owner.email, PASSWORD, next="/admin/")

    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_login_under_the_limit_still_succeeds(client, account, settings):
    settings.BREACT_LOGIN_RATE_LIMIT = "5/5m"
    for _ in range(4):
        _login(client, account.owner.email, "wrong")

    response = _login(client, account.owner.email, PASSWORD)

    assert response.status_code == 302
    assert _logged_in(client)


def test_throttled_login_does_not_check_the_password(client, account, settings):
    settings.BREACT_LOGIN_RATE_LIMIT = "2/5m"
    _login(client, account.owner.email, "wrong")
    _login(client, account.owner.email, "wrong")

    with mock.patch("allauth.account.adapter.authenticate") as authenticate:
        response = _login(client, account.owner.email, PASSWORD)

    assert response.status_code == 429
    authenticate.assert_not_called()


def test_login_with_a_blank_form_shows_field_errors(client):
    response = client.post("/login/", {"email": "", "password": ""})

    assert response.status_code == 200
    assert b'id="id_login_error"' in response.content
    assert b'id="id_password_error"' in response.content


# --- log out -----------------------------------------------------------------------------------


def test_logout_by_get_is_not_allowed(page_client):
    response = page_client.get("/logout/")

    assert response.status_code == 405
    assert _logged_in(page_client)


def test_logout_by_post_logs_out_and_goes_to_login(page_client):
    response = page_client.post("/logout/")

    assert response.status_code == 302
    assert response["Location"] == "/login/"
    assert not _logged_in(page_client)
    assert page_client.get("/")["Location"].startswith("/login/")


# --- CSRF --------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/signup/", "/login/", "/password-reset/"])
def test_anonymous_forms_enforce_csrf(url, db):
    client = Client(enforce_csrf_checks=True)

    response = client.post(url, {"email": "a@example.com", "password": "x"})

    assert response.status_code == 403
    assert not User.objects.filter(email="a@example.com").exists()


def test_logout_enforces_csrf(account):
    client = Client(enforce_csrf_checks=True)
    client.force_login(account.owner)

    response = client.post("/logout/")

    assert response.status_code == 403
    assert _logged_in(client)


# --- password reset ----------------------------------------------------------------------------


def _main(content: bytes) -> bytes:
    """The page's <main> element (the rest holds a per-request CSRF token)."""
    match = re.search(rb"<main.*</main>", content, re.S)
    assert match, content
    return match.group(0)


def _reset_link(body: str) -> str:
    match = re.search(r"http://testserver(/password-reset/key/[^/\s]+/)", body)
    assert match, body
    return match.group(1)


def test_password_reset_mails_a_working_link_and_sets_the_new_password(client, account, mailoutbox):
    response = client.post("/password-reset/", {"email": account.owner.email.upper()})

    assert response.status_code == 302
    assert response["Location"] == "/password-reset/sent/"
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == [account.owner.email]
    assert mail.subject == "BReact Console: Reset your password"
    link = _reset_link(mail.body)

    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200
    assert b'id="password-set-form"' in form_page.content
    set_url = form_page.redirect_chain[-1][0]
    done = client.post(set_url, {"password1": STRONG, "password2": STRONG})

    assert done.status_code == 302
    assert done["Location"] == "/password-reset/done/"
    assert client.get("/password-reset/done/").status_code == 200
    account.owner.refresh_from_db()
    assert account.owner.check_password(STRONG)
    assert _login(Client(), account.owner.email, STRONG).status_code == 302
    # The link works once.
    again = client.get(link, follow=True)
    assert b'id="password-reset-invalid"' in again.content


def test_password_reset_for_an_unknown_address_looks_the_same_and_sends_nothing(
    client, account, mailoutbox
):
    known = client.post("/password-reset/", {"email": account.owner.email}, follow=True)
    mailoutbox.clear()
    unknown = client.post("/password-reset/", {"email": "nobody@example.com"}, follow=True)

    assert unknown.redirect_chain == known.redirect_chain == [("/password-reset/sent/", 302)]
    assert _main(unknown.content) == _main(known.content)
    assert b'id="password-reset-sent"' in unknown.content
    assert mailoutbox == []


def test_password_reset_lets_a_user_without_a_password_set_one(client, mailoutbox):
    account, _ = account_get_or_create(email="cli@example.com")  # as create_api_key makes them
    assert not account.owner.has_usable_password()

    client.post("/password-reset/", {"email": "cli@example.com"})

    assert len(mailoutbox) == 1
    form_page = client.get(_reset_link(mailoutbox[0].body), follow=True)
    set_url = form_page.redirect_chain[-1][0]
    done = client.post(set_url, {"password1": STRONG, "password2": STRONG})
    assert done.status_code == 302
    # The link went to the address: it is verified now, keys and top-ups are open.
    assert email_verified(user=account.owner)


def test_password_reset_mails_to_one_address_are_throttled(client, account, mailoutbox, settings):
    settings.BREACT_LOGIN_RATE_LIMIT = "3/5m"
    for _ in range(5):
        response = client.post("/password-reset/", {"email": account.owner.email})
        assert response["Location"] == "/password-reset/sent/"

    assert len(mailoutbox) == 3


def test_password_reset_with_a_bad_token_says_the_link_does_not_work(client, account):
    response = client.get("/password-reset/key/1-not-a-token/")

    assert response.status_code == 200
    assert b'id="password-reset-invalid"' in response.content


def test_password_reset_with_an_invalid_email_shows_the_error(client, mailoutbox):
    response = client.post("/password-reset/", {"email": "nope"})

    assert response.status_code == 200
    assert b'id="id_email_error"' in response.content
    assert mailoutbox == []


def test_sign_ups_from_one_address_are_limited(settings):
    settings.BREACT_SIGNUP_RATE_LIMIT = "2/h"
    from accounts.models import User

    for n in range(2):
        assert _signup(Client(), f"ip-limit-{n}@example.com").status_code == 302
    refused = _signup(Client(), "ip-limit-3@example.com")

    assert refused.status_code == 429
    assert "Too many accounts were created" in refused.content.decode()
    assert not User.objects.filter(email="ip-limit-3@example.com").exists()


# --- a cache (Redis) outage --------------------------------------------------------------------


def test_login_during_a_cache_outage_is_refused_with_a_clear_error(client, account, cache_down):
    with mock.patch("allauth.account.adapter.authenticate") as authenticate:
        response = _login(client, account.owner.email, PASSWORD)

    assert response.status_code == 503
    assert b"unavailable for a moment" in response.content
    assert b'id="login-error"' in response.content
    assert not _logged_in(client)
    authenticate.assert_not_called()  # no counter, no password checks


def test_sign_up_during_a_cache_outage_is_refused_with_a_clear_error(client, cache_down):
    response = _signup(client, "outage@example.com")

    assert response.status_code == 503
    assert b'id="signup-error"' in response.content
    assert b"unavailable for a moment" in response.content
    assert not User.objects.filter(email="outage@example.com").exists()


def test_password_reset_during_a_cache_outage_is_refused_with_a_clear_error(
    client, account, mailoutbox, cache_down
):
    response = client.post("/password-reset/", {"email": account.owner.email})

    assert response.status_code == 503
    assert b'id="password-reset-error"' in response.content
    assert b"unavailable for a moment" in response.content
    assert mailoutbox == []


def test_pages_of_a_logged_in_user_work_during_a_cache_outage(page_client, cache_down):
    for url in ("/", "/keys/", "/credits/", "/usage/", "/services/"):
        assert page_client.get(url).status_code == 200, url


def test_a_reset_link_mailed_before_allauth_leads_to_asking_for_a_new_one(client):
    response = client.get("/password-reset/MQ/c2ndl0-0123456789abcdef/", follow=True)

    assert response.redirect_chain == [("/password-reset/", 302)]
    assert b"no longer valid" in response.content
    assert b'id="password-reset-form"' in response.content
