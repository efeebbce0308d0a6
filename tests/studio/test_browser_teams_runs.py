"""Team sharing with live runs, in Chromium against the real ASGI app and worker: embedded mode
(`manage.py serve` with its in-process worker: the `served` fixture of tests/plugins/processes.py,
alice with the crew "Ask me" in her personal workspace, whose user proxy asks a person at every
turn).

1. alice makes a team, copies her crew into it and invites bob by link; bob signs up from the
   link, accepts, finds the shared crew and runs it; alice starts a run and watches it while bob,
   in his own browser context, answers its question: the answer shows up on alice's page live.
2. alice copies a crew across workspaces, runs it, shares the run read-only; a visitor without an
   account watches it live; alice revokes the link and the visitor's page stops at once.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.factories import PASSWORD
from tests.plugins.browser import DEFAULT_TIMEOUT_MS, _parked

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LIVE_TIMEOUT_MS = 15_000  # a turn travels worker thread -> relay -> websocket -> htmx swap
# Marks a page once its websocket has delivered the status after (re)connecting. That frame swaps
# the question area in again, so text typed before it arrives would be lost.
MARK_LIVE = """document.addEventListener("htmx:wsAfterMessage", function (event) {
  if (String(event.detail.message || "").indexOf('id="run-input"') !== -1) { window.parleyLive = true; }
});"""


@pytest.fixture
def open_page(browser, served):
    """Pages in browser contexts of their own (their own cookies) on the embedded server; closed at the end."""
    contexts = []
    _parked.unpark()  # Playwright's loop runs in this thread while pages are open (tests/plugins/browser.py)

    def new_page() -> Page:
        context = browser.new_context(base_url=served.url)
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        contexts.append(context)
        context.add_init_script(MARK_LIVE)
        return context.new_page()

    try:
        yield new_page
    finally:
        for context in contexts:
            context.close()
        _parked.park()


def log_in(page: Page, username: str) -> None:
    page.goto("/accounts/login/")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.locator(".workspace")).to_be_visible()


def new_team_with_the_crew(page: Page, crew_id: str, team: str = "Research") -> str:
    """alice: a team workspace, and a copy of her personal crew in it; returns the copy's page path."""
    page.goto("/workspaces/new/")
    page.get_by_label("Workspace name").fill(team)
    page.get_by_role("button", name="Create workspace").click()
    expect(page.locator(".workspace")).to_have_text(team)
    page.goto(f"/crews/{crew_id}/")
    page.get_by_label("Copy to workspace").select_option(label=team)
    page.get_by_role("button", name="Copy the crew").click()
    expect(page.get_by_text(f"Copied “Ask me” into “{team}”.")).to_be_visible()
    assert f"/crews/{crew_id}/" not in page.url  # the copy is a crew of its own
    return re.search(r"/crews/[0-9a-f-]{36}/", page.url).group(0)


def start_run(page: Page, crew_path: str) -> str:
    """Press Run on the crew page; returns the run page's path once the run waits for a person."""
    page.goto(crew_path)
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page).to_have_url(re.compile(r"/runs/[0-9a-f-]{36}/$"))
    expect(page.locator("#run-status")).to_have_attribute("data-status", "awaiting_input", timeout=LIVE_TIMEOUT_MS)
    return re.search(r"/runs/[0-9a-f-]{36}/", page.url).group(0)


def goto_live(page: Page, path: str) -> None:
    """Open a run page (or a shared one) and wait until its websocket has caught up."""
    page.goto(path)
    page.wait_for_function("() => window.parleyLive === true", timeout=LIVE_TIMEOUT_MS)


def transcript(page: Page):
    return page.locator("#transcript")


def test_a_teammate_joins_runs_the_shared_crew_and_answers_the_owners_run_live(served, open_page):
    alice = open_page()
    log_in(alice, "alice")
    crew_path = new_team_with_the_crew(alice, served.crews["ask"])
    alice.locator(".switcher summary").click()
    alice.get_by_role("link", name="Members and settings").click()
    alice.get_by_role("link", name="Invitations").click()
    link_form = alice.locator("form").filter(has=alice.locator("input[name=kind][value=link]"))
    link_form.get_by_label("Role").select_option("runner")
    link_form.get_by_role("button", name="Make a link").click()
    invitation = alice.locator("#invitation-link").input_value()

    # bob has no account yet: the link leads him to log in, from there to sign up, and back.
    bob = open_page()
    bob.goto(invitation)
    bob.locator("main").get_by_role("link", name="Sign up").click()  # the one that keeps the way back
    bob.locator("input[name=username]").fill("bob")
    bob.locator("input[name=email]").fill("bob@example.test")
    bob.locator("input[name=password1]").fill(PASSWORD)
    bob.locator("input[name=password2]").fill(PASSWORD)
    bob.get_by_role("button", name="Sign up").click()
    expect(bob.get_by_role("heading", name="Join “Research”")).to_be_visible()
    bob.get_by_role("button", name="Accept").click()
    expect(bob.get_by_text("Welcome to “Research”. You joined as runner.")).to_be_visible()

    # He sees the shared crew and runs it; his run waits for him.
    bob.get_by_role("navigation", name="Main").get_by_role("link", name="Crews").click()
    bob.get_by_role("link", name="Ask me", exact=True).click()
    own_run = start_run(bob, crew_path)
    expect(bob.get_by_role("button", name="Send")).to_be_visible()

    # alice starts a run of her own and watches it.
    alices_run = start_run(alice, crew_path)
    assert alices_run != own_run
    expect(transcript(alice).locator("[data-seq]")).to_have_count(2)

    # bob answers alice's run from his browser; alice's page shows it without a reload.
    goto_live(bob, alices_run)
    expect(bob.get_by_text("Started by alice")).to_be_visible()
    bob.get_by_label("Your reply").fill("Bring lemonade.")
    bob.get_by_role("button", name="Send").click()
    expect(bob.locator("#run-notice")).to_contain_text("Thanks, the run continues.")

    answered = transcript(alice).locator("[data-seq]").filter(has_text="Bring lemonade.")
    expect(answered).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    expect(answered).to_contain_text("bob")  # who answered
    expect(transcript(alice)).to_contain_text("Idea two.", timeout=LIVE_TIMEOUT_MS)
    expect(alice.locator("#run-status")).to_have_attribute("data-status", "awaiting_input", timeout=LIVE_TIMEOUT_MS)
    expect(transcript(alice).locator("[data-seq]")).to_have_count(4)

    # alice ends it; bob's page, still open, follows.
    alice.get_by_role("button", name="End conversation").click()
    expect(alice.locator("#run-status")).to_have_attribute("data-status", "completed", timeout=LIVE_TIMEOUT_MS)
    expect(bob.locator("#run-status")).to_have_attribute("data-status", "completed", timeout=LIVE_TIMEOUT_MS)

    # Both runs are in the team's audit log, with who did what.
    alice.goto("/workspaces/")
    alice.get_by_role("link", name="Research", exact=True).click()
    alice.get_by_role("link", name="Audit log").click()
    log = alice.locator("main")
    for line in ("started a run of “Ask me”", "answered me in a run of “Ask me”", "copied the crew “Ask me” in"):
        expect(log).to_contain_text(line)


def test_a_copied_crew_runs_and_a_revoked_read_only_link_stops_at_once(served, open_page):
    alice = open_page()
    log_in(alice, "alice")
    crew_path = new_team_with_the_crew(alice, served.crews["ask"], team="Clients")
    # The copy made the team current; its crew list leads to the copy, not to the original.
    alice.get_by_role("navigation", name="Main").get_by_role("link", name="Crews").click()
    expect(alice.get_by_role("link", name="Ask me", exact=True)).to_have_attribute("href", crew_path)

    run_path = start_run(alice, crew_path)
    alice.goto(run_path + "shares/")
    alice.get_by_label("The link works").select_option(label="7 days")
    alice.get_by_role("button", name="Make a read-only link").click()
    link = alice.locator("#share-link").input_value()
    assert re.fullmatch(re.escape(served.url) + r"/runs/shared/[A-Za-z0-9_\-]{40,}/", link)

    # A visitor without an account watches the run; there is nothing to press.
    visitor = open_page()
    goto_live(visitor, link)
    expect(transcript(visitor).locator("[data-seq]")).to_have_count(2)
    expect(visitor.get_by_text("waits for a member of the team to answer")).to_be_visible()
    expect(visitor.locator("form, button, textarea")).to_have_count(0)
    expect(visitor.locator(".workspace")).to_have_count(0)  # no switcher, no workspace names

    goto_live(alice, run_path)
    alice.get_by_label("Your reply").fill("Bring lemonade.")
    alice.get_by_role("button", name="Send").click()
    expect(transcript(visitor)).to_contain_text("Bring lemonade.", timeout=LIVE_TIMEOUT_MS)
    expect(transcript(visitor)).to_contain_text("Idea two.", timeout=LIVE_TIMEOUT_MS)

    # alice revokes the link: the open page stops at once, and the link opens nothing any more.
    alice.goto(run_path + "shares/")
    alice.get_by_role("button", name="Revoke").click()
    expect(alice.get_by_text("Revoked the link")).to_be_visible()
    expect(visitor.locator("#shared-notice")).to_have_text("This link no longer works. Ask the team for a new one.",
                                                          timeout=LIVE_TIMEOUT_MS)
    goto_live(alice, run_path)
    alice.get_by_role("button", name="End conversation").click()
    expect(alice.locator("#run-status")).to_have_attribute("data-status", "completed", timeout=LIVE_TIMEOUT_MS)
    expect(visitor.locator("#run-status")).to_have_attribute("data-status", "awaiting_input")  # it heard no more

    response = visitor.goto(link)
    assert response is not None and response.status == 404
    expect(visitor.get_by_role("heading", name="This link does not open a run")).to_be_visible()
