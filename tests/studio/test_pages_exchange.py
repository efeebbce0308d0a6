"""Gallery, import and export pages."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.html import escape

from studio.crews.gallery import load_gallery
from studio.crews.models import AgentDef, Crew, ModelEndpoint
from studio.crews.snapshots import content, export_crew
from tests.studio.crews_support import workspace_of
from tests.studio.pages_support import alice_client, errors_in, studio, url  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


def autogen_team() -> dict:
    def component(provider: str, component_type: str, config: dict) -> dict:
        return {"provider": provider, "component_type": component_type, "version": 1, "config": config}

    client = component("autogen_ext.models.anthropic.AnthropicChatCompletionClient", "model",
                       {"model": "claude-sonnet-4-5", "api_key": "sk-ant-in-the-file"})
    return component("autogen_agentchat.teams.RoundRobinGroupChat", "team", {
        "participants": [
            component("autogen_agentchat.agents.AssistantAgent", "agent", {"name": "scout", "model_client": client}),
            component("autogen_agentchat.agents.AssistantAgent", "agent", {"name": "judge", "model_client": client}),
        ],
        "termination_condition": component("autogen_agentchat.conditions.MaxMessageTermination", "termination",
                                           {"max_messages": 6}),
    })


def test_gallery_lists_the_crews_and_use_copies_one(alice_client, alice):
    load_gallery()
    page = alice_client.get(url("gallery")).content.decode()
    for name in ("Demo (no API key)", "Two-agent coder", "Planner, coder and reviewer", "Researcher, coder and critic"):
        assert name in page
    assert "runs without an API key" in page and "needs a key for GPT-4o mini" in page
    response = alice_client.post(url("gallery_use", "planner-coder-reviewer"))
    crew = Crew.objects.get(workspace=workspace_of(alice), name="Planner, coder and reviewer")
    assert response.status_code == 302 and response["Location"] == url("crew_detail", crew.public_id)
    landing = alice_client.get(response["Location"]).content.decode()
    assert "Imported crew “Planner, coder and reviewer”." in landing
    assert "Model “GPT-4o mini” needs an API key before the crew can run." in landing
    assert "This crew cannot run yet" in landing  # the missing key, on the canvas
    assert alice_client.post(url("gallery_use", "no-such-crew")).status_code == 404


def test_import_a_pasted_autogen_studio_team_lists_what_was_dropped(alice_client, alice):
    response = alice_client.post(url("import"), {"text": json.dumps(autogen_team())}, follow=True)
    html = response.content.decode()
    crew = Crew.objects.get(workspace=workspace_of(alice), name="RoundRobinGroupChat")
    assert response.redirect_chain[-1][0] == url("crew_detail", crew.public_id)
    assert "Not imported: the API key in" in html and "sk-ant-in-the-file" not in html
    assert crew.max_round == 6 and not ModelEndpoint.objects.get(workspace=workspace_of(alice)).has_key


def test_import_refusals_in_words_keep_the_pasted_text(alice_client, alice):
    cases = {
        "{not json": "The file is not valid JSON (line 1, column 2: Expecting property name enclosed in double quotes).",
        json.dumps({"format": "parley.crew", "version": 1, "crew": {"name": "X", "kind": "robot"}, "agents": [],
                    "models": []}): "crew: “kind” is 'robot'; it must be one of two_agent, group.",
        json.dumps({"provider": "autogen_agentchat.teams.Swarm", "component_type": "team", "config": {}}): None,
        "": "Choose a file or paste its JSON.",
    }
    for text, message in cases.items():
        response = alice_client.post(url("import"), {"text": text})
        html = response.content.decode()
        assert response.status_code == 200 and "Nothing was imported." in html
        errors = errors_in(html)
        assert errors and (message is None or message in errors), errors
        assert escape(text) in html  # the pasted text comes back as it was
    assert not Crew.objects.exists()


def test_import_upload_refuses_binary_and_unknown_agent_kinds(alice_client):
    response = alice_client.post(url("import"), {"file": SimpleUploadedFile("crew.json", b"\xff\xfe\x00binary")})
    assert "The file is not text (it should be a .json file)." in errors_in(response.content.decode())
    document = {"format": "parley.crew", "version": 1,
                "crew": {"name": "X", "kind": "two_agent", "two_agent": {"initiator": "a", "recipient": "b"}},
                "agents": [{"name": "a", "kind": "robot"}, {"name": "b"}], "models": []}
    response = alice_client.post(url("import"), {"file": SimpleUploadedFile("crew.json", json.dumps(document).encode())})
    assert "agent 1: “kind” is 'robot'; it must be one of assistant, user_proxy, conversable." in errors_in(
        response.content.decode())


def test_export_downloads_the_crew_file_and_it_imports_back_equal(alice_client, studio):
    response = alice_client.get(url("crew_export", studio.crew.public_id))
    assert response.status_code == 200 and response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"] == 'attachment; filename="builders.parley.json"'
    document = json.loads(response.content)
    assert document["format"] == "parley.crew" and document["crew"]["group"]["members"] == ["planner", "coder"]
    upload = SimpleUploadedFile("builders.parley.json", response.content, content_type="application/json")
    assert alice_client.post(url("import"), {"file": upload}).status_code == 302
    copy = Crew.objects.get(name="Builders (2)")
    again = content(export_crew(copy))
    again["crew"]["name"] = "Builders"
    assert again == content(document)
    assert AgentDef.objects.filter(name="planner").count() == 1  # identical agents are reused


def test_nul_characters_are_refused_in_words_not_stored(alice_client, studio):
    """PostgreSQL stores no NUL character in text or JSON: refuse it in words instead of failing."""
    document = json.dumps({"format": "parley.crew", "version": 1,
                           "crew": {"name": "Nul\u0000crew", "kind": "two_agent",
                                    "two_agent": {"initiator": "a", "recipient": "b"}},
                           "agents": [{"name": "a"}, {"name": "b"}], "models": []})
    for data in ({"text": document}, {"file": SimpleUploadedFile("x.json", document.encode())}):
        response = alice_client.post(url("import"), data)
        assert response.status_code == 200
        assert "The text contains NUL characters (\\u0000), which cannot be stored; remove them." in errors_in(
            response.content.decode())
    response = alice_client.post(url("model_create"), {"name": "Nul", "provider": "replay", "model": "",
                                                       "replay_script": '{"replies": ["a\\u0000b"]}'})
    assert response.status_code == 200 and any("NUL characters" in e for e in errors_in(response.content.decode()))
    response = alice_client.post(url("agent_edit", studio.coder.public_id), {
        "name": "coder", "kind": "assistant", "human_input_mode": "NEVER", "termination_rule": "default",
        "code_execution": "off", "code_timeout": "60", "tools": ["def f(x: int) -> int:\n    '''\x00'''\n"],
        "system_message": "fine"})
    assert response.status_code == 200 and any("NUL characters" in e for e in errors_in(response.content.decode()))
    response = alice_client.post(url("crew_create"), {"name": "Bad\x00name", "kind": "group", "max_round": "5",
                                                      "speaker_selection": "round_robin"})
    assert response.status_code == 200 and errors_in(response.content.decode())
    assert not Crew.objects.filter(name__startswith="Nul").exists()
