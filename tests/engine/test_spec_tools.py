"""Spec §7: tools and function calling. Schema building, execution and its errors, legacy function_call, and a tool
chat end to end through the real openai and anthropic SDKs against the fake LLM server."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import pytest
from pydantic import BaseModel

import workers.agents as autogen
from tests.engine.spec_helpers import contents, history, make_agent, scripted, tool_call, tool_call_message

UNUSED_LLM = {"config_list": [{"model": "gpt-test", "api_key": "test-key", "base_url": "http://127.0.0.1:9/v1"}]}
SPEC_SCHEMA = {
    "type": "function",
    "function": {
        "description": "Add two numbers",
        "name": "add",
        "parameters": {
            "type": "object",
            "properties": {"a": {"type": "integer", "description": "first"},
                           "b": {"type": "integer", "default": 2, "description": "b"}},
            "required": ["a"],
        },
    },
}


def add(a: Annotated[int, "first"], b: int = 2) -> int:
    return a + b


def caller() -> autogen.ConversableAgent:
    return make_agent("caller", llm_config=UNUSED_LLM)


def run_calls(executor, *calls, sender=None):
    """The executor's reply to one LLM message carrying `calls`."""
    return executor.generate_reply(messages=[tool_call_message(*calls)], sender=sender or make_agent("caller"))


# --- register_for_llm --------------------------------------------------------------------------------------------

def test_7_register_for_llm_builds_the_spec_schema():
    agent = caller()
    agent.register_for_llm(description="Add two numbers")(add)
    assert agent.llm_config["tools"] == [SPEC_SCHEMA]


def test_7_register_for_llm_with_a_name():
    agent = caller()
    agent.register_for_llm(name="plus", description="Add two numbers")(add)
    assert [tool["function"]["name"] for tool in agent.llm_config["tools"]] == ["plus"]


def test_7_register_for_llm_replaces_a_same_named_tool_with_a_warning():
    agent = caller()
    agent.register_for_llm(description="Add two numbers")(add)
    with pytest.warns(UserWarning):
        agent.register_for_llm(description="Add, once more")(add)
    (tool,) = agent.llm_config["tools"]
    assert tool["function"]["description"] == "Add, once more"


def test_7_register_for_llm_function_api_style_uses_the_functions_key():
    agent = caller()
    agent.register_for_llm(description="Add two numbers", api_style="function")(add)
    assert agent.llm_config["functions"] == [SPEC_SCHEMA["function"]]
    assert not agent.llm_config.get("tools")


def test_7_register_for_llm_without_llm_config_raises():
    with pytest.raises(AssertionError):
        make_agent("no_llm").register_for_llm(description="Add two numbers")(add)


# --- register_for_execution, register_function -------------------------------------------------------------------

class Point(BaseModel):
    x: int
    y: int


@pytest.mark.parametrize(
    ("value", "expected"),
    [("text", "text"), ({"a": 1}, "{'a': 1}"), (42, "42"), ([1, 2], "[1, 2]"), (None, "None"),
     (Point(x=1, y=2), Point(x=1, y=2).model_dump_json())],
    ids=["str", "dict", "int", "list", "none", "pydantic"],
)
def test_7_register_for_execution_converts_results_to_str(value, expected):
    executor = make_agent("executor")

    def produce() -> object:
        return value

    executor.register_for_execution()(produce)
    assert "produce" in executor.function_map
    reply = run_calls(executor, tool_call("produce", {}))
    assert reply["tool_responses"][0]["content"] == expected
    assert reply["content"] == expected


def test_7_register_for_execution_with_a_name():
    executor = make_agent("executor")
    executor.register_for_execution(name="plus")(add)
    assert run_calls(executor, tool_call("plus", {"a": 1}))["content"] == "3"


def test_7_plain_function_map_values_stay_raw_in_the_reply():
    caller_agent = make_agent("caller")
    executor = make_agent("executor", function_map={"produce": lambda: {"a": 1}})
    reply = run_calls(executor, tool_call("produce", {}), sender=caller_agent)
    assert reply["tool_responses"][0]["content"] == {"a": 1}
    assert reply["content"] == "{'a': 1}"
    executor.send(reply, caller_agent)  # the history stringifies it
    assert history(caller_agent, executor)[-1]["tool_responses"][0]["content"] == "{'a': 1}"


def test_7_register_function_does_both():
    agent, executor = caller(), make_agent("executor")
    autogen.register_function(add, caller=agent, executor=executor, name="add", description="Add two numbers")
    assert agent.llm_config["tools"] == [SPEC_SCHEMA]
    assert run_calls(executor, tool_call("add", {"a": 2}))["content"] == "4"


# --- the tool_calls reply ----------------------------------------------------------------------------------------

def echo(text: str) -> str:
    return text


def test_7_tool_calls_reply_shape():
    executor = make_agent("executor", function_map={"echo": echo})
    reply = run_calls(executor, tool_call("echo", {"text": "one"}, "call_1"), tool_call("echo", {"text": "two"}, "call_2"))
    assert reply == {
        "role": "tool",
        "tool_responses": [{"tool_call_id": "call_1", "role": "tool", "content": "one"},
                           {"tool_call_id": "call_2", "role": "tool", "content": "two"}],
        "content": "one\n\ntwo",
    }


def test_7_multi_tool_call_echo_example():
    executor = make_agent("user_proxy", function_map={"echo": echo})
    reply = run_calls(executor,
                      tool_call("echo", {"text": "hello world"}, "call_1"),
                      tool_call("echo", {"text": "goodbye and thanks for all the fish"}, "call_2"),
                      tool_call("multi_tool_call_echo", {"text": "x"}, "call_3"))
    assert reply["content"] == ("hello world\n\ngoodbye and thanks for all the fish\n\n"
                                "Error: Function multi_tool_call_echo not found.")
    assert [r["tool_call_id"] for r in reply["tool_responses"]] == ["call_1", "call_2", "call_3"]


def test_7_any_agent_answers_tool_calls_even_without_functions():
    reply = run_calls(make_agent("plain"), tool_call("echo", {"text": "x"}))
    assert reply["content"] == "Error: Function echo not found."


def test_7_bad_json_arguments_become_an_error_message():
    try:
        json.loads("not json")
    except json.JSONDecodeError as error:
        decode_error = str(error)
    reply = run_calls(make_agent("executor", function_map={"echo": echo}), tool_call("echo", "not json"))
    assert reply["content"] == f"Error: {decode_error}\n The argument must be in JSON format."


def test_7_exceptions_become_an_error_message():
    def explode(text: str) -> str:
        raise ValueError("boom")

    reply = run_calls(make_agent("executor", function_map={"explode": explode}), tool_call("explode", {"text": "x"}))
    assert reply["content"] == "Error: boom"


def test_7_newlines_and_tabs_in_arguments_are_repaired():
    raw = '{\n"text": "line1\nline2\tend"\n}'  # raw newlines and a tab: not valid JSON as sent
    reply = run_calls(make_agent("executor", function_map={"echo": echo}), tool_call("echo", raw))
    assert reply["content"] == "line1\nline2\tend"


def test_7_calls_run_sequentially_in_order():
    order: list[str] = []

    def record(text: str) -> str:
        order.append(text)
        return text

    reply = run_calls(make_agent("executor", function_map={"record": record}),
                      *(tool_call("record", {"text": t}, f"call_{t}") for t in ("a", "b", "c")))
    assert order == ["a", "b", "c"]
    assert reply["content"] == "a\n\nb\n\nc"


def test_7_async_tool_functions_run_in_a_sync_chat():
    async def shout(text: str) -> str:
        await asyncio.sleep(0)
        return text.upper()

    executor = make_agent("executor", function_map={"shout": shout})
    assert run_calls(executor, tool_call("shout", {"text": "hi"}))["content"] == "HI"
    the_caller = scripted(make_agent("caller"), tool_call_message(tool_call("shout", {"text": "in chat"})))
    result = executor.initiate_chat(the_caller, message="go", max_turns=2)
    assert result.chat_history[2]["content"] == "IN CHAT"


def test_7_a_call_without_id_gives_a_response_without_tool_call_id():
    reply = run_calls(make_agent("executor", function_map={"echo": echo}), tool_call("echo", {"text": "x"}, None))
    assert reply["tool_responses"] == [{"role": "tool", "content": "x"}]


def test_7_a_none_result_becomes_empty():
    reply = run_calls(make_agent("executor", function_map={"nothing": lambda: None}), tool_call("nothing", {}))
    assert reply["tool_responses"][0]["content"] == ""
    assert reply["content"] == ""


def test_7_only_the_last_message_is_looked_at():
    called: list[str] = []
    executor = make_agent("executor", default_auto_reply="no tools ran",
                          function_map={"echo": lambda text: called.append(text) or text})
    messages = [tool_call_message(tool_call("echo", {"text": "old"})), {"content": "later", "role": "user"}]
    assert executor.generate_reply(messages=messages, sender=make_agent("caller")) == "no tools ran"
    assert called == []


def test_7_tool_result_in_a_chat_is_stored_as_a_tool_message():
    executor = make_agent("executor", function_map={"add": add})
    the_caller = make_agent("caller")
    result = the_caller.initiate_chat(executor, message=tool_call_message(tool_call("add", {"a": 2, "b": 3})),
                                      max_turns=1)
    expected = {"content": "5", "tool_responses": [{"tool_call_id": "call_1", "role": "tool", "content": "5"}],
                "role": "tool", "name": "executor"}
    assert result.chat_history[1] == expected
    assert history(executor, the_caller)[1] == expected


# --- legacy function_call ----------------------------------------------------------------------------------------

def _add_num_agent() -> autogen.ConversableAgent:
    state = {"total": 10}

    def add_num(num_to_be_added: int) -> int:
        state["total"] += num_to_be_added
        return state["total"]

    return make_agent("executor", function_map={"add_num": add_num})


ADD_NUM_CALL = {"role": "assistant", "content": None,
                "function_call": {"name": "add_num", "arguments": '{"num_to_be_added": 5}'}}


def test_7_legacy_function_call_reply_keeps_the_raw_value():
    reply = _add_num_agent().generate_reply(messages=[ADD_NUM_CALL], sender=make_agent("caller"))
    assert reply == {"name": "add_num", "role": "function", "content": 15}


def test_7_legacy_function_call_history_stores_a_string():
    executor, the_caller = _add_num_agent(), make_agent("caller")
    result = the_caller.initiate_chat(executor, message=dict(ADD_NUM_CALL), max_turns=1)
    expected = {"content": "15", "name": "add_num", "role": "function"}
    assert result.chat_history[1] == expected
    assert history(executor, the_caller)[1] == expected


# --- end to end through the real SDKs ----------------------------------------------------------------------------

def _text(value) -> str:
    """Text of an Anthropic `system` / content value: a str, or a list of blocks."""
    if isinstance(value, str):
        return value
    return "\n".join(block.get("text", "") for block in value or [] if isinstance(block, dict))


def _tool_chat(fake_llm, api_type: str, model: str, call_id: str):
    fake_llm.reply(tool_calls=[{"name": "add", "arguments": {"a": 2, "b": 3}, "id": call_id}], call=0)
    fake_llm.reply("The sum is 5. TERMINATE")
    assistant = autogen.AssistantAgent("assistant", llm_config=fake_llm.llm_config(model=model, api_type=api_type))
    user = autogen.UserProxyAgent(
        "user", human_input_mode="NEVER", code_execution_config=False, max_consecutive_auto_reply=5,
        is_termination_msg=lambda m: (m.get("content") or "").rstrip().endswith("TERMINATE"),
    )
    autogen.register_function(add, caller=assistant, executor=user, description="Add two numbers")
    result = user.initiate_chat(assistant, message="What is 2 + 3?")
    # Common to both providers: the transcript in the user's view, and the summary.
    assert contents(result.chat_history) == ["What is 2 + 3?", None, "5", "The sum is 5. TERMINATE"]
    call_message = result.chat_history[1]
    assert call_message["role"] == "assistant" and "name" not in call_message
    (call,) = call_message["tool_calls"]
    assert call["id"] == call_id and call["function"]["name"] == "add"
    assert json.loads(call["function"]["arguments"]) == {"a": 2, "b": 3}
    assert result.chat_history[2] == {"content": "5", "role": "tool", "name": "user",
                                      "tool_responses": [{"tool_call_id": call_id, "role": "tool", "content": "5"}]}
    assert result.summary == "The sum is 5. "
    assert len(fake_llm.requests) == 2
    assert all(r.api == api_type and r.model == model for r in fake_llm.requests)
    return assistant, result


def test_7_tool_chat_end_to_end_openai(fake_llm):
    assistant, _ = _tool_chat(fake_llm, "openai", "gpt-test", "call_1")
    first, second = fake_llm.requests
    assert first.tools == [SPEC_SCHEMA]
    assert second.messages[0] == {"role": "system", "content": assistant.system_message}
    assert second.messages[1] == {"content": "What is 2 + 3?", "role": "user", "name": "user"}
    assert second.messages[2]["tool_calls"][0]["id"] == "call_1"
    # The tool result reaches the model only as the unrolled tool message (§1.4).
    assert second.messages[3:] == [{"tool_call_id": "call_1", "role": "tool", "content": "5"}]


def test_7_tool_chat_end_to_end_anthropic(fake_llm):
    assistant, _ = _tool_chat(fake_llm, "anthropic", "claude-test", "toolu_01")
    first, second = fake_llm.requests
    (tool,) = first.tools
    assert tool["name"] == "add"
    assert tool["input_schema"]["properties"]["a"] == {"type": "integer", "description": "first"}
    assert _text(second.system) == assistant.system_message
    assert [m["role"] for m in second.messages] == ["user", "assistant", "user"]
    assert all("name" not in m for m in second.messages)
    tool_use = [b for b in second.messages[1]["content"] if b.get("type") == "tool_use"]
    assert [(b["id"], b["name"], b["input"]) for b in tool_use] == [("toolu_01", "add", {"a": 2, "b": 3})]
    tool_result = [b for b in second.messages[2]["content"] if b.get("type") == "tool_result"]
    assert [b["tool_use_id"] for b in tool_result] == ["toolu_01"]
    assert _text(tool_result[0]["content"]) == "5"
