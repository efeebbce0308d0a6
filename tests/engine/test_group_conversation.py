"""Group chats driven by the core's Conversation: suspension for manual selection, snapshots, events."""

from __future__ import annotations

import asyncio
import json

from workers.agents import events
from workers.agents.agent import ConversableAgent
from workers.agents.conversation import Conversation
from workers.agents.groupchat import GroupChat, GroupChatManager
from workers.agents.human import SuspendingInput


def member(name: str, **kwargs) -> ConversableAgent:
    return ConversableAgent(name, llm_config=False, human_input_mode="NEVER", description=f"{name} helps.",
                            default_auto_reply=f"This is {name} speaking.", **kwargs)


def manual_team():
    alice, bob, carol = member("alice"), member("bob"), member("carol")
    gc = GroupChat(agents=[alice, bob, carol], messages=[], max_round=4, speaker_selection_method="manual")
    manager = GroupChatManager(gc, llm_config=False, human_input_provider=SuspendingInput(), silent=True)
    return manager, {a.name: a for a in (alice, bob, carol, manager)}


def test_manual_answers_arrive_one_by_one_through_snapshots():
    """The spec's "3", "", "abc", "9" example, with every answer given after a suspension and a restore."""
    manager, agents = manual_team()
    conv = Conversation.start(agents["alice"], manager, "opening", silent=True)
    given = []
    for answer in ["3", "", "abc", "9"]:
        while conv.step():
            pass
        assert conv.waiting and conv.pending["request"]["kind"] == "manual_selection"
        # Nothing of the suspended selection was applied: the transcript only holds finished rounds.
        state = json.loads(json.dumps(conv.snapshot()))
        manager, agents = manual_team()  # a fresh process: agents rebuilt from the same configuration
        conv = Conversation.restore(agents, state)
        conv.answer(answer)
        given.append(answer)
    conv.run()
    assert conv.finished["code"] == "group_chat" and conv.finished["reason"] == "max rounds"
    assert [m["name"] for m in manager.groupchat.messages] == ["alice", "carol", "alice", "bob"]
    # The two answers of the third selection were read in one step: "abc" replayed, then "9".
    assert manager.human_input == []


def test_events_of_an_auto_group_chat(fake_llm):
    fake_llm.reply("bob", times=1)
    fake_llm.reply("carol")
    alice, bob, carol = member("alice"), member("bob"), member("carol")
    gc = GroupChat(agents=[alice, bob, carol], messages=[], max_round=3)
    manager = GroupChatManager(gc, llm_config=fake_llm.llm_config(price=[1.0, 2.0]), silent=True)
    log = events.EventLog()
    result = alice.initiate_chat(manager, message="who goes next?", sink=log, silent=True)
    assert [(e["sender"], e["round"]) for e in log.of_type("message")] == [("alice", 0), ("bob", 1), ("carol", 2)]
    assert [(e["speaker"], e["method"]) for e in log.of_type("speaker_selected")] == [("bob", "auto"), ("carol", "auto")]
    # The selector's own chat stays internal; only its usage reaches the sink.
    assert {e["type"] for e in log} == {"message", "speaker_selected", "usage", "finished"}
    usage = log.of_type("usage")
    assert len(usage) == 2 and all(e["agent"] == "speaker_selection_agent" for e in usage)
    assert all(e["conversation_id"] == log[0]["conversation_id"] for e in log)
    assert log[-1]["type"] == "finished" and result.summary == "This is carol speaking."


def test_async_auto_selection(fake_llm):
    fake_llm.reply("carol")

    async def run() -> list[str]:
        alice, bob, carol = member("alice"), member("bob"), member("carol")
        gc = GroupChat(agents=[alice, bob, carol], messages=[], max_round=2)
        manager = GroupChatManager(gc, llm_config=fake_llm.llm_config(), silent=True)
        await alice.a_initiate_chat(manager, message="async auto", silent=True)
        return [m["name"] for m in gc.messages]

    assert asyncio.run(run()) == ["alice", "carol"]
    assert len(fake_llm.requests) == 1
