"""Team sharing in Chromium: alice creates a team and makes an invitation link; bob, in a second
browser context (his own cookies), opens it, accepts, and finds the team in his switcher."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from studio.accounts.models import Membership, Role, Workspace
from tests.factories import PASSWORD
from tests.plugins.browser import DEFAULT_TIMEOUT_MS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page: Page, username: str) -> None:
    page.goto("/accounts/login/")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.locator(".workspace")).to_have_text(f"{username}'s workspace")


def test_alice_invites_bob_by_link_and_he_joins(page, browser, live_server, alice, bob):
    # alice: a new team from the header switcher.
    log_in(page, "alice")
    page.locator(".switcher summary").click()
    page.get_by_role("link", name="New team workspace").click()
    page.get_by_label("Workspace name").fill("Research")
    page.get_by_role("button", name="Create workspace").click()
    expect(page.get_by_role("heading", name="Research", exact=True)).to_be_visible()
    expect(page.locator(".workspace")).to_have_text("Research")

    # ...and an invitation link for an editor.
    page.get_by_role("link", name="Invitations").click()
    link_form = page.locator("form").filter(has=page.locator("input[name=kind][value=link]"))
    link_form.get_by_label("Role").select_option("editor")
    link_form.get_by_role("button", name="Make a link").click()
    link = page.locator("#invitation-link").input_value()
    assert re.fullmatch(re.escape(live_server.url) + r"/workspaces/join/[A-Za-z0-9_\-]{40,}/", link)

    # bob, in a browser context of his own.
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    try:
        bobs = context.new_page()
        log_in(bobs, "bob")
        bobs.goto(link)
        expect(bobs.get_by_role("heading", name="Join “Research”")).to_be_visible()
        expect(bobs.get_by_text("alice invites you")).to_be_visible()
        bobs.get_by_role("button", name="Accept").click()

        expect(bobs.get_by_text("Welcome to “Research”. You joined as editor.")).to_be_visible()
        expect(bobs.locator(".workspace")).to_have_text("Research")
        bobs.locator(".switcher summary").click()
        switcher = bobs.get_by_role("form", name="Switch workspace")
        expect(switcher.get_by_role("button", name=re.compile(r"^Research"))).to_be_visible()
        expect(switcher.get_by_role("button", name=re.compile(r"^bob's workspace"))).to_be_visible()

        # The link was single-use: opening it again says so.
        bobs.goto(link)
        expect(bobs.get_by_text("This invitation has already been used.")).to_be_visible()
    finally:
        context.close()

    team = Workspace.objects.get(name="Research")
    assert Membership.objects.get(workspace=team, user=bob).role == Role.EDITOR

    # alice sees her new teammate on the members page.
    page.get_by_role("link", name="Members", exact=True).click()
    expect(page.locator("tr[data-member=bob]")).to_be_visible()
