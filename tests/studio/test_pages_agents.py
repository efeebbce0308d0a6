"""Agent pages: list, create/edit with every field and its explanations, delete with confirmation."""

from __future__ import annotations

import pytest

from studio.crews.models import AgentDef, Crew
from tests.studio.crews_support import ADD_TOOL, group_crew, make_agent, replay_model, workspace_of
from tests.studio.pages_support import HTMX, alice_client, errors_in, url  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


def agent_form(**fields) -> dict:
    data = {"name": "writer", "kind": "assistant", "description": "", "system_message": "", "model": "",
            "human_input_mode": "NEVER", "max_consecutive_auto_reply": "", "termination_rule": "default",
            "termination_keyword": "TERMINATE", "default_auto_reply": "", "code_execution": "off",
            "code_timeout": "60", "tools": [""]}
    data.update(fields)
    return data


def test_form_explains_human_input_modes_and_warns_about_local_execution(alice_client):
    html = alice_client.get(url("agent_create")).content.decode()
    for explanation in ("Always: a person answers every message",
                        "Terminate: a person is asked at the end or at the auto-reply limit",
                        "Never: the agent always replies by itself"):
        assert explanation in html
    assert "runs the code on the worker host" in html and 'class="warning local-warning"' in html
    assert 'name="tools"' in html and "New tool" in html


def test_create_with_every_field(alice_client, alice):
    model = replay_model(workspace_of(alice), alice, name="Script")
    response = alice_client.post(url("agent_create"), agent_form(
        name="coder", kind="assistant", description="Writes code", system_message="You write Python.",
        model=str(model.public_id), human_input_mode="TERMINATE", max_consecutive_auto_reply="4",
        termination_rule="ends_with", termination_keyword="DONE", default_auto_reply="Go on.",
        code_execution="docker", code_timeout="30", local_fallback="on", tools=[ADD_TOOL, ""]))
    agent = AgentDef.objects.get(name="coder")
    assert response.status_code == 302 and response["Location"] == url("agent_edit", agent.public_id)
    assert (agent.model, agent.human_input_mode, agent.max_consecutive_auto_reply) == (model, "TERMINATE", 4)
    assert (agent.termination_rule, agent.termination_keyword, agent.default_auto_reply) == ("ends_with", "DONE", "Go on.")
    assert (agent.code_execution, agent.code_timeout, agent.local_fallback) == ("docker", 30, True)
    assert agent.tools == [ADD_TOOL] and agent.created_by == alice
    assert agent.versions.count() == 1
    page = alice_client.get(response["Location"]).content.decode()
    assert "def add(a: int, b: int = 2) -&gt; int:" in page  # the tool's source, escaped, in its own box


def test_field_errors_in_words_keep_what_was_typed(alice_client, alice):
    make_agent(workspace_of(alice), alice, name="taken")
    cases = {
        "taken": "There is already an agent named “taken” in this workspace.",
        "2fast": "Use letters, digits and underscores only, not starting with a digit (e.g. code_writer).",
        "chat_manager": "“chat_manager” is the name of an agent Parley adds itself; choose another.",
    }
    for name, message in cases.items():
        response = alice_client.post(url("agent_create"), agent_form(name=name, system_message="Keep <this> text"))
        html = response.content.decode()
        assert response.status_code == 200 and message in errors_in(html)
        assert "Keep &lt;this&gt; text" in html  # typed text stays, escaped
    response = alice_client.post(url("agent_create"), agent_form(
        name="tooly", termination_rule="contains", termination_keyword=" ", tools=["def broken(:\n"]))
    errors = errors_in(response.content.decode())
    assert "Give the keyword that ends the chat (for example TERMINATE)." in errors
    assert any(error.startswith("Tool 1:") for error in errors)
    assert AgentDef.objects.count() == 1


def test_a_change_that_breaks_a_crew_is_refused_naming_the_crew(alice_client, alice):
    ws = workspace_of(alice)
    human = make_agent(ws, alice, name="human", kind="user_proxy", human_input_mode="ALWAYS")
    helper = make_agent(ws, alice, name="helper")
    group_crew(ws, alice, [human, helper], name="Picked by hand", speaker_selection="manual")
    response = alice_client.post(url("agent_edit", human.public_id), agent_form(
        name="human", kind="user_proxy", human_input_mode="NEVER"))
    html = response.content.decode()
    assert response.status_code == 200
    assert any(error.startswith("Crew “Picked by hand”: Manual selection needs a member that takes human input")
               for error in errors_in(html))
    assert AgentDef.objects.get(pk=human.pk).human_input_mode == "ALWAYS"


def test_delete_asks_for_confirmation_naming_the_crews(alice_client, alice):
    ws = workspace_of(alice)
    a, b, c = (make_agent(ws, alice, name=name) for name in ("alpha", "beta", "gamma"))
    group_crew(ws, alice, [a, b, c], name="Trio <one>")
    group_crew(ws, alice, [a, c], name="Duo")
    page = alice_client.get(url("agent_delete", a.public_id)).content.decode()
    assert "Delete the agent alpha?" in page
    assert "Trio &lt;one&gt;" in page and "Duo" in page and "These crews use alpha" in page
    assert AgentDef.objects.filter(pk=a.pk).exists()  # asking deletes nothing
    response = alice_client.post(url("agent_delete", a.public_id))
    assert response.status_code == 302 and response["Location"] == url("agent_list")
    assert not AgentDef.objects.filter(pk=a.pk).exists()
    assert [m.name for m in Crew.objects.get(name="Trio <one>").ordered_members()] == ["beta", "gamma"]
    notice = alice_client.get(url("agent_list")).content.decode()
    assert "Deleted the agent alpha. It was removed from “Duo”, “Trio &lt;one&gt;”." in notice


def test_list_shows_local_execution_and_htmx_gets_the_table_only(alice_client, alice):
    make_agent(workspace_of(alice), alice, name="risky", kind="user_proxy", human_input_mode="NEVER",
               code_execution="local")
    page = alice_client.get(url("agent_list")).content.decode()
    assert "risky" in page and "Runs code on the worker host" in page and "<html" in page
    partial = alice_client.get(url("agent_list"), **HTMX).content.decode()
    assert partial.lstrip().startswith('<div id="agent-table">') and "<html" not in partial and "risky" in partial
