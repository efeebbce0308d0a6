"""The Anthropic provider through the real anthropic SDK against the fake server over HTTP (spec §9)."""

from __future__ import annotations

import json

import pytest

from workers.agents.llm import LLMClient

WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def anthropic_client(fake_llm, **entry) -> LLMClient:
    return LLMClient(fake_llm.llm_config(model="claude-haiku-4-5", api_type="anthropic", **entry))


def test_non_streaming_text_usage_and_cost(fake_llm):
    fake_llm.reply("Bonjour tout le monde")
    response = anthropic_client(fake_llm).create(messages=[{"role": "user", "content": "say hello in french"}])
    assert response.message == {"role": "assistant", "content": "Bonjour tout le monde"}
    assert response.usage == {"prompt_tokens": 4, "completion_tokens": 4, "total_tokens": 8}
    assert response.cost == pytest.approx((4 * 1.00 + 4 * 5.00) / 1_000_000)
    assert response.finish_reason == "end_turn" and response.model == "claude-haiku-4-5"
    request = fake_llm.last_request
    assert request.path == "/v1/messages" and request.body["max_tokens"] == 4096 and request.api_key == "test-key"


def test_streaming_deltas_concatenate_to_the_final_text(fake_llm):
    fake_llm.reply("Tokens arrive one word at a time.")
    deltas: list[str] = []
    response = anthropic_client(fake_llm).create(messages=[{"role": "user", "content": "go"}], on_token=deltas.append)
    assert len(deltas) == 7 and "".join(deltas) == response.message["content"] == "Tokens arrive one word at a time."
    assert response.usage["completion_tokens"] == 7 and response.usage["prompt_tokens"] == 1
    assert fake_llm.last_request.stream


def test_system_merged_names_removed_empty_dropped_roles_alternated(fake_llm):
    fake_llm.reply("ok")
    history = [
        {"role": "system", "content": "You are the planner."},
        {"role": "user", "content": "first idea", "name": "alice"},
        {"role": "user", "content": "", "name": "carol"},  # empty: dropped
        {"role": "user", "content": "second idea", "name": "bob"},
        {"role": "assistant", "content": "noted", "name": "planner"},
        {"role": "system", "content": "Read the conversation and pick the next speaker."},
    ]
    anthropic_client(fake_llm).create(messages=history)
    request = fake_llm.last_request
    assert request.system == "You are the planner.\nRead the conversation and pick the next speaker."
    assert request.messages == [
        {"role": "user", "content": "first idea"},
        {"role": "assistant", "content": "Please continue."},
        {"role": "user", "content": "second idea"},
        {"role": "assistant", "content": "noted"},
        {"role": "user", "content": "Please continue."},
    ]
    assert all("name" not in m for m in request.messages)


@pytest.mark.parametrize("stream", [False, True])
def test_tool_use_round_trip(fake_llm, stream):
    fake_llm.reply(tool_calls=[{"name": "get_weather", "arguments": {"city": "Oslo"}},
                               {"name": "get_weather", "arguments": {"city": "Rome"}}], call=0)
    fake_llm.reply("Oslo is cold, Rome is warm.")
    client = anthropic_client(fake_llm)
    on_token = [].append if stream else None
    first = client.create(messages=[{"role": "user", "content": "weather in Oslo and Rome?"}], tools=[WEATHER_TOOL],
                          on_token=on_token)
    calls = first.message["tool_calls"]
    assert first.message["content"] is None and first.finish_reason == "tool_use"
    assert [json.loads(c["function"]["arguments"]) for c in calls] == [{"city": "Oslo"}, {"city": "Rome"}]
    assert all(c["type"] == "function" and c["id"].startswith("toolu_") for c in calls)
    assert fake_llm.last_request.tools == [{"name": "get_weather", "description": "Weather for a city",
                                            "input_schema": WEATHER_TOOL["function"]["parameters"]}]

    history = [{"role": "user", "content": "weather in Oslo and Rome?"},
               {"role": "assistant", "content": None, "tool_calls": calls},
               {"role": "tool", "tool_call_id": calls[0]["id"], "content": "-3C"},
               {"role": "tool", "tool_call_id": calls[1]["id"], "content": "21C"}]
    second = client.create(messages=history, tools=[WEATHER_TOOL], on_token=on_token)
    assert second.message["content"] == "Oslo is cold, Rome is warm."
    sent = fake_llm.last_request.messages
    assert sent[1] == {"role": "assistant", "content": [
        {"type": "tool_use", "id": calls[0]["id"], "name": "get_weather", "input": {"city": "Oslo"}},
        {"type": "tool_use", "id": calls[1]["id"], "name": "get_weather", "input": {"city": "Rome"}}]}
    # Both results travel in ONE user message, as the API requires.
    assert sent[2] == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": calls[0]["id"], "content": "-3C"},
        {"type": "tool_result", "tool_use_id": calls[1]["id"], "content": "21C"}]}
    assert len(sent) == 3 and fake_llm.last_request.status == 200


def test_tool_history_is_plain_text_when_the_request_has_no_tools(fake_llm):
    fake_llm.reply("summary")
    call = {"id": "call_9", "type": "function", "function": {"name": "add", "arguments": '{"a": 1}'}}
    history = [{"role": "user", "content": "add one"},
               {"role": "assistant", "content": None, "tool_calls": [call]},
               {"role": "tool", "tool_call_id": "call_9", "content": "1"}]
    anthropic_client(fake_llm).create(messages=history)
    sent = fake_llm.last_request.messages
    assert "tools" not in fake_llm.last_request.body
    assert sent[1]["role"] == "assistant" and isinstance(sent[1]["content"], str)
    assert "add" in sent[1]["content"] and '{"a": 1}' in sent[1]["content"]
    assert sent[2]["role"] == "user" and isinstance(sent[2]["content"], str) and sent[2]["content"].endswith("1")
    assert not any(isinstance(m["content"], list) for m in sent)


def test_dangling_tool_use_becomes_please_continue(fake_llm):
    fake_llm.reply("ok")
    call = {"id": "call_x", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}
    history = [{"role": "user", "content": "weather?"},
               {"role": "assistant", "content": None, "tool_calls": [call]},
               {"role": "user", "content": "never mind, thanks"}]
    anthropic_client(fake_llm).create(messages=history, tools=[WEATHER_TOOL])
    assert fake_llm.last_request.messages == [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": "Please continue."},
        {"role": "user", "content": "never mind, thanks"},
    ]
    assert fake_llm.last_request.status == 200


def test_sampling_keys_tool_choice_and_stop(fake_llm):
    fake_llm.reply("ok")
    client = LLMClient({**fake_llm.llm_config(model="claude-haiku-4-5", api_type="anthropic"),
                        "temperature": 0.3, "max_tokens": 256})
    client.create(messages=[{"role": "user", "content": "hi"}], tools=[WEATHER_TOOL], tool_choice="required",
                  top_k=5, stop=["END"])
    body = fake_llm.last_request.body
    assert (body["temperature"], body["top_k"], body["max_tokens"]) == (0.3, 5, 256)
    assert body["tool_choice"] == {"type": "any"} and body["stop_sequences"] == ["END"]


def test_key_from_environment_and_base_url_with_v1_suffix(fake_llm, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-from-env")
    fake_llm.reply("ok")
    entry = {"model": "claude-haiku-4-5", "api_type": "anthropic", "base_url": fake_llm.anthropic_base_url + "/v1/"}
    LLMClient({"config_list": [entry]}).create(messages=[{"role": "user", "content": "hi"}])
    assert fake_llm.last_request.api_key == "sk-ant-from-env" and fake_llm.last_request.path == "/v1/messages"


def test_images_become_image_blocks(fake_llm):
    fake_llm.reply("a cat")
    content = [{"type": "text", "text": "what is this?"},
               {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
               {"type": "image_url", "image_url": {"url": "https://example.invalid/cat.png"}}]
    anthropic_client(fake_llm).create(messages=[{"role": "user", "content": content}])
    blocks = fake_llm.last_request.messages[0]["content"]
    assert blocks[0] == {"type": "text", "text": "what is this?"}
    assert blocks[1]["source"] == {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}
    assert blocks[2]["source"] == {"type": "url", "url": "https://example.invalid/cat.png"}
