"""Crew pages: create/edit two-agent and group chats, the canvas page and its actions (reorder, add,
remove, move up/down, transitions), with and without htmx."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from studio.crews.models import Crew, CrewMember, CrewTransition
from tests.studio.crews_support import make_agent, workspace_of
from tests.studio.pages_support import (  # noqa: F401  (fixtures)
    HTMX,
    alice_client,
    errors_in,
    studio,
    url,
)

pytestmark = pytest.mark.django_db


def crew_form(**fields) -> dict:
    data = {"name": "Team", "kind": "group", "description": "", "tags": "", "task": "", "initiator": "",
            "recipient": "", "max_turns": "", "max_round": "10", "speaker_selection": "round_robin",
            "allow_repeat_speaker": "on", "manager_model": "", "termination_rule": "default",
            "termination_keyword": "TERMINATE", "members": []}
    data.update(fields)
    return data


def ids(*agents) -> list[str]:
    return [str(agent.public_id) for agent in agents]


# ---- the crew form ---------------------------------------------------------------------------------------


def test_create_a_group_chat_and_a_two_agent_chat(alice_client, studio):
    response = alice_client.post(url("crew_create"), crew_form(
        name="Trio", tags="code, review,, code", task="Sort a list.",
        members=ids(studio.runner, studio.planner, studio.coder)))
    crew = Crew.objects.get(name="Trio")
    assert response.status_code == 302 and response["Location"] == url("crew_detail", crew.public_id)
    assert crew.tags == ["code", "review"] and crew.task == "Sort a list." and crew.created_by == studio.user
    assert [a.name for a in crew.ordered_members()] == ["coder", "planner", "runner"]
    assert crew.versions.get().summary == "Created"

    response = alice_client.post(url("crew_create"), crew_form(
        name="Pair", kind="two_agent", initiator=str(studio.runner.public_id), recipient=str(studio.coder.public_id), max_turns="3"))
    pair = Crew.objects.get(name="Pair")
    assert response.status_code == 302
    assert (pair.initiator, pair.recipient, pair.max_turns) == (studio.runner, studio.coder, 3)
    page = alice_client.get(url("crew_detail", pair.public_id)).content.decode()
    assert "Initiator: sends the task" in page and "runner" in page and "coder" in page


def test_crew_form_errors_in_words_keep_what_was_typed(alice_client, studio):
    cases = [
        (crew_form(name="Builders", members=ids(studio.planner, studio.coder)),
         "There is already a crew named “Builders” in this workspace."),
        (crew_form(name="Lonely", description="Only <one>", members=ids(studio.planner)),
         "A group chat needs at least two members (it has 1)."),
        (crew_form(name="By hand", speaker_selection="manual", members=ids(studio.planner, studio.coder)),
         "Manual selection needs a member that takes human input (human input mode ALWAYS or TERMINATE) "
         "to pick the next speaker."),
        (crew_form(name="Auto", speaker_selection="auto", members=ids(studio.planner, studio.coder)),
         "Automatic speaker selection needs a model for the chat manager to choose with."),
        (crew_form(name="Same", kind="two_agent", initiator=str(studio.coder.public_id), recipient=str(studio.coder.public_id)),
         "The initiator and the recipient must be two different agents."),
        (crew_form(name="Half", kind="two_agent", initiator=str(studio.coder.public_id)), "Choose the agent that answers."),
    ]
    for data, message in cases:
        response = alice_client.post(url("crew_create"), data)
        html = response.content.decode()
        assert response.status_code == 200, message
        assert message in errors_in(html), (message, errors_in(html))
        assert f'value="{data["name"]}"' in html
    assert "Only &lt;one&gt;" in alice_client.post(url("crew_create"), cases[1][0]).content.decode()
    assert Crew.objects.count() == 1


def test_edit_pages_show_the_saved_choices(alice_client, studio):
    studio.crew.initiator = studio.coder
    studio.crew.manager_model = studio.replay
    studio.crew.save()
    page = alice_client.get(url("crew_edit", studio.crew.public_id)).content.decode()
    assert f'<option value="{studio.coder.public_id}" selected>coder</option>' in page
    assert f'<option value="{studio.replay.public_id}" selected>Replay</option>' in page
    checked = re.findall(r'<input type="checkbox" name="members" value="([^"]+)"[^>]*checked', page)
    assert sorted(checked) == sorted(ids(studio.planner, studio.coder))
    agent_page = alice_client.get(url("agent_edit", studio.coder.public_id)).content.decode()
    assert f'<option value="{studio.model.public_id}" selected>GPT key model</option>' in agent_page


def test_edit_settings_keeps_the_member_order_and_can_switch_kind(alice_client, studio):
    crew = studio.crew
    alice_client.post(url("crew_members", crew.public_id), {"agent": ids(studio.coder, studio.planner)})
    response = alice_client.post(url("crew_edit", crew.public_id), crew_form(
        name="Builders", max_round="7", members=ids(studio.planner, studio.coder, studio.runner)))
    assert response.status_code == 302
    assert studio.member_names() == ["coder", "planner", "runner"]  # kept order, the new one last
    assert Crew.objects.get(pk=crew.pk).max_round == 7
    response = alice_client.post(url("crew_edit", crew.public_id), crew_form(
        name="Builders", kind="two_agent", initiator=str(studio.planner.public_id), recipient=str(studio.coder.public_id)))
    assert response.status_code == 302 and Crew.objects.get(pk=crew.pk).kind == "two_agent"


# ---- the canvas --------------------------------------------------------------------------------------------


def test_canvas_page_and_its_htmx_partial(alice_client, studio):
    page = alice_client.get(url("crew_detail", studio.crew.public_id)).content.decode()
    assert "<html" in page and 'data-sortable="members"' in page and 'data-sortable="library"' in page
    assert 'hx-trigger="end"' in page and "js/canvas.js" in page and "vendor/Sortable.min.js" in page
    assert 'aria-label="Move planner up"' in page and "Allowed transitions" in page
    partial = alice_client.get(url("crew_detail", studio.crew.public_id), **HTMX).content.decode()
    assert partial.lstrip().startswith('<div id="canvas"') and "<html" not in partial and "runner" in partial


def test_reorder_is_validated_saved_in_one_update_and_returns_the_partial(alice_client, studio):
    crew = studio.crew
    with CaptureQueriesContext(connection) as queries:
        response = alice_client.post(url("crew_members", crew.public_id), {"agent": ids(studio.coder, studio.planner)},
                                     **HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and html.lstrip().startswith('<div id="canvas"')
    assert html.index('data-name="coder"') < html.index('data-name="planner"')
    assert studio.member_names() == ["coder", "planner"]
    position_updates = [q["sql"] for q in queries.captured_queries
                        if q["sql"].startswith("UPDATE") and CrewMember._meta.db_table in q["sql"]]
    assert len(position_updates) == 1  # the whole new order in one statement
    assert crew.versions.first().summary == "Reordered members: coder, planner"

    versions = crew.versions.count()
    alice_client.post(url("crew_members", crew.public_id), {"agent": ids(studio.coder, studio.planner)}, **HTMX)
    assert crew.versions.count() == versions  # dropped where it was: nothing saved

    stale = alice_client.post(url("crew_members", crew.public_id),
                              {"agent": ids(studio.coder, studio.coder)}, **HTMX).content.decode()
    assert "The canvas was out of date" in stale and studio.member_names() == ["coder", "planner"]
    garbage = alice_client.post(url("crew_members", crew.public_id), {"agent": ["nonsense", "x"]}, **HTMX)
    assert garbage.status_code == 200 and "The canvas was out of date" in garbage.content.decode()


def test_drag_in_adds_at_the_drop_place_and_drag_out_removes(alice_client, studio):
    crew = studio.crew
    html = alice_client.post(url("crew_members", crew.public_id),
                             {"agent": ids(studio.planner, studio.runner, studio.coder)}, **HTMX).content.decode()
    assert studio.member_names() == ["planner", "runner", "coder"]
    assert crew.versions.first().summary == "Added runner"
    assert 'aria-label="Remove runner from the crew"' in html
    alice_client.post(url("crew_members", crew.public_id), {"agent": ids(studio.planner, studio.coder)}, **HTMX)
    assert studio.member_names() == ["planner", "coder"] and crew.versions.first().summary == "Removed runner"
    # A group chat cannot drop below two members: refused, and the canvas shows the saved crew again.
    html = alice_client.post(url("crew_members", crew.public_id), {"agent": ids(studio.planner)}, **HTMX).content.decode()
    assert "A group chat needs at least two members (it has 1)." in html
    assert 'data-name="coder"' in html.split('id="library"')[0]  # still on the crew side
    assert studio.member_names() == ["planner", "coder"]


def test_buttons_work_without_js(alice_client, studio):
    crew = studio.crew
    detail = url("crew_detail", crew.public_id)
    response = alice_client.post(url("crew_member_add", crew.public_id), {"add": str(studio.runner.public_id)})
    assert response.status_code == 302 and response["Location"] == detail
    assert studio.member_names() == ["planner", "coder", "runner"]
    alice_client.post(url("crew_member_move", crew.public_id), {"up": str(studio.runner.public_id)})
    assert studio.member_names() == ["planner", "runner", "coder"]
    alice_client.post(url("crew_member_move", crew.public_id), {"down": str(studio.planner.public_id)})
    assert studio.member_names() == ["runner", "planner", "coder"]
    alice_client.post(url("crew_member_move", crew.public_id), {"up": str(studio.runner.public_id)})  # already first
    assert studio.member_names() == ["runner", "planner", "coder"]
    alice_client.post(url("crew_member_remove", crew.public_id), {"remove": str(studio.planner.public_id)})
    assert studio.member_names() == ["runner", "coder"]
    refused = alice_client.post(url("crew_member_remove", crew.public_id), {"remove": str(studio.coder.public_id)})
    assert refused.status_code == 200 and "<html" in refused.content.decode()
    assert "A group chat needs at least two members (it has 1)." in refused.content.decode()
    other = make_agent(workspace_of(studio.user), studio.user, name="spare")
    html = alice_client.post(url("crew_member_add", crew.public_id), {"add": "not-an-id"}, **HTMX).content.decode()
    assert "Choose an agent of this workspace to add." in html
    assert studio.member_names() == ["runner", "coder"] and other.memberships.count() == 0


def test_transitions_matrix_saves_refuses_a_stranded_initiator_and_clears(alice_client, studio):
    crew = studio.crew
    planner, coder = studio.planner.public_id, studio.coder.public_id
    response = alice_client.post(url("crew_transitions", crew.public_id),
                                 {"edge": [f"{planner}:{coder}", f"{coder}:{planner}"]})
    assert response.status_code == 302
    assert set(CrewTransition.objects.values_list("source__name", "target__name")) == {
        ("planner", "coder"), ("coder", "planner")}
    # Only coder → planner: planner (the initiator, first member) may be followed by nobody.
    html = alice_client.post(url("crew_transitions", crew.public_id), {"edge": [f"{coder}:{planner}"]},
                             **HTMX).content.decode()
    assert "The transitions strand the initiator: nobody may speak after planner" in html
    assert f'value="{coder}:{planner}"' in html
    checked = [part.split('"')[0] for part in html.split('name="edge" value="')[1:] if "checked" in part.split(">")[0]]
    assert checked == [f"{coder}:{planner}"]  # what the person ticked, not what is saved
    assert CrewTransition.objects.count() == 2
    alice_client.post(url("crew_transitions", crew.public_id), {"clear": "1", "edge": [f"{coder}:{planner}"]})
    assert CrewTransition.objects.count() == 0
    stale = alice_client.post(url("crew_transitions", crew.public_id), {"edge": [f"{planner}:{studio.runner.public_id}"]},
                              **HTMX).content.decode()
    assert "The canvas was out of date" in stale


def test_canvas_actions_on_a_two_agent_chat_are_refused_in_words(alice_client, studio):
    pair = Crew.objects.create(workspace=studio.workspace, name="Pair", kind="two_agent",
                               initiator=studio.runner, recipient=studio.coder)
    html = alice_client.post(url("crew_members", pair.public_id), {"agent": ids(studio.coder)}, **HTMX).content.decode()
    assert "A two-agent chat has no member list" in html


def test_delete_crew_after_confirmation(alice_client, studio):
    page = alice_client.get(url("crew_delete", studio.crew.public_id)).content.decode()
    assert "Delete the crew “Builders”?" in page
    assert alice_client.post(url("crew_delete", studio.crew.public_id)).status_code == 302
    assert not Crew.objects.exists()
