"""The in-process replay provider: stateless, deterministic, no HTTP."""

from __future__ import annotations

import json
import socket

import pytest

from workers.agents.llm import LLMClient

SCRIPT = {
    "api_type": "replay",
    "replies": ["First reply.", {"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 2}}]}, "All done. TERMINATE"],
    "rules": [{"when": "weather", "reply": "Sunny all week."}, {"when_regex": r"^bye\b", "reply": "Goodbye!"}],
}


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test: replay must never touch the network."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"replay opened a network connection: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def conversation(turns: int) -> list[dict]:
    """system + user, then `turns` assistant/user pairs: the agent has replied `turns` times so far."""
    messages = [{"role": "system", "content": "You are scripted."}, {"role": "user", "content": "start"}]
    for i in range(turns):
        messages += [{"role": "assistant", "content": f"reply {i}"}, {"role": "user", "content": f"next {i}"}]
    return messages


def test_reply_is_chosen_by_the_number_of_assistant_messages(no_network):
    client = LLMClient(SCRIPT)
    assert client.create(messages=conversation(0)).message == {"role": "assistant", "content": "First reply."}
    second = client.create(messages=conversation(1)).message
    assert second["content"] is None
    assert second["tool_calls"] == [{"id": "call_replay_1_0", "type": "function",
                                     "function": {"name": "add", "arguments": json.dumps({"a": 1, "b": 2})}}]
    assert client.create(messages=conversation(2)).text == "All done. TERMINATE"
    assert client.create(messages=conversation(7)).text == "All done. TERMINATE"  # repeat_last past the end


def test_same_request_same_reply_across_calls_and_fresh_clients(no_network):
    first_client, second_client = LLMClient(SCRIPT), LLMClient(SCRIPT)
    for turns in (0, 1, 2):
        answers = [first_client.create(messages=conversation(turns)).message,
                   first_client.create(messages=conversation(turns)).message,
                   second_client.create(messages=conversation(turns)).message]
        assert answers[0] == answers[1] == answers[2]


def test_cycle_mode_and_rules(no_network):
    client = LLMClient({**SCRIPT, "when_exhausted": "cycle"})
    assert client.create(messages=conversation(3)).text == "First reply."  # 3 mod 3
    weather = conversation(1)[:-1] + [{"role": "user", "content": "how is the weather?"}]
    assert client.create(messages=weather).text == "Sunny all week."
    assert client.create(messages=[{"role": "user", "content": "bye now"}]).text == "Goodbye!"
    assert client.create(messages=[{"role": "user", "content": "goodbye"}]).text == "First reply."


def test_without_replies_it_echoes(no_network):
    client = LLMClient({"api_type": "replay"})
    assert client.create(messages=[{"role": "user", "content": "ping"}]).text == "echo: ping"
    assert client.config_list[0]["model"] == "replay"


def test_streams_word_by_word_with_zero_cost_unless_priced(no_network):
    deltas: list[str] = []
    client = LLMClient({"api_type": "replay", "replies": ["Three small words"]})
    response = client.create(messages=[{"role": "user", "content": "go"}], on_token=deltas.append)
    assert deltas == ["Three ", "small ", "words"] and response.cost == 0
    priced = LLMClient({"api_type": "replay", "replies": ["Three small words"], "price": [1.0, 1.0]})
    assert priced.create(messages=[{"role": "user", "content": "go"}]).cost == pytest.approx((1 + 3) / 1000)


def test_replay_usage_matches_the_fake_servers_count(fake_llm):
    messages = [{"role": "system", "content": "Count these words."},
                {"role": "user", "content": "one two three"},
                {"role": "assistant", "content": None, "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "result here"}]
    reply = "a reply of six words here"
    fake_llm.reply(reply)
    over_http = LLMClient(fake_llm.llm_config()).create(messages=messages)
    in_process = LLMClient({"api_type": "replay", "replies": ["x", reply]}).create(messages=messages)
    assert in_process.text == over_http.text == reply
    assert in_process.usage == over_http.usage


@pytest.mark.parametrize("bad, message", [
    ({"replies": [42]}, r"replies\[0\] must be a str or a dict"),
    ({"replies": [{"tool_calls": [{"arguments": {}}]}]}, r"tool_calls\[0\] needs a name"),
    ({"rules": [{"reply": "x"}]}, r"rules\[0\] must be"),
    ({"rules": [{"when": "a", "when_regex": "b", "reply": "x"}]}, r"rules\[0\] must be"),
    ({"when_exhausted": "stop"}, "when_exhausted must be one of"),
])
def test_bad_scripts_are_rejected_at_construction(bad, message):
    with pytest.raises(ValueError, match=message):
        LLMClient({"api_type": "replay", **bad})
