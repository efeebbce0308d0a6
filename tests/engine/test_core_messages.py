"""Message helpers (§1): text view, normalisation, and what the LLM receives (§1.4)."""

from __future__ import annotations

import pytest

import workers.agents as autogen
from workers.agents.messages import content_str, normalize, sanitize_name, unroll_tool_responses


def test_content_str_views():
    parts = [{"type": "text", "text": "a"}, {"type": "image_url", "image_url": {"url": "x"}}, {"type": "text", "text": "b"}]
    assert (content_str(None), content_str("x"), content_str(parts)) == ("", "x", "a\n<image>\nb")
    with pytest.raises(TypeError):
        content_str(42)


def test_normalize_keeps_tool_messages_and_stringifies_their_values():
    call = {"tool_calls": [{"id": "c1"}], "name": "someone", "role": "user"}
    assert normalize(call, role="user", author="bob") == {"tool_calls": [{"id": "c1"}], "name": "someone",
                                                          "content": None, "role": "assistant"}
    result = {"role": "tool", "content": 5, "tool_responses": [{"tool_call_id": "c1", "role": "tool", "content": 5}]}
    stored = normalize(result, role="user", author="bob")
    assert stored == {"content": "5", "tool_responses": [{"tool_call_id": "c1", "role": "tool", "content": "5"}],
                      "role": "tool", "name": "bob"}
    assert result["tool_responses"][0]["content"] == 5  # the caller's dict is untouched
    assert normalize({"role": "user"}, role="user", author="bob") is None
    assert normalize({"content": "", "tool_calls": []}, role="user", author="bob") == {
        "content": "", "role": "user", "name": "bob"}


def test_unrolling_sends_each_tool_response_and_keeps_non_tool_parents():
    history = [
        {"content": None, "role": "assistant", "tool_calls": [{"id": "c1"}, {"id": "c2"}]},
        {"content": "1\n\n2", "role": "tool", "name": "ex",
         "tool_responses": [{"tool_call_id": "c1", "role": "tool", "content": "1"},
                            {"tool_call_id": "c2", "role": "tool", "content": "2"}]},
        {"content": "stop", "role": "user", "tool_responses": [{"tool_call_id": "c3", "role": "tool",
                                                                "content": "USER INTERRUPTED"}]},
    ]
    assert unroll_tool_responses(history)[1:] == [
        {"tool_call_id": "c1", "role": "tool", "content": "1"},
        {"tool_call_id": "c2", "role": "tool", "content": "2"},
        {"tool_call_id": "c3", "role": "tool", "content": "USER INTERRUPTED"},
        {"content": "stop", "role": "user"},
    ]


def test_sanitize_name():
    assert sanitize_name("get weather.now!") == "get_weather_now_"
    assert len(sanitize_name("x" * 80)) == 64


def test_llm_reply_pops_context_from_the_stored_message_and_fills_templates(fake_llm):
    fake_llm.reply("ok")
    bot = autogen.ConversableAgent("bot", llm_config=fake_llm.llm_config(model="gpt-test"), human_input_mode="NEVER",
                                   system_message="Be brief.")
    user = autogen.ConversableAgent("user", human_input_mode="NEVER")
    user.send({"content": lambda context: f"Hello {context['who']}", "context": {"who": "Ada"}}, bot)
    assert bot.generate_reply(sender=user) == "ok"
    assert "context" not in bot.chat_messages[user][-1]
    assert fake_llm.last_request.messages == [{"role": "system", "content": "Be brief."},
                                              {"role": "user", "content": "Hello Ada", "name": "user"}]


def test_llm_tool_call_reply_gets_sanitized_names(fake_llm):
    fake_llm.reply(tool_calls=[{"name": "get.weather", "arguments": {"city": "Oslo"}}])
    bot = autogen.ConversableAgent("bot", llm_config=fake_llm.llm_config(model="gpt-test"), human_input_mode="NEVER")
    reply = bot.generate_reply(messages=[{"role": "user", "content": "weather?"}])
    assert reply["role"] == "assistant" and reply["content"] is None
    assert reply["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city": "Oslo"}'}
