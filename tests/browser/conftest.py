"""Browser tests: Playwright driving Debian's Chromium (headless) against the live stack."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import skip_or_fail

# Screenshots land in var/screenshots/ (gitignored), which CI keeps as artifacts.
ARTIFACTS = Path(os.environ.get("BREACT_ARTIFACTS", Path(__file__).resolve().parents[2] / "var"))
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium_path() -> str | None:
    return os.environ.get("BREACT_CHROMIUM") or shutil.which("chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for one test module; Playwright's event loop ends with it, so later tests
    (the async SDK ones) can run their own."""
    path = _chromium_path()
    if not path:
        skip_or_fail("Chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("playwright is not installed")
    # Playwright's sync API keeps an event loop running in this thread; the test's own ORM calls
    # are still synchronous, so Django's async-safety guard must be told so.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def screenshots(request: pytest.FixtureRequest) -> Any:
    """shot(page, name) saves a full-page PNG under var/screenshots/<test>/."""
    folder = ARTIFACTS / "screenshots" / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    count = 0

    def shot(page: Any, name: str) -> Path:
        nonlocal count
        count += 1
        path = folder / f"{count:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return shot


@pytest.fixture
def page(browser: Any, live_stack: Any) -> Iterator[Any]:
    context = browser.new_context(
        base_url=live_stack.url, viewport={"width": 1280, "height": 900}, accept_downloads=True
    )
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_stack.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
