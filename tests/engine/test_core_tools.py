"""Tools (§7): schemas from type hints, registration, executing tool calls and legacy function calls."""

from __future__ import annotations

import json
from typing import Annotated, Literal, Optional

import pytest
from pydantic import BaseModel

import workers.agents as autogen
from workers.agents import ConversableAgent
from workers.agents.tools import format_json_str, get_function_schema

REPLAY = {"config_list": [{"api_type": "replay", "model": "replay", "replies": ["ok"]}]}


def caller() -> ConversableAgent:
    return ConversableAgent("caller", llm_config=REPLAY, human_input_mode="NEVER")


def executor(**kwargs) -> ConversableAgent:
    kwargs.setdefault("human_input_mode", "NEVER")
    return ConversableAgent("executor", **kwargs)


def call(name: str, arguments: str | dict, call_id: str | None = "call_1") -> dict:
    args = arguments if isinstance(arguments, str) else json.dumps(arguments)
    entry = {"type": "function", "function": {"name": name, "arguments": args}}
    if call_id is not None:
        entry["id"] = call_id
    return entry


def tool_reply(agent: ConversableAgent, *calls: dict):
    message = {"role": "assistant", "content": None, "tool_calls": list(calls)}
    return agent.generate_tool_calls_reply(messages=[message])


class Point(BaseModel):
    x: int
    y: int = 0


def test_schema_from_hints_annotated_defaults_and_composite_types():
    def plot(
        point: Annotated[Point, "where"],
        label: Optional[str] = None,
        style: Literal["dot", "cross"] = "dot",
        tags: list[str] = [],  # noqa: B006 - only read for its default
    ) -> str:
        return ""

    schema = get_function_schema(plot, description="Plot a point")
    params = schema["function"]["parameters"]
    assert schema["type"] == "function" and schema["function"]["name"] == "plot"
    assert params["required"] == ["point"]
    assert params["properties"]["point"]["description"] == "where"
    assert params["properties"]["point"]["properties"]["x"]["type"] == "integer"
    assert params["properties"]["label"]["anyOf"] == [{"type": "string"}, {"type": "null"}]
    assert params["properties"]["label"]["default"] is None
    assert params["properties"]["style"]["enum"] == ["dot", "cross"]
    assert params["properties"]["tags"] == {"items": {"type": "string"}, "type": "array", "default": [],
                                            "description": "tags"}


def test_schema_needs_type_hints():
    def untyped(a, b: int) -> int:
        return b

    with pytest.raises(TypeError, match="a"):
        get_function_schema(untyped, description="x")


def test_register_for_llm_uses_the_docstring_and_rejects_missing_descriptions():
    agent = caller()

    @agent.register_for_llm()
    def documented(a: int) -> int:
        """Double a number."""
        return 2 * a

    assert agent.llm_config["tools"][0]["function"]["description"] == "Double a number."
    def undocumented(a: int) -> int:
        return a

    with pytest.raises(ValueError, match="description"):
        agent.register_for_llm()(undocumented)
    with pytest.raises(ValueError):
        agent.register_for_llm(description="x", api_style="xml")


def test_register_for_llm_rebuilds_the_client_with_the_tool():
    agent = caller()
    before = agent.client

    @agent.register_for_llm(description="Add.")
    def add(a: int, b: int) -> int:
        return a + b

    assert agent.client is not before
    agent.update_tool_signature("add", is_remove=True)
    assert "tools" not in agent.llm_config


def test_stacked_decorators_share_the_name_and_the_module_function_registers_both():
    llm_side, runner = caller(), executor()

    @runner.register_for_execution()
    @llm_side.register_for_llm(name="sum_two", description="Add two numbers.")
    def add(a: int, b: int) -> int:
        return a + b

    assert "sum_two" in runner.function_map
    assert llm_side.llm_config["tools"][0]["function"]["name"] == "sum_two"

    other_llm, other_runner = caller(), executor()

    def mul(a: int, b: int) -> int:
        return a * b

    autogen.register_function(mul, caller=other_llm, executor=other_runner, description="Multiply.")
    assert tool_reply(other_runner, call("mul", {"a": 6, "b": 7}))[1]["content"] == "42"


def test_tool_calls_run_in_order_with_errors_as_content():
    order = []
    agent = executor()

    @agent.register_for_execution()
    def echo(text: str) -> str:
        order.append(text)
        return text

    @agent.register_for_execution()
    def boom() -> str:
        raise RuntimeError("it broke")

    @agent.register_for_execution()
    def nothing() -> None:
        return None

    final, reply = tool_reply(
        agent,
        call("echo", {"text": "hello world"}, "c1"),
        call("echo", {"text": "goodbye"}, "c2"),
        call("missing_tool", {}, "c3"),
        call("echo", "{not json", "c4"),
        call("boom", {}, "c5"),
        call("nothing", {}, None),
    )
    assert final is True and reply["role"] == "tool"
    contents = [r["content"] for r in reply["tool_responses"]]
    assert contents[:3] == ["hello world", "goodbye", "Error: Function missing_tool not found."]
    assert contents[3].startswith("Error: ") and contents[3].endswith("\n The argument must be in JSON format.")
    assert contents[4] == "Error: it broke"
    assert contents[5] == "None"  # the wrapper turns the None value into text
    assert "tool_call_id" not in reply["tool_responses"][5]
    assert [r.get("tool_call_id") for r in reply["tool_responses"][:5]] == ["c1", "c2", "c3", "c4", "c5"]
    assert reply["content"] == "\n\n".join(contents)
    assert order == ["hello world", "goodbye"]


def test_plain_function_map_values_stay_raw_and_none_becomes_empty():
    agent = executor(function_map={"pair": lambda: {"a": 1}, "void": lambda: None})
    _, reply = tool_reply(agent, call("pair", {}), call("void", {}, "c2"))
    assert reply["tool_responses"][0]["content"] == {"a": 1}
    assert reply["tool_responses"][1]["content"] == ""
    assert reply["content"] == "{'a': 1}\n\n"
    # The history stores text.
    other = executor()
    agent.send(reply, other)
    assert other.chat_messages[agent][-1]["tool_responses"][0]["content"] == "{'a': 1}"


def test_registered_results_are_str_python_repr_and_pydantic_json():
    agent = executor()

    @agent.register_for_execution()
    def as_dict() -> dict:
        return {"a": 1}

    @agent.register_for_execution()
    def move(point: Point) -> Point:
        return Point(x=point.x + 1, y=point.y)

    _, reply = tool_reply(agent, call("as_dict", {}), call("move", {"point": {"x": 1}}, "c2"))
    assert [r["content"] for r in reply["tool_responses"]] == ["{'a': 1}", '{"x":2,"y":0}']


def test_async_tool_runs_in_a_sync_reply():
    agent = executor()

    @agent.register_for_execution()
    async def slow_add(a: int, b: int) -> int:
        return a + b

    assert tool_reply(agent, call("slow_add", {"a": 1, "b": 2}))[1]["content"] == "3"


def test_legacy_function_call_keeps_the_raw_value_in_the_reply():
    state = {"total": 10}

    def add_num(num_to_be_added: int) -> int:
        state["total"] += num_to_be_added
        return state["total"]

    agent = executor(function_map={"add_num": add_num})
    message = {"content": None, "function_call": {"name": "add_num", "arguments": '{"num_to_be_added": 5}'}}
    final, reply = agent.generate_function_call_reply(messages=[message])
    assert (final, reply) == (True, {"name": "add_num", "role": "function", "content": 15})
    assert agent.generate_function_call_reply(messages=[{"content": "no call"}]) == (False, None)


def test_tool_call_chat_round_trip_and_user_interruption():
    agent = executor(human_input_mode="ALWAYS", human_input_provider=autogen.ScriptedInput(["stop that"]))
    asker = ConversableAgent("asker", human_input_mode="NEVER")
    asker.send({"content": None, "tool_calls": [call("f", {}, "c9")]}, agent)
    reply = agent.generate_reply(sender=asker)
    assert reply == {"role": "user", "content": "stop that",
                     "tool_responses": [{"role": "tool", "tool_call_id": "c9", "content": "USER INTERRUPTED"}]}


def test_format_json_str_drops_newlines_between_tokens_and_escapes_them_in_strings():
    raw = '{\n  "code": "print(1)\nprint(2)",\n  "tab": "a\tb"\n}'
    assert json.loads(format_json_str(raw)) == {"code": "print(1)\nprint(2)", "tab": "a\tb"}
