"""Async twins (§3.1 sync/async rules): a_initiate_chat, a_send/a_receive, a_generate_reply, async tools."""

from __future__ import annotations

import asyncio
import json

import pytest

import workers.agents as autogen
from workers.agents import Conversation, ConversableAgent


def never(name: str, **kwargs) -> ConversableAgent:
    return ConversableAgent(name, human_input_mode="NEVER", **kwargs)


def contents(history):
    return [m["content"] for m in history]


def test_async_chat_gives_the_same_never_sequence_and_counters_as_the_sync_chat():
    def pair():
        return (never("alice", max_consecutive_auto_reply=2, default_auto_reply="alice auto"),
                never("bob", max_consecutive_auto_reply=3, default_auto_reply="bob auto"))

    alice, bob = pair()
    sync = alice.initiate_chat(bob, message="hi", silent=True)
    a_alice, a_bob = pair()
    result = asyncio.run(a_alice.a_initiate_chat(a_bob, message="hi", silent=True))
    assert contents(result.chat_history) == contents(sync.chat_history) == [
        "hi", "bob auto", "alice auto", "bob auto", "alice auto", "bob auto"]
    # The sync twin of each async built-in is skipped, so counters are not bumped twice.
    assert a_bob._consecutive_auto_reply_counter[a_alice] == bob._consecutive_auto_reply_counter[alice] == 3
    assert result.summary == "bob auto"


def test_async_reply_function_needs_the_async_chat():
    alice, bob = never("alice"), never("bob")

    async def async_reply(recipient, messages, sender, config):
        await asyncio.sleep(0)
        return True, "from a coroutine"

    bob.register_reply([autogen.Agent, None], async_reply)
    with pytest.raises(RuntimeError, match="a_initiate_chat"):
        alice.initiate_chat(bob, message="hi", max_turns=1)
    assert alice.chat_messages.get(bob, []) == []
    result = asyncio.run(alice.a_initiate_chat(bob, message="hi", max_turns=1, silent=True))
    assert contents(result.chat_history) == ["hi", "from a coroutine"]


def test_flagged_async_reply_is_skipped_in_a_sync_chat_and_its_sync_twin_in_an_async_chat():
    calls = []

    def reply_text(recipient, messages, sender, config):
        calls.append("sync")
        return True, "sync answer"

    async def a_reply_text(recipient, messages, sender, config):
        calls.append("async")
        return True, "async answer"

    def build():
        alice, bob = never("alice"), never("bob")
        bob.register_reply([autogen.Agent, None], reply_text, position=2)
        bob.register_reply([autogen.Agent, None], a_reply_text, position=2, ignore_async_in_sync_chat=True)
        return alice, bob

    alice, bob = build()
    assert contents(alice.initiate_chat(bob, message="hi", max_turns=1, silent=True).chat_history)[1] == "sync answer"
    alice, bob = build()
    result = asyncio.run(alice.a_initiate_chat(bob, message="hi", max_turns=1, silent=True))
    assert contents(result.chat_history)[1] == "async answer"
    assert calls == ["sync", "async"]


def test_a_send_with_request_reply_runs_the_reference_ping_pong():
    alice, bob = never("alice", default_auto_reply="a"), never("bob", default_auto_reply="b")
    asyncio.run(alice.a_send("hi", bob, request_reply=True))
    assert contents(alice.chat_messages[bob]) == ["hi", "b"]  # alice does not reply: reply_at_receive is False


def test_async_tools_and_llm_in_an_async_chat():
    config = {"config_list": [{"api_type": "replay", "model": "replay", "replies": [
        {"tool_calls": [{"name": "wait_and_add", "arguments": {"a": 2, "b": 3}},
                        {"name": "wait_and_add", "arguments": {"a": 10, "b": 1}}]},
        "Got 5 and 11. TERMINATE"]}]}
    assistant = autogen.AssistantAgent("assistant", llm_config=config)
    user = never("user", is_termination_msg=autogen.ends_with_terminate)
    running = []

    @user.register_for_execution()
    @assistant.register_for_llm(description="Add slowly.")
    async def wait_and_add(a: int, b: int) -> int:
        running.append(a)
        await asyncio.sleep(0.01)
        return a + b

    result = asyncio.run(user.a_initiate_chat(assistant, message="add", silent=True))
    assert contents(result.chat_history) == ["add", None, "5\n\n11", "Got 5 and 11. TERMINATE"]
    assert sorted(running) == [2, 10]


def test_async_provider_is_awaited_in_async_chats_and_resolved_in_sync_chats():
    answers = []

    async def provider(request):
        await asyncio.sleep(0)
        answers.append(request["kind"])
        return "exit"

    def build():
        return (ConversableAgent("user", human_input_mode="ALWAYS", human_input_provider=provider),
                never("bot", default_auto_reply="bot says"))

    user, bot = build()
    result = asyncio.run(user.a_initiate_chat(bot, message="start", silent=True))
    assert contents(result.chat_history) == ["start", "bot says"]
    user, bot = build()
    assert contents(user.initiate_chat(bot, message="start", silent=True).chat_history) == ["start", "bot says"]
    assert answers == ["always", "always"]


def test_get_human_input_override_is_used_in_async_chats():
    class Typist(ConversableAgent):
        def get_human_input(self, prompt: str) -> str:
            return "exit"

    user, bot = Typist("user", human_input_mode="ALWAYS"), never("bot", default_auto_reply="bot says")
    result = asyncio.run(user.a_initiate_chat(bot, message="start", silent=True))
    assert contents(result.chat_history) == ["start", "bot says"]
    assert result.human_input == ["exit"]


def test_async_conversation_snapshot_and_resume():
    def build():
        alice = never("alice", max_consecutive_auto_reply=2, default_auto_reply="alice auto")
        bob = never("bob", max_consecutive_auto_reply=3, default_auto_reply="bob auto")
        return {"alice": alice, "bob": bob}

    async def scenario():
        agents = build()
        conv = Conversation.start(agents["alice"], agents["bob"], "hi", silent=True, is_async=True)
        assert await conv.a_step() and await conv.a_step()
        saved = json.dumps(conv.snapshot())
        resumed = Conversation.restore(build(), saved)
        return await resumed.a_run()

    result = asyncio.run(scenario())
    assert contents(result.chat_history) == ["hi", "bob auto", "alice auto", "bob auto", "alice auto", "bob auto"]
