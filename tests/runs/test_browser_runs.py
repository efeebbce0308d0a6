"""Live runs in Chromium, against the real thing: `manage.py serve` in embedded mode (uvicorn with
websockets, the in-process Celery worker, the relay hop onto the server loop, SQLite in a temporary
PARLEY_DATA_DIR). pytest-django's live_server cannot serve websockets, so one server runs for the
whole module; models that need latency call this process's fake LLM server over HTTP.

Acceptance: run the demo crew and see turns appear live; reply twice to an ALWAYS-mode user proxy
from the browser, then end it; reload mid-run and find nothing missing or doubled; cancel a
waiting run.
"""

from __future__ import annotations

import re
from typing import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.factories import PASSWORD
from tests.runs.support import counting_reply
from tests.plugins.processes import ServedStudio

pytestmark = [pytest.mark.browser, pytest.mark.slow]

XSS = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'

# Run inside `manage.py shell` of the served studio: the cast, and crews made by the studio's services.
SETUP = """
import json, os
from types import SimpleNamespace
from studio.accounts.services import sign_up
from studio.crews.gallery import load_gallery
from tests.runs.support import fake_llm_crew, human_crew
load_gallery()
alice = sign_up(username="alice", email="alice@example.test", password=os.environ["SETUP_PASSWORD"])
ws = alice.personal_workspace
fake = SimpleNamespace(openai_base_url=os.environ["SETUP_FAKE_LLM"])
crews = {
    "ask": human_crew(ws, alice, name="Ask me " + os.environ["SETUP_XSS"], replies=["Idea one.", "Idea two.", "Idea three."]),
    "slow": fake_llm_crew(ws, alice, fake, name="Slow counter", limit=4),
}
print(json.dumps({key: str(crew.public_id) for key, crew in crews.items()}))
"""


@pytest.fixture(scope="module")
def studio(tmp_path_factory, fake_llm_server) -> Iterator[ServedStudio]:
    """`manage.py serve` (embedded mode) with alice and her crews; stopped by PID at the end."""
    studio = ServedStudio(tmp_path_factory.mktemp("studio"), concurrency=4)
    studio.manage("migrate", "--noinput", "-v", "0")
    studio.add_crews(SETUP, SETUP_PASSWORD=PASSWORD, SETUP_FAKE_LLM=fake_llm_server.openai_base_url, SETUP_XSS=XSS)
    with studio.serving():
        yield studio


@pytest.fixture
def page(browser, studio):
    """A fresh browser context on the served studio, logged in as alice."""
    from tests.plugins.browser import DEFAULT_TIMEOUT_MS, _parked

    _parked.unpark()
    try:
        context = browser.new_context(base_url=studio.url)
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        try:
            page = context.new_page()
            page.on("dialog", lambda dialog: pytest.fail(f"a dialog opened: {dialog.message}"))
            page.goto("/accounts/login/")
            page.locator("input[name=username]").fill("alice")
            page.locator("input[name=password]").fill(PASSWORD)
            page.get_by_role("button", name="Log in", exact=True).click()
            expect(page.locator(".workspace")).to_have_text("alice's workspace")
            yield page
            assert page.evaluate("window.__pwned") is None, "text from a model or a person ran as script"
        finally:
            context.close()
    finally:
        _parked.park()


def transcript(page: Page) -> list[tuple[int, str, str]]:
    """(seq, sender, text) of every entry on the page, in page order."""
    return [(int(seq), sender, text.strip()) for seq, sender, text in page.locator("#transcript [data-seq]").evaluate_all(
        "els => els.map(el => [el.dataset.seq, el.dataset.sender, el.querySelector('.run-md, pre, p').innerText])")]


def seqs(page: Page) -> list[int]:
    return [seq for seq, _, _ in transcript(page)]


def start_from_crew_page(page: Page, crew_id: str) -> None:
    page.goto(f"/crews/{crew_id}/")
    page.locator(".run-start").get_by_role("button", name="Run", exact=True).click()
    page.wait_for_url("**/runs/*/")


def test_the_demo_crew_runs_from_the_gallery_with_highlighted_code_paired_with_its_output(page: Page):
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Gallery").click()
    page.get_by_role("button", name="Use this crew: Demo (no API key)").click()
    expect(page.get_by_role("heading", name="Demo (no API key)")).to_be_visible()
    expect(page.locator("#run-task")).to_have_value("Which numbers below 50 are prime, and what is their sum?")
    page.locator(".run-start").get_by_role("button", name="Run", exact=True).click()
    page.wait_for_url("**/runs/*/")

    expect(page.locator("#run-status")).to_have_attribute("data-status", "completed", timeout=60_000)
    expect(page.locator("#run-status")).to_contain_text("Done")
    assert seqs(page) == [1, 2, 3, 4]
    code = page.locator('#transcript [data-kind="code"]')
    expect(code.locator("pre code.language-python span.nb", has_text="print").first).to_be_visible()  # highlighted
    output = page.locator('#transcript [data-kind="code"] + [data-kind="code_output"]')  # right after its code
    expect(output.locator(".code-output-head")).to_contain_text("Output of the code above · exit code 0")
    expect(output.locator("pre")).to_contain_text("sum: 328")
    expect(page.locator('#transcript [data-seq="4"]')).to_contain_text("there are 15 primes below 50")
    expect(page.locator("#run-usage .usage-row[data-agent=coder]")).to_be_visible()
    expect(page.locator("#run-actions")).to_contain_text("Run again")
    expect(page.locator("#run-actions")).not_to_contain_text("Stop")


def test_turns_and_tokens_appear_live(page: Page, studio, fake_llm):
    fake_llm.add_rule(text=counting_reply, delay=0.3, chunk_delay=0.06)
    start_from_crew_page(page, studio.crews["slow"])
    page.evaluate("window.__sameDocument = true")  # gone if anything reloaded the page
    expect(page.locator("#run-status")).to_have_attribute("data-status", "running")
    first = seqs(page)
    assert len(first) < 10, first  # 10 messages, 5 model calls of ~0.5 s each (with streaming): not over yet

    # Tokens stream into the typing area for the current speaker, then the saved message replaces them.
    page.wait_for_selector('#run-stream .run-stream-text[data-agent="counter"]')
    expect(page.locator('#transcript [data-seq="4"]')).to_contain_text("reply to 4 messages")
    expect(page.locator("#run-status")).to_have_attribute("data-status", "completed", timeout=20_000)
    expect(page.locator("#run-stream")).to_be_empty()
    assert page.evaluate("window.__sameDocument") is True
    assert seqs(page) == list(range(1, 11))
    expect(page.locator("#run-status")).to_contain_text("10 messages")  # the panel was refreshed too
    expect(page.locator("#run-usage .usage-row[data-agent=counter]")).to_contain_text("5 calls")


def test_a_person_replies_twice_from_the_browser_then_ends_the_conversation(page: Page, studio):
    start_from_crew_page(page, studio.crews["ask"])
    question = page.locator("#run-input .run-question")

    asked = []
    for reply in ("Bring lemonade.", f"And a blanket {XSS}"):
        expect(question).to_be_visible()
        expect(page.locator("#run-status")).to_contain_text("Waiting for you")
        request_id = question.get_attribute("data-request")
        assert request_id not in asked
        asked.append(request_id)
        question.get_by_label("Your reply").fill(reply)
        question.get_by_role("button", name="Send").click()
        # The run continues; a new question (a new request id) comes once helper has answered.
        expect(page.locator(f'#run-input [data-request="{request_id}"]')).to_have_count(0)
    expect(question).to_be_visible()
    assert question.get_attribute("data-request") not in asked
    question.get_by_role("button", name="End conversation").click()

    expect(page.locator("#run-status")).to_have_attribute("data-status", "completed")
    expect(page.locator("#run-status")).to_contain_text("Done")
    expect(page.locator("#run-input")).to_be_empty()
    rows = transcript(page)
    assert [seq for seq, _, _ in rows] == [1, 2, 3, 4, 5, 6]
    assert [(sender, text) for _, sender, text in rows][2::2] == [
        ("me", "Bring lemonade."), ("me", 'And a blanket <img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>')]
    expect(page.locator("#transcript .from-human .badge")).to_have_text(["alice", "alice"])
    expect(page.locator(".run-head .eyebrow")).to_contain_text("Ask me <img src=x")  # the crew's name, as text


def test_reloading_mid_run_shows_every_turn_once(page: Page, studio, fake_llm):
    fake_llm.add_rule(text=counting_reply, delay=0.3, chunk_delay=0.04)
    start_from_crew_page(page, studio.crews["slow"])
    expect(page.locator('#transcript [data-seq="3"]')).to_be_attached()
    page.reload()
    assert page.locator("#run-status").get_attribute("data-status") == "running", "the reload must happen mid-run"
    expect(page.locator('#transcript [data-seq="5"]')).to_be_attached()
    page.reload()  # and once more, later, while tokens stream
    expect(page.locator("#run-status")).to_have_attribute("data-status", "completed", timeout=20_000)
    live = transcript(page)

    page.reload()  # the run is over: this page is all from the database
    assert transcript(page) == live
    assert [seq for seq, _, _ in live] == list(range(1, 11))
    assert [text for _, _, text in live][1::2] == [f"reply to {n} messages" for n in (2, 4, 6, 8, 10)]


def test_cancelling_a_waiting_run(page: Page, studio):
    start_from_crew_page(page, studio.crews["ask"])
    expect(page.locator("#run-input .run-question")).to_be_visible()

    page.locator("#run-actions").get_by_role("button", name="Stop").click()
    expect(page.locator("#run-notice")).to_have_text("Cancelled.")
    expect(page.locator("#run-status")).to_have_attribute("data-status", "cancelled")
    expect(page.locator("#run-status")).to_contain_text("Stopped by alice.")
    expect(page.locator("#run-input")).to_be_empty()
    expect(page.locator("#run-actions").get_by_role("button", name="Stop")).to_have_count(0)
    expect(page.locator("#run-actions").get_by_role("button", name="Run again")).to_be_visible()
    assert seqs(page) == [1, 2]  # everything so far is kept

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Runs").click()
    page.get_by_label("Status").select_option("cancelled")
    page.wait_for_url(re.compile(r"/runs/\?status=cancelled"))  # the filtered table came (htmx pushes its URL)
    expect(page.locator('#runs-table tbody tr:not([data-status="cancelled"])')).to_have_count(0)
    expect(page.locator('#runs-table tbody tr[data-status="cancelled"]')).not_to_have_count(0)
