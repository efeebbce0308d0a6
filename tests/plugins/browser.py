"""Playwright fixtures driving Debian's Chromium (never a downloaded browser).

`browser` is session-scoped; `page` gets a fresh browser context per test, with `base_url` set to
pytest-django's `live_server`, so tests can `page.goto("/accounts/login/")`.

Playwright's sync API runs its asyncio loop in a greenlet of the test thread, so while it is alive
the thread looks as if an event loop were running there. That breaks two things: Django refuses
ORM calls in the test (SynchronousOnlyOperation), and `async_to_sync` refuses to run in any later
test of the session. So the loop is "parked" whenever no page is open: the thread's running-loop
marker is cleared, and put back before Playwright is used again. Inside a browser test the marker
is set, and DJANGO_ALLOW_ASYNC_UNSAFE lets the test (the only thread touching its database
connection) use the ORM; the connections it opens that way are closed when the page closes.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEFAULT_TIMEOUT_MS = 10_000


class _ParkedLoop:
    """Clears and restores the test thread's running-loop marker around Playwright use."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None

    def park(self) -> None:
        self.loop = asyncio._get_running_loop()
        asyncio._set_running_loop(None)

    def unpark(self) -> None:
        asyncio._set_running_loop(self.loop)


_parked = _ParkedLoop()


@pytest.fixture(scope="session")
def browser():
    # Imported here: this module may load (via -p) before the services plugin registers.
    from tests.plugins.services import require_service

    require_service(CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} is missing (apt install chromium)")
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
    except BaseException:
        playwright.stop()
        raise
    _parked.park()
    try:
        yield browser
    finally:
        _parked.unpark()
        try:
            browser.close()
        finally:
            playwright.stop()


@pytest.fixture(scope="session")
def plain_http_live_server():
    """The live server speaks plain HTTP, so HTTPS hardening (on whenever the test environment is a
    deployment: DATABASE_URL/REDIS_URL set) must be off before it builds its middleware: with it,
    every page would redirect to https:// and Chromium would drop the Secure session cookie."""
    from django.test import override_settings

    override = override_settings(
        SECURE_SSL_REDIRECT=False, SESSION_COOKIE_SECURE=False, CSRF_COOKIE_SECURE=False, SECURE_HSTS_SECONDS=0
    )
    override.enable()
    yield
    override.disable()


@pytest.fixture
def page(plain_http_live_server, browser, live_server):
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    _parked.unpark()
    try:
        context = browser.new_context(base_url=live_server.url)
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        try:
            yield context.new_page()
        finally:
            context.close()
    finally:
        # ORM calls made while the loop marker was set got connections stored per asyncio
        # context (asgiref Local), which nothing else would ever close: a leaked session that
        # later blocks dropping the test database.
        from django.db import connections

        connections.close_all()
        _parked.park()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous
