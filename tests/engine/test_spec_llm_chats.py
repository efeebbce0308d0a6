"""Assistant <-> user proxy two-agent chats through the real openai and anthropic SDKs against the fake LLM server:
the model's reply reaches the proxy (§1.4, §3.2), ChatResult.cost (§5.3), and the default termination footgun
(§2.2, §10 #1)."""

from __future__ import annotations

import pytest

import workers.agents as autogen
from tests.engine.spec_helpers import contents, history, make_agent, tool_call
from tests.fakellm.rules import count_tokens

MODELS = {"openai": "gpt-test", "anthropic": "claude-test"}


def assistant_for(fake_llm, api_type: str = "openai", name: str = "assistant", **entry) -> autogen.AssistantAgent:
    return autogen.AssistantAgent(name, llm_config=fake_llm.llm_config(model=MODELS[api_type], api_type=api_type,
                                                                       **entry))


def user_proxy(**kwargs) -> autogen.UserProxyAgent:
    kwargs.setdefault("human_input_mode", "NEVER")
    return autogen.UserProxyAgent("user", code_execution_config=False, **kwargs)


def _text(value) -> str:
    """Text of an Anthropic `system` / content value: a str, or a list of blocks."""
    if isinstance(value, str):
        return value
    return "\n".join(block.get("text", "") for block in value or [] if isinstance(block, dict))


@pytest.mark.parametrize("api_type", ["openai", "anthropic"])
def test_llm_assistant_reply_reaches_the_user_proxy(fake_llm, api_type):
    fake_llm.reply("Hello from the model.")
    assistant, user = assistant_for(fake_llm, api_type), user_proxy()
    result = user.initiate_chat(assistant, message="Say hello.", max_turns=1)
    assert contents(result.chat_history) == ["Say hello.", "Hello from the model."]
    assert history(user, assistant)[-1] == {"content": "Hello from the model.", "role": "user", "name": "assistant"}
    assert history(assistant, user)[-1] == {"content": "Hello from the model.", "role": "assistant",
                                            "name": "assistant"}
    (request,) = fake_llm.requests
    assert (request.api, request.model) == (api_type, MODELS[api_type])
    if api_type == "openai":
        assert request.messages == [{"role": "system", "content": assistant.system_message},
                                    {"content": "Say hello.", "role": "user", "name": "user"}]
    else:
        assert _text(request.system) == assistant.system_message
        assert [(m["role"], _text(m["content"])) for m in request.messages] == [("user", "Say hello.")]
        assert all("name" not in m for m in request.messages)


@pytest.mark.parametrize("api_type", ["openai", "anthropic"])
def test_llm_chat_cost_has_per_model_token_counts(fake_llm, api_type):
    fake_llm.reply("Hello from the model.")
    assistant = assistant_for(fake_llm, api_type, price=[1.0, 2.0])
    result = user_proxy().initiate_chat(assistant, message="Say hello.", max_turns=1)
    model = MODELS[api_type]
    prompt = count_tokens(assistant.system_message) + count_tokens("Say hello.")
    completion = count_tokens("Hello from the model.")
    assert set(result.cost) == {"usage_including_cached_inference", "usage_excluding_cached_inference"}
    for usage in result.cost.values():
        assert set(usage) == {"total_cost", model}
        per_model = usage[model]
        assert (per_model["prompt_tokens"], per_model["completion_tokens"], per_model["total_tokens"]) == (
            prompt, completion, prompt + completion)
        assert per_model["cost"] > 0
        assert usage["total_cost"] == pytest.approx(per_model["cost"])


def test_llm_chat_cost_counts_both_participants(fake_llm):
    fake_llm.reply("From A.", model="gpt-a")
    fake_llm.reply("From B.", model="gpt-b")
    a = autogen.AssistantAgent("a", llm_config=fake_llm.llm_config(model="gpt-a"))
    b = autogen.AssistantAgent("b", llm_config=fake_llm.llm_config(model="gpt-b"))
    result = a.initiate_chat(b, message="Start.", max_turns=2)
    assert contents(result.chat_history) == ["Start.", "From B.", "From A.", "From B."]
    usage = result.cost["usage_including_cached_inference"]
    assert set(usage) == {"total_cost", "gpt-a", "gpt-b"}
    assert usage["gpt-a"]["completion_tokens"] == 2
    assert usage["gpt-b"]["completion_tokens"] == 4


def test_llm_done_terminate_does_not_stop_a_default_chat(fake_llm):
    fake_llm.reply("Done. TERMINATE")
    assistant, user = assistant_for(fake_llm), user_proxy(max_consecutive_auto_reply=2)
    result = user.initiate_chat(assistant, message="Do the task.")
    # The assistant's prompt asks for a trailing TERMINATE, but the default predicate wants exactly "TERMINATE":
    # the proxy keeps auto-replying "" until its limit.
    assert contents(result.chat_history) == ["Do the task."] + ["Done. TERMINATE", ""] * 2 + ["Done. TERMINATE"]
    assert len(fake_llm.requests) == 3


def test_llm_exact_terminate_stops_a_default_chat(fake_llm):
    fake_llm.reply("TERMINATE")
    assistant, user = assistant_for(fake_llm), user_proxy(max_consecutive_auto_reply=2)
    result = user.initiate_chat(assistant, message="Do the task.")
    assert contents(result.chat_history) == ["Do the task.", "TERMINATE"]
    assert result.summary == ""
    assert len(fake_llm.requests) == 1


def test_llm_ends_with_terminate_predicate_stops(fake_llm):
    fake_llm.reply("Done. TERMINATE")
    assistant = assistant_for(fake_llm)
    user = user_proxy(max_consecutive_auto_reply=2,
                      is_termination_msg=lambda m: (m.get("content") or "").rstrip().endswith("TERMINATE"))
    result = user.initiate_chat(assistant, message="Do the task.")
    assert contents(result.chat_history) == ["Do the task.", "Done. TERMINATE"]
    assert result.summary == "Done. "


# --- §1.4 what the LLM receives, and the shape of its reply ------------------------------------------------------

def test_1_4_tool_results_are_unrolled_and_a_non_tool_parent_follows(fake_llm):
    fake_llm.reply("noted")
    assistant = assistant_for(fake_llm)
    call = tool_call("add", {"a": 1, "b": 2}, "call_1")
    messages = [
        {"content": "Add 1 and 2.", "role": "user", "name": "user"},
        {"content": None, "role": "assistant", "tool_calls": [call]},
        # A human answer to a tool call: role user, with USER INTERRUPTED tool responses (§4.2).
        {"content": "stop that", "role": "user", "name": "user",
         "tool_responses": [{"role": "tool", "tool_call_id": "call_1", "content": "USER INTERRUPTED"}]},
    ]
    assert assistant.generate_reply(messages=messages, sender=make_agent("user")) == "noted"
    sent = fake_llm.last_request.messages
    assert sent[0] == {"role": "system", "content": assistant.system_message}
    assert sent[1] == {"content": "Add 1 and 2.", "role": "user", "name": "user"}
    assert sent[2]["role"] == "assistant" and sent[2]["tool_calls"] == [call]
    assert sent[3:] == [{"tool_call_id": "call_1", "role": "tool", "content": "USER INTERRUPTED"},
                        {"content": "stop that", "role": "user", "name": "user"}]


@pytest.mark.parametrize(("templating", "expected"), [(True, "Hello Ada"), (False, "Hello {name}")])
def test_1_4_context_is_taken_from_the_stored_message_and_fills_templates(fake_llm, templating, expected):
    fake_llm.reply("ok")
    config = {**fake_llm.llm_config(), "allow_format_str_template": templating}
    assistant = autogen.AssistantAgent("assistant", llm_config=config)
    user = make_agent("user")
    user.send({"content": "Hello {name}", "context": {"name": "Ada"}}, assistant, request_reply=True)
    assert fake_llm.last_request.messages[-1]["content"] == expected
    stored = history(assistant, user)[0]
    assert stored["content"] == "Hello {name}"
    assert "context" not in stored  # removed from the stored last message


def test_1_4_callable_content_is_called_with_the_context(fake_llm):
    fake_llm.reply("ok")
    assistant = autogen.AssistantAgent("assistant", llm_config=fake_llm.llm_config(),
                                       is_termination_msg=lambda m: False)
    user = make_agent("user")
    user.send({"content": lambda context: f"Hi {context['name']}", "context": {"name": "Ada"}}, assistant,
              request_reply=True, silent=True)
    assert fake_llm.last_request.messages[-1]["content"] == "Hi Ada"
    assert "context" not in history(assistant, user)[0]


def test_1_4_model_reply_shapes_and_tool_name_sanitising(fake_llm):
    fake_llm.reply("plain text", call=0)
    fake_llm.reply(tool_calls=[{"name": "my.tool name", "arguments": {"x": 1}, "id": "call_7"},
                               {"name": "t" * 70, "arguments": {}, "id": "call_8"}])
    assistant, user = assistant_for(fake_llm), make_agent("user")
    assert assistant.generate_reply(messages=[{"content": "say", "role": "user"}], sender=user) == "plain text"
    reply = assistant.generate_reply(messages=[{"content": "call", "role": "user"}], sender=user)
    assert reply["role"] == "assistant" and reply["content"] is None
    assert [c["function"]["name"] for c in reply["tool_calls"]] == ["my_tool_name", "t" * 64]
    assert [c["id"] for c in reply["tool_calls"]] == ["call_7", "call_8"]
    assert reply["tool_calls"][0]["function"]["arguments"] == '{"x": 1}'
