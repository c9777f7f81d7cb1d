"""A new user's first visit, in a real browser against the live server and worker: sign up, make
and copy a key, call the API with it, top up in test mode, run a summary in the playground, find
the calls in usage and export them as CSV. A screenshot of every page lands in var/screenshots/."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid

import httpx
import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from accounts.ledger.selectors import account_balance, ledger_total
from accounts.models import LedgerEntry, User

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-Long-and-unusual-passphrase-42"
ARTICLE = (
    "The city council approved the new transport budget on Monday. The plan adds forty "
    "electric buses and two night lines. Critics said the consultation came too late. "
    "The first buses will arrive in March, and the night lines start in May. "
    "Officials expect ticket sales to cover a third of the running costs."
)


def _poll(url: str, key: str, result_url: str) -> dict:
    for _ in range(100):
        body = httpx.get(url + result_url, headers={"x-api-key": key}, timeout=10).json()
        if body["status"] != "pending":
            return body
        import time

        time.sleep(0.1)
    raise AssertionError(f"still pending: {body}")


def test_new_user_walks_from_sign_up_to_csv_export(page, live_stack, screenshots):
    email = f"walker-{uuid.uuid4().hex[:8]}@example.com"

    # Sign up: lands on the home page with the sign-up credits and a getting-started panel.
    page.goto("/signup/")
    screenshots(page, "signup")
    page.fill("#id_email", email)
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("#signup-submit")
    page.wait_for_url(re.compile(r"^https?://[^/]+/$"))  # the home page, not /signup/
    assert page.locator("#getting-started").is_visible()
    assert "100 credits" in page.text_content("#stat-balance")
    screenshots(page, "home-new-user")

    # A key needs a verified address first: the page says so and offers to resend the link.
    page.click("#getting-started-key")
    page.wait_for_selector("#verify-email")
    assert page.locator("#verification-resend").is_visible()
    assert page.locator("#key-create-form").count() == 0
    screenshots(page, "key-needs-verified-email")
    # The link of the mail (console backend on the live stack) verifies it; done here directly.
    verified = EmailAddress.objects.filter(email=email).update(verified=True)
    assert verified == 1

    # Make a key from the getting-started panel; it is shown once, and the copy button copies it.
    page.goto("/")
    page.click("#getting-started-key")
    page.wait_for_selector("#key-create-form")
    page.fill("#id_name", "walkthrough")
    screenshots(page, "key-form")
    page.click("#key-create-submit")
    raw_key = page.text_content("#new-key").strip()
    assert re.fullmatch(r"brk_[A-Za-z0-9]{40}", raw_key)
    page.click("#copy-key")
    assert page.evaluate("navigator.clipboard.readText()") == raw_key
    screenshots(page, "key-shown-once")
    page.goto("/keys/")
    assert raw_key not in page.content()
    assert page.locator("#keys-table").text_content().count("walkthrough") == 1
    screenshots(page, "keys")

    # Call the API with the copied key, as the user's own code would.
    api = live_stack.url
    account = httpx.get(f"{api}/api/v1/account", headers={"x-api-key": raw_key}, timeout=10)
    assert account.status_code == 200
    assert account.json()["balance"] == 100
    started = httpx.post(
        f"{api}/api/v1/services/text_analyzer/analyze",
        headers={"x-api-key": raw_key},
        json={"text": "Hello from the walkthrough. Two sentences."},
        timeout=10,
    )
    assert started.status_code == 202
    finished = _poll(api, raw_key, started.json()["result_url"])
    assert finished["result"]["result"]["word_count"] == 6

    # Top up in test mode: clearly labelled, credited through the ledger.
    page.goto("/credits/")
    assert "Test mode" in page.text_content("#test-mode-banner")
    screenshots(page, "credits")
    before = int(page.text_content("#balance-value").strip())
    page.click("#buy-starter")
    page.wait_for_function(
        f"Number(document.querySelector('#balance-value')?.textContent.trim()) > {before}"
    )
    after = int(page.text_content("#balance-value").strip())
    assert after == before + 1000
    screenshots(page, "credits-topped-up")

    # Run a summary in the playground and watch it complete.
    page.goto("/playground/?service=summary&endpoint=summarize")
    page.fill("#param-text", ARTICLE)
    assert "2 credits" in page.text_content("#playground-cost")
    screenshots(page, "playground")
    page.click("#playground-run-button")
    page.wait_for_selector("#run-state[data-state='completed']", timeout=30_000)
    result = json.loads(page.text_content("#run-result"))
    assert result["status"] == "success"
    assert result["summary"]
    assert result["summary"].split(".")[0] + "." in ARTICLE  # extractive: sentences of the text
    assert "2" in page.text_content("#run-credits")
    screenshots(page, "playground-result")

    # Usage shows the API call and the playground run; the CSV export has them too.
    page.goto("/usage/")
    log = page.text_content("#usage-log")
    assert "text_analyzer" in log
    assert "summary" in log
    screenshots(page, "usage")
    with page.expect_download() as download_info:
        page.click("#usage-export")
    rows = list(csv.reader(io.StringIO(download_info.value.path().read_text())))
    services = {cell for row in rows[1:] for cell in row}
    assert "text_analyzer" in " ".join(services)
    assert "summary" in " ".join(services)

    # The books balance: 100 granted + 1000 topped up − 1 − 2 charged.
    user = User.objects.get(email=email)
    assert account_balance(account=user.account) == 100 + 1000 - 1 - 2
    assert account_balance(account=user.account) == ledger_total(account=user.account)
    assert LedgerEntry.objects.filter(account=user.account, kind="topup").count() == 1


def test_pages_fit_a_phone_screen(browser, live_stack, make_key, screenshots):
    key = make_key(credits=10)
    user = key.account.owner
    # Hashed as the live server checks it (the in-process tests' fast hasher is not its).
    hasher = PBKDF2PasswordHasher()
    user.password = hasher.encode(PASSWORD, hasher.salt())
    user.save()
    context = browser.new_context(base_url=live_stack.url, viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        page.goto("/login/")
        page.fill("#id_login", user.email)
        page.fill("#id_password", PASSWORD)
        page.click("#login-submit")
        page.wait_for_url(re.compile(r"^https?://[^/]+/$"))  # the home page, not /signup/
        for path, name in [
            ("/", "phone-home"),
            ("/keys/", "phone-keys"),
            ("/credits/", "phone-credits"),
            ("/services/", "phone-catalogue"),
            ("/playground/", "phone-playground"),
            ("/usage/", "phone-usage"),
        ]:
            page.goto(path)
            assert page.url.endswith(path), f"{path} sent the signed-in user to {page.url}"
            screenshots(page, name)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390 + 1, f"{path} is {width}px wide on a 390px screen"
    finally:
        context.close()
