"""The builder in Chromium: forms, the drag-to-order canvas, import/export and versions, as a person
uses them (real clicks, real drags, a real download and upload)."""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import Locator, Page, expect

from studio.crews import services
from studio.crews.models import AgentDef, Crew, ModelEndpoint
from studio.crews.snapshots import content, export_crew
from tests.factories import PASSWORD
from tests.studio.crews_support import workspace_of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REPLAY_SCRIPT = '{"replies": ["Here is a first draft.", "Looks good to me. TERMINATE"]}'


def studio_team() -> dict:
    """An AutoGen Studio 0.4 round-robin team: two assistants, one agent type Parley lacks."""
    def component(provider: str, component_type: str, config: dict, **extra) -> dict:
        return {"provider": provider, "component_type": component_type, "version": 1, "config": config, **extra}

    client = component("autogen_ext.models.openai.OpenAIChatCompletionClient", "model", {"model": "gpt-4o-mini"})
    return component(
        "autogen_agentchat.teams.RoundRobinGroupChat", "team",
        {
            "participants": [
                component("autogen_agentchat.agents.AssistantAgent", "agent",
                          {"name": "drafter", "model_client": client, "system_message": "Draft release notes."}),
                component("autogen_agentchat.agents.AssistantAgent", "agent",
                          {"name": "editor", "model_client": client, "system_message": "Tighten the draft."}),
                component("autogen_ext.agents.web_surfer.MultimodalWebSurfer", "agent", {"name": "browser"}),
            ],
            "termination_condition": component("autogen_agentchat.conditions.TextMentionTermination",
                                               "termination", {"text": "APPROVED"}),
        },
        label="Release notes team",
    )


def log_in(page: Page, username: str) -> None:
    page.goto("/accounts/login/")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.locator(".workspace")).to_have_text(f"{username}'s workspace")


def member_names(page: Page) -> list[str]:
    return page.locator("#members .agent-card").evaluate_all("cards => cards.map(card => card.dataset.name)")


def drag(page: Page, card: Locator, target: Locator, *, at: float = 0.1) -> None:
    """A person's drag: press on the card, move in small steps (SortableJS reacts to the moves),
    hold still over the target at `at` of its height (0.1: near its top edge), release."""
    # Like a person, first bring the canvas into view (panels above it can push it down).
    target.scroll_into_view_if_needed()
    card.scroll_into_view_if_needed()
    start, end = card.bounding_box(), target.bounding_box()
    assert start and end, "both ends of the drag must be visible"
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(start["x"] + start["width"] / 2 + 5, start["y"] + start["height"] / 2 + 5, steps=5)
    x, y = end["x"] + end["width"] / 2, end["y"] + end["height"] * at
    page.mouse.move(x, y, steps=20)
    # Hold still past SortableJS's 150 ms animation (it ignores moves over a card still sliding).
    page.wait_for_timeout(200)
    page.mouse.move(x + 1, y)
    page.mouse.up()


@contextmanager
def canvas_update(page: Page) -> Iterator[None]:
    """Wait until the canvas action done in the block has been answered AND swapped in: the DOM
    SortableJS rearranged already looks right before the server's canvas replaces it."""
    page.evaluate("""() => {
        window.__canvasSettled = false;
        document.body.addEventListener("htmx:afterSettle", () => { window.__canvasSettled = true; }, {once: true});
    }""")
    with page.expect_response(re.compile(r"/crews/[0-9a-f-]+/members/")):
        yield
    page.wait_for_function("() => window.__canvasSettled === true")


def save_and_wait(page: Page, button: str) -> None:
    page.get_by_role("button", name=button, exact=True).click()
    expect(page.locator(".form-errors")).to_have_count(0)


def test_build_a_crew_drag_it_into_order_import_export_and_restore(page: Page, alice, tmp_path: Path):
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in(page, "alice")
    workspace = workspace_of(alice)

    # A model, through its form: Replay needs no key.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Models").click()
    page.get_by_role("link", name="New model").click()
    page.get_by_label("Name", exact=True).fill("Script")
    page.get_by_label("Provider").select_option("replay")
    expect(page.get_by_label("API key")).to_be_hidden()  # provider-dependent fields follow the choice
    page.get_by_label("Model id").fill("replay")
    page.get_by_label("Replay script").fill(REPLAY_SCRIPT)
    save_and_wait(page, "Create model")
    expect(page.get_by_role("heading", name="Script")).to_be_visible()
    page.get_by_role("button", name="Test", exact=True).click()
    expect(page.locator("#test-result")).to_contain_text("It works.")

    # Two agents, through their form.
    for name, instructions in (("writer", "You write the first draft."), ("critic", "You point out what to fix.")):
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Agents").click()
        page.get_by_role("link", name="New agent").click()
        page.get_by_label("Name", exact=True).fill(name)
        page.get_by_label("System message").fill(instructions)
        page.get_by_label("Model", exact=True).select_option(label="Script")
        page.get_by_label("Never: the agent always replies by itself").check()
        save_and_wait(page, "Create agent")
        expect(page.get_by_role("heading", name=name)).to_be_visible()

    # A group chat of the two, through the crew form; it opens on its canvas.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Crews").click()
    page.get_by_role("link", name="New crew").click()
    page.get_by_label("Name", exact=True).fill("Review circle")
    page.get_by_label("Group chat").check()
    expect(page.get_by_label("Recipient")).to_be_hidden()
    page.get_by_label("writer").check()
    page.get_by_label("critic").check()
    page.get_by_label("Speaker selection").select_option("round_robin")
    save_and_wait(page, "Create crew")
    expect(page.get_by_role("heading", name="Review circle")).to_be_visible()
    page.screenshot(path=str(tmp_path / "canvas.png"), full_page=True)
    assert member_names(page) == ["critic", "writer"]  # checked members start in library (name) order

    # Reorder by dragging writer above critic; the order survives a reload.
    crew = Crew.objects.get(workspace=workspace, name="Review circle")
    with canvas_update(page):
        drag(page, page.locator("#members .agent-card", has_text="writer"),
             page.locator("#members .agent-card", has_text="critic"))
    expect(page.locator("#members .agent-card").first).to_have_attribute("data-name", "writer")
    page.reload()
    assert member_names(page) == ["writer", "critic"]
    assert [a.name for a in crew.ordered_members()] == ["writer", "critic"]

    # Drag an agent from the library onto the crew, then drag it out again.
    services.create_agent(workspace, user=alice, name="editor", kind="assistant")
    page.reload()
    with canvas_update(page):
        drag(page, page.locator("#library .agent-card", has_text="editor"),
             page.locator("#members .agent-card", has_text="critic"), at=0.5)
    expect(page.locator("#members .agent-card")).to_have_count(3)
    shown = member_names(page)  # where it landed depends on the pointer; the server keeps that place
    assert sorted(shown) == ["critic", "editor", "writer"]
    assert [a.name for a in crew.ordered_members()] == shown
    with canvas_update(page):
        drag(page, page.locator("#members .agent-card", has_text="editor"), page.locator("#library"))
    expect(page.locator("#members .agent-card")).to_have_count(2)
    expect(page.locator("#library .agent-card", has_text="editor")).to_be_visible()
    assert [a.name for a in crew.ordered_members()] == ["writer", "critic"]

    # The keyboard way: move critic up with its button; the focus stays with critic's controls.
    page.get_by_role("button", name="Move critic up").focus()
    with canvas_update(page):
        page.keyboard.press("Enter")
    expect(page.locator("#members .agent-card").first).to_have_attribute("data-name", "critic")
    expect(page.get_by_role("button", name="Move critic down")).to_be_focused()  # "up" is disabled at the top
    expect(page.locator("#members-title [role=status]")).to_have_text("Saved")

    # Import an AutoGen Studio team: the page lists what was dropped.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Crews").click()
    page.get_by_role("link", name="Import").click()
    team_file = tmp_path / "team.json"
    team_file.write_text(json.dumps(studio_team()))
    page.get_by_label("A JSON file").set_input_files(str(team_file))
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_role("heading", name="Release notes team")).to_be_visible()
    expect(page.locator(".messages")).to_contain_text("Not imported: agent browser (MultimodalWebSurfer)")
    expect(page.locator(".messages")).to_contain_text("needs an API key")
    assert member_names(page) == ["drafter", "editor_2"]  # "editor" was taken by a different agent

    # Export Review circle and import the file again: an equal crew under a new name.
    page.goto(f"/crews/{crew.public_id}/")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export").click()
    exported = tmp_path / download_info.value.suggested_filename
    download_info.value.save_as(exported)
    assert exported.name == "review-circle.parley.json" and "sk-" not in exported.read_text()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Crews").click()
    page.get_by_role("link", name="Import").click()
    page.get_by_label("A JSON file").set_input_files(str(exported))
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_role("heading", name="Review circle (2)")).to_be_visible()
    assert member_names(page) == ["critic", "writer"]
    copy = Crew.objects.get(workspace=workspace, name="Review circle (2)")
    original, again = content(export_crew(crew)), content(export_crew(copy))
    again["crew"]["name"] = original["crew"]["name"]
    assert again == original
    assert AgentDef.objects.filter(workspace=workspace, name__in=["writer", "critic"]).count() == 2  # reused
    assert ModelEndpoint.objects.filter(workspace=workspace, name="Script").count() == 1

    # Restore an older version: version 2 had writer before critic (the drag).
    page.goto(f"/crews/{crew.public_id}/")
    page.get_by_role("link", name="Versions").click()
    expect(page.get_by_role("heading", name="Versions")).to_be_visible()
    row = page.locator(".versions-table tbody tr").filter(has=page.locator("td strong", has_text=re.compile(r"^2$")))
    expect(row).to_contain_text("Reordered members: writer, critic")
    row.get_by_role("link", name="What changed").click()
    expect(page.locator("#diff")).to_contain_text("Version 1 → version 2")
    row.get_by_role("button", name="Restore").click()
    expect(page.locator(".messages")).to_contain_text("Restored version 2")
    assert member_names(page) == ["writer", "critic"]
    assert [a.name for a in crew.ordered_members()] == ["writer", "critic"]
