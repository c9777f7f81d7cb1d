"""An organisation in a real browser against the live server and worker: the Owner invites a
developer by email (the live server writes mail to files), the developer signs up through the
link, accepts, makes a key and runs the playground on the organisation's credits; a Billing
member tops up and finds no keys."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from accounts.ledger.selectors import account_balance, ledger_total
from accounts.models import ApiKey, Membership, Role, User
from tests.factories import AccountFactory, UserFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-Long-and-unusual-passphrase-42"
HOME = re.compile(r"^https?://[^/]+/$")


def _user(email: str) -> User:
    user = UserFactory(email=email)
    hasher = PBKDF2PasswordHasher()  # as the live server checks it (tests use a fast hasher)
    user.password = hasher.encode(PASSWORD, hasher.salt())
    user.save()
    return user


def _log_in(page, email: str) -> None:
    page.goto("/login/")
    page.fill("#id_login", email)
    page.fill("#id_password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(HOME)


def _invitation_path(mail_dir: Path, to: str) -> str:
    for message in sorted(mail_dir.glob("*.log")):
        text = message.read_text()
        if f"To: {to}" in text:
            match = re.search(r"https?://[^/\s]+(/invitations/[^/\s]+/)", text)
            assert match, text
            return match.group(1)
    raise AssertionError(f"no mail to {to} in {mail_dir}: {list(mail_dir.glob('*'))}")


def test_owner_invites_a_developer_who_runs_the_playground_billing_tops_up(
    browser, live_stack, screenshots
):
    tag = uuid.uuid4().hex[:8]
    owner = _user(f"owner-{tag}@example.com")
    org = AccountFactory(owner=owner, name=f"Acme {tag}", credits=20)
    billing = _user(f"billing-{tag}@example.com")
    Membership.objects.create(account=org, user=billing, role=Role.BILLING)
    dev_email = f"dev-{tag}@example.com"

    # The Owner invites a developer from the Members page (no JavaScript needed for it).
    context = browser.new_context(base_url=live_stack.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    _log_in(page, owner.email)
    assert page.locator("#nav-keys").count() == 1  # what Billing will not see
    page.click("#nav-organisation")
    page.wait_for_selector("#role-matrix")
    page.fill("#id_email", dev_email)
    page.select_option("#id_role", "developer")
    screenshots(page, "members-invite")
    page.click("#invite-submit")
    page.wait_for_selector(f"#invitations-table tr[data-email='{dev_email}']")
    context.close()

    path = _invitation_path(live_stack.var_dir / "mail", dev_email)

    # The developer opens the link signed out, signs up, comes back to it and accepts.
    context = browser.new_context(base_url=live_stack.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(path)
    assert f"Acme {tag}" in page.text_content("#invitation-summary")
    screenshots(page, "invitation-signed-out")
    page.click("#invitation-signup")
    page.fill("#id_email", dev_email)
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("#signup-submit")
    page.wait_for_selector("#invitation-accept")
    assert page.url.endswith(path)
    screenshots(page, "invitation-signed-in")
    page.click("#invitation-accept")
    page.wait_for_url(HOME)
    assert f"Acme {tag}" in page.text_content("#org-switch-select option:checked")
    assert page.locator("#nav-credits").count() == 0  # Developers do not see credits
    # On a phone the switcher (their own organisation and Acme) fits inside the opened menu.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/keys/")
    page.click("#menu-toggle")
    assert page.locator("#org-switch-select").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 391
    screenshots(page, "phone-switcher")
    page.set_viewport_size({"width": 1280, "height": 900})

    # A key of their own in the organisation, then a playground run on its credits.
    page.goto("/keys/new/")
    page.fill("#id_name", "dev laptop")
    page.click("#key-create-submit")
    assert re.fullmatch(r"brk_[A-Za-z0-9]{40}", page.text_content("#new-key").strip())
    page.goto("/playground/?service=text_analyzer&endpoint=analyze")
    page.fill("#param-text", "Hello from a team member. Two sentences.")
    page.click("#playground-run-button")
    page.wait_for_selector("#run-state[data-state='completed']", timeout=30_000)
    screenshots(page, "developer-playground")
    context.close()

    # The Billing member tops up and has no way to the keys.
    context = browser.new_context(base_url=live_stack.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    _log_in(page, billing.email)
    assert page.locator("#nav-keys").count() == 0
    page.goto("/credits/")
    before = int(page.text_content("#balance-value").strip())
    page.click("#buy-starter")
    page.wait_for_function(
        f"Number(document.querySelector('#balance-value')?.textContent.trim()) > {before}"
    )
    assert int(page.text_content("#balance-value").strip()) == before + 1000
    response = page.goto("/keys/")
    assert response is not None and response.status == 403
    assert "does not allow this" in page.text_content("#forbidden-reason")
    screenshots(page, "billing-no-keys")
    context.close()

    developer = User.objects.get(email=dev_email)
    key = ApiKey.objects.get(name="dev laptop")
    assert key.account_id == org.pk and key.created_by == developer
    assert Membership.objects.get(account=org, user=developer).role == Role.DEVELOPER
    assert account_balance(account=org) == 20 + 1000 - 1  # one text_analyzer call
    assert account_balance(account=org) == ledger_total(account=org)
