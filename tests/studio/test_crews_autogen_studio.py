"""Importing AutoGen Studio 0.4 team JSON: what maps, what is dropped (and said), and bad input."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError

from studio.crews.autogen_studio import import_autogen_studio
from studio.crews.exchange import import_file
from studio.crews.models import AgentDef, Crew, ModelEndpoint
from studio.crews.snapshots import export_crew
from studio.crews.toolspec import parse_tool
from tests.studio.crews_support import workspace_of

pytestmark = pytest.mark.django_db


def component(provider: str, component_type: str, config: dict, **extra) -> dict:
    return {"provider": provider, "component_type": component_type, "version": 1, "component_version": 1,
            "config": config, **extra}


def openai_client(model: str = "gpt-4o-mini", **config) -> dict:
    return component("autogen_ext.models.openai.OpenAIChatCompletionClient", "model", {"model": model, **config})


def anthropic_client(model: str = "claude-sonnet-4-5", **config) -> dict:
    return component("autogen_ext.models.anthropic.AnthropicChatCompletionClient", "model", {"model": model, **config})


def assistant(name: str, client: dict | None, **config) -> dict:
    return component("autogen_agentchat.agents.AssistantAgent", "agent",
                     {"name": name, "model_client": client, **config}, label="AssistantAgent")


def text_mention(text: str) -> dict:
    return component("autogen_agentchat.conditions.TextMentionTermination", "termination", {"text": text})


def max_messages(n: int) -> dict:
    return component("autogen_agentchat.conditions.MaxMessageTermination", "termination", {"max_messages": n})


def either(*conditions: dict, kind: str = "Or") -> dict:
    return component(f"autogen_agentchat.base.{kind}TerminationCondition", "termination",
                     {"conditions": list(conditions)})


MULTIPLY_SOURCE = "def multiply(x: float, y: float) -> float:\n    return x * y\n"


def round_robin_team() -> dict:
    tool = component("autogen_core.tools.FunctionTool", "tool",
                     {"source_code": MULTIPLY_SOURCE, "name": "multiply", "description": "Multiply two numbers.",
                      "global_imports": ["math", {"module": "typing", "imports": ["Optional"]}]})
    return component(
        "autogen_agentchat.teams.RoundRobinGroupChat", "team",
        {
            "participants": [
                assistant("writer", openai_client(temperature=0.3, api_key="sk-from-the-file"),
                          system_message="You write short poems.", description="Writes", tools=[tool],
                          handoffs=["critic"], reflect_on_tool_use=False),
                assistant("critic", anthropic_client(max_tokens=800), system_message="You critique poems."),
                component("autogen_agentchat.agents.UserProxyAgent", "agent",
                          {"name": "reader", "description": "A person who reads the poem"}),
                component("autogen_ext.agents.web_surfer.MultimodalWebSurfer", "agent", {"name": "surfer"}),
            ],
            "termination_condition": either(text_mention("APPROVE"), max_messages(12),
                                            component("autogen_agentchat.conditions.TimeoutTermination",
                                                      "termination", {"timeout_seconds": 60})),
        },
        label="Poetry circle", description="Writer and critic take turns.",
    )


def test_round_robin_team_maps_and_lists_what_it_dropped(alice):
    result = import_autogen_studio(workspace_of(alice), user=alice, data=json.dumps(round_robin_team()))
    crew = result.crew
    assert (crew.name, crew.kind, crew.speaker_selection, crew.max_round) == ("Poetry circle", "group", "round_robin", 12)
    assert (crew.termination_rule, crew.termination_keyword) == ("contains", "APPROVE")
    assert [a.name for a in crew.ordered_members()] == ["writer", "critic", "reader", "tool_runner"]
    assert AgentDef.objects.get(name="tool_runner").code_execution == "docker"
    assert any("tool_runner" in note for note in result.notes)
    assert crew.initiator.name == "user" and crew.initiator.human_input_mode == "NEVER"  # sends the task only

    writer = AgentDef.objects.get(workspace=workspace_of(alice), name="writer")
    assert writer.system_message == "You write short poems." and writer.model.provider == "openai"
    assert writer.model.temperature == 0.3 and not writer.model.has_key
    spec = parse_tool(writer.tools[0])
    assert spec.name == "multiply" and spec.description == "Multiply two numbers."
    assert writer.tools[0].startswith("import math\nfrom typing import Optional\n")
    critic = AgentDef.objects.get(workspace=workspace_of(alice), name="critic")
    assert (critic.model.provider, critic.model.model, critic.model.max_tokens) == ("anthropic", "claude-sonnet-4-5", 800)
    reader = AgentDef.objects.get(workspace=workspace_of(alice), name="reader")
    assert (reader.kind, reader.human_input_mode) == ("user_proxy", "ALWAYS")

    dropped = "\n".join(result.dropped)
    assert "agent surfer (MultimodalWebSurfer)" in dropped
    assert "the API key in writer's model client" in dropped
    assert "the handoffs setting of writer" in dropped
    assert "TimeoutTermination" in dropped
    assert "sk-from-the-file" not in json.dumps(export_crew(crew))
    assert set(result.needs_key) == {"gpt-4o-mini", "claude-sonnet-4-5"}
    assert "Not imported: agent surfer (MultimodalWebSurfer): Parley has assistants, user proxies and code executors only." \
        in result.messages()


def test_selector_team_with_and_condition_and_code_executor(alice):
    team = component(
        "autogen_agentchat.teams.SelectorGroupChat", "team",
        {
            "participants": [
                assistant("analyst", openai_client()),
                component("autogen_agentchat.agents.CodeExecutorAgent", "agent", {
                    "name": "executor",
                    "code_executor": component("autogen_ext.code_executors.local.LocalCommandLineCodeExecutor",
                                               "code_executor", {"timeout": 30})}),
            ],
            "model_client": openai_client("gpt-4o"),
            "termination_condition": either(text_mention("DONE"), text_mention("STOP"), max_messages(8), kind="And"),
            "selector_prompt": "Pick the next role from {participants}.",
            "allow_repeated_speaker": True,
            "max_turns": 5,
        },
    )
    result = import_file(workspace_of(alice), user=alice, data=json.dumps(team).encode())
    crew = result.crew
    assert (crew.kind, crew.speaker_selection, crew.allow_repeat_speaker) == ("group", "auto", True)
    assert crew.manager_model.model == "gpt-4o" and crew.max_round == 6  # 5 turns + the task message
    assert crew.termination_keyword == "DONE"
    executor = AgentDef.objects.get(workspace=workspace_of(alice), name="executor")
    assert (executor.kind, executor.code_execution, executor.code_timeout) == ("user_proxy", "local", 30)
    dropped = "\n".join(result.dropped)
    assert "the AND in AndTerminationCondition" in dropped
    assert "the extra stop words STOP" in dropped
    assert "the selector prompt" in dropped
    assert crew.name == "SelectorGroupChat"


def test_single_agent_team_becomes_a_two_agent_chat(alice):
    team = component("autogen_agentchat.teams.RoundRobinGroupChat", "team", {
        "participants": [assistant("helper", openai_client(), system_message="Solve tasks. Say TERMINATE when done.",
                                   tools=[component("autogen_core.tools.FunctionTool", "tool",
                                                    {"source_code": MULTIPLY_SOURCE, "description": "Multiply."}),
                                          component("autogen_ext.tools.http.HttpTool", "tool", {"name": "fetch"})])],
        "termination_condition": either(text_mention("TERMINATE"), max_messages(10)),
    }, label="Default Team")
    result = import_autogen_studio(workspace_of(alice), user=alice, data=team)
    crew = result.crew
    assert (crew.kind, crew.initiator.name, crew.recipient.name, crew.max_turns) == ("two_agent", "user", "helper", 5)
    assert (crew.initiator.termination_rule, crew.initiator.termination_keyword) == ("contains", "TERMINATE")
    assert crew.initiator.code_execution == "docker" and len(crew.recipient.tools) == 1  # user runs the tool
    assert any("tool fetch of helper" in item for item in result.dropped)
    assert any("two-agent chat" in note for note in result.notes)
    assert ModelEndpoint.objects.filter(workspace=workspace_of(alice)).count() == 1


@pytest.mark.parametrize("data, message", [
    ("<team/>", "not valid JSON"),
    (component("autogen_agentchat.agents.AssistantAgent", "agent", {"name": "x"}), "Parley imports teams"),
    (component("autogen_agentchat.teams.Swarm", "team", {"participants": []}), "Unknown team type"),
    (component("autogen_agentchat.teams.RoundRobinGroupChat", "team",
               {"participants": [component("my.own.Agent", "agent", {"name": "mine"})]}),
     "no participant Parley can import"),
    ({"component_type": "team"}, "not an AutoGen Studio component"),
])
def test_bad_autogen_studio_input(alice, data, message):
    with pytest.raises(ValidationError) as excinfo:
        import_autogen_studio(workspace_of(alice), user=alice, data=data)
    assert message in excinfo.value.message_dict["document"][0]
    assert not Crew.objects.exists() and not AgentDef.objects.exists()
