"""The OpenAI provider through the real openai SDK against the fake server over HTTP."""

from __future__ import annotations

import json

import pytest

from workers.agents.llm import LLMClient
from workers.agents.llm.base import PLACEHOLDER_API_KEY

ADD_TOOL = {"type": "function", "function": {
    "name": "add", "description": "Add two numbers",
    "parameters": {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                   "required": ["a", "b"]}}}


def user(text: str) -> list[dict]:
    return [{"role": "system", "content": "You are terse."}, {"role": "user", "content": text, "name": "alice"}]


def test_non_streaming_text_usage_cost_and_model(fake_llm):
    fake_llm.reply("The answer is four.")
    client = LLMClient(fake_llm.llm_config(model="gpt-4o-mini"))
    response = client.create(messages=user("what is two plus two"))
    assert response.message == {"role": "assistant", "content": "The answer is four."}
    # prompt: "You are terse." (3 words) + "what is two plus two" (5); completion: 4 words.
    assert response.usage == {"prompt_tokens": 8, "completion_tokens": 4, "total_tokens": 12}
    assert response.model == "gpt-4o-mini" and response.api_type == "openai"
    assert response.cost == pytest.approx((8 * 0.15 + 4 * 0.60) / 1_000_000)
    assert response.latency_ms > 0 and response.id.startswith("chatcmpl-")
    request = fake_llm.last_request
    assert request.path == "/v1/chat/completions" and not request.stream
    assert request.messages[1] == {"role": "user", "content": "what is two plus two", "name": "alice"}
    assert request.api_key == "test-key"


def test_streaming_deltas_concatenate_to_the_final_text(fake_llm):
    fake_llm.reply("Streaming works word by word.")
    client = LLMClient(fake_llm.llm_config(model="gpt-4o"))
    deltas: list[str] = []
    response = client.create(messages=user("stream please"), on_token=deltas.append)
    assert len(deltas) == 5 and "".join(deltas) == response.message["content"] == "Streaming works word by word."
    assert response.usage == {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}
    body = fake_llm.last_request.body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("stream", [False, True])
def test_tool_calls_are_returned_in_openai_shape_with_sanitised_names(fake_llm, stream):
    long_name = "x" * 70
    fake_llm.reply(tool_calls=[{"name": "add", "arguments": {"a": 2, "b": 3}},
                               {"name": "web search", "arguments": {"q": "parley"}},
                               {"name": long_name, "arguments": {}}])
    client = LLMClient(fake_llm.llm_config(model="gpt-4o"))
    deltas: list[str] = []
    response = client.create(messages=user("add 2 and 3"), tools=[ADD_TOOL],
                             on_token=deltas.append if stream else None)
    calls = response.message["tool_calls"]
    assert response.message["content"] is None and deltas == []
    assert [c["function"]["name"] for c in calls] == ["add", "web_search", "x" * 64]
    assert json.loads(calls[0]["function"]["arguments"]) == {"a": 2, "b": 3}
    assert all(c["type"] == "function" and c["id"].startswith("call_") for c in calls)
    assert response.finish_reason == "tool_calls"
    assert fake_llm.last_request.tools == [ADD_TOOL]
    assert client.extract_text_or_completion_object(response) == [response.message]


def test_tool_results_are_sent_in_the_wire_shape(fake_llm):
    fake_llm.reply("5")
    client = LLMClient(fake_llm.llm_config())
    call = {"id": "call_1", "type": "function", "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'}}
    history = user("add") + [
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "5",
         "tool_responses": [{"tool_call_id": "call_1", "role": "tool", "content": "5"}]},
    ]
    response = client.create(messages=history, tools=[ADD_TOOL])
    assert response.message["content"] == "5"
    sent = fake_llm.last_request.messages
    assert sent[2] == {"role": "assistant", "content": None, "tool_calls": [call]}
    assert sent[3] == {"role": "tool", "tool_call_id": "call_1", "content": "5"}  # tool_responses stripped
    assert fake_llm.last_request.status == 200  # the fake's strict pairing check accepted it


def test_tools_from_llm_config_and_per_call_overrides(fake_llm):
    fake_llm.reply("ok")
    config = {**fake_llm.llm_config(), "tools": [ADD_TOOL], "temperature": 0.2, "max_tokens": 50,
              "default_headers": {"X-Parley-Test": "yes"}}
    client = LLMClient(config)
    client.create(messages=user("hi"), temperature=0.7, seed=7)
    body = fake_llm.last_request.body
    assert body["tools"] == [ADD_TOOL] and body["temperature"] == 0.7 and body["max_tokens"] == 50
    assert body["seed"] == 7
    assert fake_llm.last_request.headers["x-parley-test"] == "yes"
    for local_key in ("api_type", "price", "base_url", "api_key", "max_retries"):
        assert local_key not in body


def test_context_templating(fake_llm):
    fake_llm.reply("ok")
    client = LLMClient(fake_llm.llm_config())
    messages = [{"role": "user", "content": "Hello {name}"},
                {"role": "assistant", "content": lambda context: f"called with {context['name']}"},
                {"role": "user", "content": "Bye {name}"}]
    client.create(messages=messages, context={"name": "Ada"})
    assert [m["content"] for m in fake_llm.last_request.messages] == ["Hello {name}", "called with Ada", "Bye {name}"]
    client.create(messages=messages, context={"name": "Ada"}, allow_format_str_template=True)
    assert [m["content"] for m in fake_llm.last_request.messages] == ["Hello Ada", "called with Ada", "Bye Ada"]
    assert callable(messages[1]["content"])  # the caller's history is not modified


def test_local_server_without_a_key_gets_a_placeholder_not_the_openai_key(fake_llm, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real-secret")
    fake_llm.reply("ok")
    entry = fake_llm.config_entry(model="llama3")
    del entry["api_key"]
    LLMClient({"config_list": [entry]}).create(messages=user("hi"))
    assert fake_llm.last_request.api_key == PLACEHOLDER_API_KEY


@pytest.mark.parametrize("api_type", ["ollama", "groq", "deepseek", "together"])
def test_openai_compatible_api_types_use_base_url(fake_llm, api_type):
    fake_llm.reply("compatible")
    client = LLMClient(fake_llm.llm_config(model="some-model", api_type=api_type))
    response = client.create(messages=user("hi"))
    assert response.message["content"] == "compatible" and response.api_type == api_type
    assert fake_llm.last_request.api == "openai"


def test_compatible_api_type_without_base_url_and_unsupported_api_types_fail_at_construction():
    with pytest.raises(ValueError, match="'ollama'.*base_url"):
        LLMClient({"model": "llama3", "api_type": "ollama"})
    with pytest.raises(ValueError, match="'google' .*not supported"):
        LLMClient({"model": "gemini-pro", "api_type": "google"})


def test_finish_reason_and_choices_view(fake_llm):
    fake_llm.reply("cut off", finish_reason="length")
    response = LLMClient(fake_llm.llm_config()).create(messages=user("long"))
    assert response.finish_reason == "length"
    assert response.choices[0].message.content == "cut off" and response.text == "cut off"
