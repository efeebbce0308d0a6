"""Crews: encrypted API keys, field validation in words, crew rules, membership and reordering."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from studio.crews import services
from studio.crews.fields import SealedSecret, SecretUnreadable, rotate_token, seal
from studio.crews.models import AgentDef, CrewMember, ModelEndpoint
from studio.crews.validation import crew_warnings
from tests.studio.crews_support import (
    ADD_TOOL,
    SECRET,
    group_crew,
    make_agent,
    make_model,
    replay_model,
    two_agent_crew,
    workspace_of,
)

pytestmark = pytest.mark.django_db


def raw_key_column(endpoint: ModelEndpoint) -> str | None:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT api_key FROM {ModelEndpoint._meta.db_table} WHERE id = %s", [endpoint.id])
        return cursor.fetchone()[0]


def errors_of(excinfo: pytest.ExceptionInfo) -> dict[str, list[str]]:
    return excinfo.value.message_dict


# ---- API keys -----------------------------------------------------------------------------------------


def test_api_key_column_holds_ciphertext_and_the_value_never_shows_the_key(alice):
    with CaptureQueriesContext(connection) as queries:  # every statement and its parameters, as logged
        endpoint = make_model(workspace_of(alice), alice)
    assert queries.captured_queries and not any(SECRET in q["sql"] for q in queries.captured_queries)

    stored = raw_key_column(endpoint)
    assert stored and stored.startswith("gAAAA") and SECRET not in stored  # a Fernet token
    fresh = ModelEndpoint.objects.get(pk=endpoint.pk)
    assert isinstance(fresh.api_key, SealedSecret)
    assert fresh.has_key and fresh.reveal_key() == SECRET
    for shown in (repr(fresh), str(fresh), repr(fresh.api_key), str(fresh.api_key), repr(fresh.__dict__)):
        assert SECRET not in shown
    assert "key=set" in repr(fresh)


def test_plain_text_can_never_be_assigned_to_the_key_column(alice):
    endpoint = make_model(workspace_of(alice), alice)
    endpoint.api_key = SECRET
    with pytest.raises(TypeError, match="set_key"), transaction.atomic():
        endpoint.save()
    assert raw_key_column(endpoint).startswith("gAAAA")


def test_key_replace_and_clear(alice):
    endpoint = make_model(workspace_of(alice), alice)
    services.save_model(endpoint, user=alice, api_key="sk-new-key")
    assert ModelEndpoint.objects.get(pk=endpoint.pk).reveal_key() == "sk-new-key"
    services.save_model(endpoint, user=alice, api_key="")  # empty input keeps the stored key
    assert ModelEndpoint.objects.get(pk=endpoint.pk).reveal_key() == "sk-new-key"
    with pytest.raises(ValidationError) as excinfo:  # OpenAI cannot be left without a key
        services.save_model(endpoint, user=alice, clear_key=True)
    assert errors_of(excinfo) == {"api_key": ["OpenAI needs an API key."]}
    endpoint.refresh_from_db()
    compatible = make_model(workspace_of(alice), alice, name="Local", provider="openai_compatible",
                            base_url="http://127.0.0.1:11434/v1", api_key="k")
    services.save_model(compatible, user=alice, clear_key=True)
    assert raw_key_column(compatible) is None and not ModelEndpoint.objects.get(pk=compatible.pk).has_key


def test_key_rotation_new_key_first_old_still_decrypts(alice, settings):
    old_key, new_key = settings.FIELD_ENCRYPTION_KEYS[0], Fernet.generate_key().decode()
    endpoint = make_model(workspace_of(alice), alice)
    old_token = raw_key_column(endpoint)

    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    assert ModelEndpoint.objects.get(pk=endpoint.pk).reveal_key() == SECRET  # old ciphertext still reads
    rotated = rotate_token(old_token)
    assert Fernet(new_key.encode()).decrypt(rotated.encode()).decode() == SECRET
    newly_sealed = seal("sk-other")
    assert Fernet(new_key.encode()).decrypt(newly_sealed.token.encode()) == b"sk-other"  # newest key encrypts

    settings.FIELD_ENCRYPTION_KEYS = [new_key]  # the old key retired: old ciphertext no longer reads
    with pytest.raises(SecretUnreadable, match="set the key again"):
        ModelEndpoint.objects.get(pk=endpoint.pk).reveal_key()
    assert SealedSecret(rotated).reveal() == SECRET


# ---- field validation -------------------------------------------------------------------------------------


def test_model_validation_speaks_in_field_errors(alice):
    workspace = workspace_of(alice)
    make_model(workspace, alice, name="Main")
    with pytest.raises(ValidationError) as excinfo:
        services.create_model(workspace, user=alice, name="Main", provider="openai_compatible", model="",
                              temperature=1.5, max_tokens=0, api_key="k")
    errors = errors_of(excinfo)
    assert "already a model named “Main”" in errors["name"][0]
    assert "base URL" in errors["base_url"][0]
    assert errors["model"] and errors["temperature"] == ["The temperature must be between 0 and 1."]
    assert errors["max_tokens"] == ["Max tokens must be at least 1."]
    with pytest.raises(ValidationError) as excinfo:
        services.create_model(workspace, user=alice, name="Claude", provider="anthropic", model="claude-x")
    assert errors_of(excinfo) == {"api_key": ["Anthropic needs an API key."]}
    with pytest.raises(ValidationError) as excinfo:
        replay_model(workspace, alice, replies="not a list")
    assert "“replies” must be a list" in errors_of(excinfo)["replay_script"][0]
    assert ModelEndpoint.objects.filter(workspace=workspace).count() == 1


def test_agent_validation(alice, bob):
    workspace = workspace_of(alice)
    make_agent(workspace, alice, name="coder")
    cases = [
        ({"name": "coder"}, "name", "already an agent named “coder”"),
        ({"name": "2fast"}, "name", "letters, digits and underscores"),
        ({"name": "class"}, "name", "letters, digits and underscores"),
        ({"name": "chat_manager"}, "name", "Parley adds itself"),
        ({"name": "t", "termination_rule": "contains", "termination_keyword": " "}, "termination_keyword", "keyword"),
        ({"name": "t", "code_timeout": 0}, "code_timeout", "between 1 and 3600"),
        ({"name": "t", "tools": ["def broken(:"]}, "tools", "not valid Python"),
        ({"name": "t", "tools": [ADD_TOOL]}, "model", "needs a model"),
        ({"name": "t", "model": make_model(workspace_of(bob), bob)}, "model", "this workspace"),
    ]
    for fields, field, text in cases:
        with pytest.raises(ValidationError) as excinfo:
            make_agent(workspace, alice, **fields)
        assert text in " ".join(errors_of(excinfo)[field]), fields
    # Kind defaults follow the engine: a user proxy asks its human by default.
    assert make_agent(workspace, alice, name="proxy", kind="user_proxy").human_input_mode == "ALWAYS"
    assert AgentDef.objects.filter(workspace=workspace).count() == 2


# ---- crew rules ---------------------------------------------------------------------------------------------


@pytest.fixture
def cast(alice):
    workspace = workspace_of(alice)
    model = make_model(workspace, alice)
    return {
        "workspace": workspace,
        "model": model,
        "planner": make_agent(workspace, alice, name="planner", model=model),
        "coder": make_agent(workspace, alice, name="coder", model=model),
        "runner": make_agent(workspace, alice, name="runner", kind="user_proxy", human_input_mode="NEVER",
                             code_execution="local"),
        "human": make_agent(workspace, alice, name="human", kind="user_proxy", human_input_mode="ALWAYS"),
    }


def test_group_chat_rules(alice, cast):
    ws, planner, coder, runner = cast["workspace"], cast["planner"], cast["coder"], cast["runner"]
    with pytest.raises(ValidationError) as excinfo:
        group_crew(ws, alice, [planner])
    assert errors_of(excinfo)["members"] == ["A group chat needs at least two members (it has 1)."]
    with pytest.raises(ValidationError) as excinfo:
        group_crew(ws, alice, [planner, coder], speaker_selection="auto")
    assert "model for the chat manager" in errors_of(excinfo)["manager_model"][0]
    with pytest.raises(ValidationError) as excinfo:
        group_crew(ws, alice, [planner, coder, runner], speaker_selection="manual")
    assert "takes human input" in errors_of(excinfo)["speaker_selection"][0]
    with pytest.raises(ValidationError) as excinfo:  # runner opens, but nobody may follow it
        group_crew(ws, alice, [runner, planner, coder], transitions=[(planner, coder), (coder, runner)])
    assert "strand the initiator" in errors_of(excinfo)["transitions"][0]
    unreachable = group_crew(ws, alice, [runner, planner, coder], transitions=[(runner, planner), (planner, runner)],
                             name="Loop")
    assert crew_warnings(unreachable) == ["No chain of transitions from runner reaches coder; they will never speak."]

    crew = group_crew(ws, alice, [cast["human"], planner], speaker_selection="manual")
    assert [a.name for a in crew.ordered_members()] == ["human", "planner"]
    # Changing the only human member to NEVER would break the crew: the agent save is refused.
    cast["human"].human_input_mode = "NEVER"
    with pytest.raises(ValidationError) as excinfo:
        services.save_agent(cast["human"], user=alice)
    assert "Crew “Group”: Manual selection needs" in errors_of(excinfo)["__all__"][0]
    assert AgentDef.objects.get(pk=cast["human"].pk).human_input_mode == "ALWAYS"


def test_two_agent_and_tool_rules(alice, cast):
    ws, coder, planner, runner = cast["workspace"], cast["coder"], cast["planner"], cast["runner"]
    with pytest.raises(ValidationError) as excinfo:
        two_agent_crew(ws, alice, coder, coder)
    assert errors_of(excinfo)["recipient"] == ["The initiator and the recipient must be two different agents."]
    with pytest.raises(ValidationError) as excinfo:
        services.create_crew(ws, user=alice, name="Half", kind="two_agent", initiator=coder)
    assert errors_of(excinfo)["recipient"] == ["Choose the agent that answers."]

    coder.tools = [ADD_TOOL]
    services.save_agent(coder, user=alice)
    with pytest.raises(ValidationError) as excinfo:  # nobody with code execution to run coder's tool
        two_agent_crew(ws, alice, planner, coder)
    assert "no other agent has code execution on" in errors_of(excinfo)["members"][0]
    crew = two_agent_crew(ws, alice, runner, coder)
    assert crew.pk and services.crews_using_agent(coder) == [crew]
    with pytest.raises(ValidationError):
        two_agent_crew(ws, alice, runner, coder)  # the same name again


def test_reorder_writes_positions_in_one_update(alice, cast):
    ws = cast["workspace"]
    crew = group_crew(ws, alice, [cast["planner"], cast["coder"], cast["runner"]])
    order = [cast["runner"], cast["planner"], cast["coder"]]
    with CaptureQueriesContext(connection) as queries:
        services.reorder_members(crew, [str(a.public_id) for a in order], user=alice)
    member_updates = [q["sql"] for q in queries if q["sql"].startswith("UPDATE") and CrewMember._meta.db_table in q["sql"]]
    assert len(member_updates) == 1
    assert [a.name for a in crew.ordered_members()] == ["runner", "planner", "coder"]
    assert crew.versions.first().summary == "Reordered members: runner, planner, coder"

    for bad in ([str(cast["runner"].public_id)], [str(a.public_id) for a in order] + [str(order[0].public_id)],
                ["not-an-id", str(order[1].public_id), str(order[2].public_id)]):
        with pytest.raises(ValidationError) as excinfo:
            services.reorder_members(crew, bad, user=alice)
        assert "members" in errors_of(excinfo)
    assert [a.name for a in crew.ordered_members()] == ["runner", "planner", "coder"]


def test_membership_edits_and_deleting_an_agent_names_its_crews(alice, cast):
    ws, planner, coder, runner = cast["workspace"], cast["planner"], cast["coder"], cast["runner"]
    crew = group_crew(ws, alice, [planner, coder], transitions=[(planner, coder), (coder, planner)])
    with pytest.raises(ValidationError) as excinfo:  # first in line, runner would open with no transition out
        services.add_member(crew, runner, user=alice, position=0)
    assert "strand the initiator" in errors_of(excinfo)["transitions"][0]
    services.add_member(crew, runner, user=alice)
    assert [a.name for a in crew.ordered_members()] == ["planner", "coder", "runner"]
    services.set_transitions(crew, [(runner, planner), (planner, coder), (coder, runner)], user=alice)
    services.reorder_members(crew, [str(a.public_id) for a in (runner, planner, coder)], user=alice)
    services.remove_member(crew, runner, user=alice)
    assert [a.name for a in crew.ordered_members()] == ["planner", "coder"]
    assert sorted((t.source.name, t.target.name) for t in crew.transitions.all()) == [("planner", "coder")]

    pair = two_agent_crew(ws, alice, runner, coder, name="Pair")
    assert {c.name for c in services.crews_using_agent(coder)} == {"Group", "Pair"}
    affected = services.delete_agent(coder, user=alice)
    assert {c.name for c in affected} == {"Group", "Pair"}
    pair.refresh_from_db()
    assert pair.recipient is None and pair.versions.first().summary == "Agent coder was deleted"
    assert [a.name for a in crew.ordered_members()] == ["planner"]
