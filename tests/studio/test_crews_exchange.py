"""Parley's crew format: export without keys, import with clash handling, round trip, bad input."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError

from studio.crews import services
from studio.crews.exchange import copy_crew_to_workspace, import_crew, import_file, load_document
from studio.crews.models import AgentDef, Crew, ModelEndpoint, Version
from studio.crews.snapshots import content, export_agent, export_crew
from tests.studio.crews_support import (
    ADD_TOOL,
    SECRET,
    group_crew,
    make_agent,
    make_model,
    replay_model,
    workspace_of,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def group(alice):
    """A group crew using every kind of setting the format carries."""
    ws = workspace_of(alice)
    gpt = make_model(ws, alice, name="GPT", temperature=0.2, max_tokens=500, price_prompt_per_million="0.15",
                     price_completion_per_million="0.6")
    replay = replay_model(ws, alice, name="Script", replies=["hello", {"content": "bye"}])
    planner = make_agent(ws, alice, name="planner", model=gpt, system_message="Plan it.\nCarefully.",
                         description="Plans", termination_rule="ends_with", termination_keyword="DONE",
                         max_consecutive_auto_reply=4, tools=[ADD_TOOL])
    coder = make_agent(ws, alice, name="coder", model=replay, default_auto_reply="ok")
    runner = make_agent(ws, alice, name="runner", kind="user_proxy", human_input_mode="TERMINATE",
                        code_execution="docker", code_timeout=30, local_fallback=True)
    return group_crew(ws, alice, [runner, planner, coder], name="Builders", description="Builds things",
                      tags=["code", "team"], task="Build a thing", speaker_selection="manual", max_round=7,
                      allow_repeat_speaker=False, send_introductions=True, manager_model=gpt,
                      termination_rule="contains", termination_keyword="FINISHED",
                      transitions=[(runner, planner), (planner, coder), (coder, runner), (coder, planner)])


def test_export_holds_everything_but_keys(alice, group):
    document = export_crew(group)
    text = json.dumps(document)
    assert SECRET not in text and "api_key" not in text and "gAAAA" not in text
    assert document["format"] == "parley.crew" and document["version"] == 1
    assert [a["name"] for a in document["agents"]] == ["runner", "planner", "coder"]
    gpt = next(m for m in document["models"] if m["name"] == "GPT")
    assert gpt == {"name": "GPT", "provider": "openai", "model": "gpt-test", "base_url": None, "temperature": 0.2,
                   "max_tokens": 500, "price": {"prompt_per_million": 0.15, "completion_per_million": 0.6},
                   "replay_script": None}
    assert document["crew"]["group"]["transitions"] == {"coder": ["planner", "runner"], "planner": ["coder"],
                                                        "runner": ["planner"]}
    assert document["crew"]["group"]["speaker_selection"] == "manual"
    assert SECRET not in json.dumps(export_agent(AgentDef.objects.get(name="planner")))
    stored_versions = list(Version.objects.values_list("snapshot", flat=True))
    assert len(stored_versions) == 4 and SECRET not in json.dumps(stored_versions)  # 3 agents + the crew


def test_round_trip_into_another_workspace_is_equal(alice, bob, group):
    exported = export_crew(group)
    result = import_crew(workspace_of(bob), user=bob, data=json.dumps(exported).encode())
    assert result.renamed == [] and result.reused == [] and result.needs_key == ["GPT"]
    again = export_crew(result.crew)
    assert content(again) == content(exported)
    assert again["source"]["workspace"] == str(workspace_of(bob).public_id)
    # Keys never travel: bob's copy of the model has none until he sets one.
    assert not ModelEndpoint.objects.get(workspace=workspace_of(bob), name="GPT").has_key
    assert result.crew.versions.first().summary == "Imported"


def test_import_into_the_same_workspace_reuses_identical_parts_and_renames_the_crew(alice, group):
    exported = export_crew(group)
    result = import_crew(workspace_of(alice), user=alice, data=exported)
    assert result.crew.name == "Builders (2)"
    assert result.renamed == ["The crew “Builders” was imported as “Builders (2)” (the name was taken)."]
    assert len(result.reused) == 5  # two models, three agents, all identical
    assert ModelEndpoint.objects.filter(workspace=workspace_of(alice)).count() == 2

    planner = AgentDef.objects.get(workspace=workspace_of(alice), name="planner")
    planner.system_message = "Something else now."
    services.save_agent(planner, user=alice)
    third = import_crew(workspace_of(alice), user=alice, data=exported)  # planner now differs from the file
    assert "Agent planner was imported as planner_2 (the name was taken)." in third.renamed
    assert [a.name for a in third.crew.ordered_members()] == ["runner", "planner_2", "coder"]
    exported = export_crew(third.crew)
    assert exported["crew"]["group"]["transitions"]["planner_2"] == ["coder"]
    assert any("Imported crew “Builders (3)”." == line for line in third.messages())


def test_copy_to_workspace(alice, bob, group):
    result = copy_crew_to_workspace(group, workspace_of(bob), user=bob)
    assert result.crew.workspace == workspace_of(bob) and result.crew.name == "Builders"
    assert Crew.objects.filter(name="Builders").count() == 2


@pytest.mark.parametrize("data, message", [
    (b"\xff\xfe\x00", "not text"),
    ("", "empty"),
    ("{not json", "not valid JSON (line 1, column 2"),
    ("[1, 2]", "one JSON object"),
    ('{"format": "something.else", "version": 1}', "not a Parley crew file"),
    ('{"format": "parley.crew", "version": 9}', "version 1 of this format; the file says 9"),
    ('{"provider": "x.Team", "component_type": "team", "config": {}}', "AutoGen Studio component"),
])
def test_bad_files_are_refused_in_words(alice, data, message):
    with pytest.raises(ValidationError) as excinfo:
        import_crew(workspace_of(alice), user=alice, data=data)
    assert message in excinfo.value.message_dict["document"][0]
    assert not Crew.objects.exists()


def test_shape_errors_name_the_place(alice, group):
    document = export_crew(group)
    document["agents"][1]["kind"] = "robot"
    document["agents"][2]["model"] = "Missing"
    document["crew"]["group"]["members"].append("ghost")
    document["models"][0]["temperature"] = "hot"
    with pytest.raises(ValidationError) as excinfo:
        load_document(document)
    errors = excinfo.value.message_dict["document"]
    assert "agent 2: “kind” is 'robot'; it must be one of assistant, user_proxy, conversable." in errors
    assert "agent 'coder' uses model 'Missing', which is not in the file." in errors
    assert "crew group: member 'ghost' is not one of the agents in the file." in errors
    assert any("“temperature” must be" in e for e in errors)


def test_rules_broken_inside_a_file_are_reported_and_nothing_is_created(alice, group):
    document = export_crew(group)
    document["crew"]["group"]["members"] = ["runner"]
    document["crew"]["group"]["transitions"] = None
    document["agents"][0]["name"] = "bad name"
    document["crew"]["group"]["members"] = ["bad name"]
    with pytest.raises(ValidationError) as excinfo:
        import_file(workspace_of(alice), user=alice, data=document)
    assert excinfo.value.message_dict["document"][0].startswith("Agent bad name: name: Use letters")
    assert Crew.objects.count() == 1 and AgentDef.objects.count() == 3
