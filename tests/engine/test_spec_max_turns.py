"""Spec §5.1-§5.3: initiate_chat (checks, preparing the pair, the first message), max_turns, ChatResult."""

from __future__ import annotations

import pytest

import workers.agents as autogen
from tests.engine.spec_helpers import (
    contents, counter, history, kinds, make_agent, scripted, tool_call, tool_call_message,
)
from workers.agents.human import ScriptedInput


def pair(alice_limit=None, bob_limit=None):
    alice = make_agent("alice", default_auto_reply="alice auto", max_consecutive_auto_reply=alice_limit)
    bob = make_agent("bob", default_auto_reply="bob auto", max_consecutive_auto_reply=bob_limit)
    return alice, bob


# --- §5.1 checks and preparing the pair --------------------------------------------------------------------------

def test_5_1_reflection_summary_without_any_llm_raises_before_the_chat():
    alice, bob = pair()
    with pytest.raises(AssertionError):
        alice.initiate_chat(bob, message="hi", summary_method="reflection_with_llm")
    assert history(alice, bob) == [] and history(bob, alice) == []


@pytest.mark.parametrize(("max_turns", "flag"), [(None, True), (2, False)])
def test_5_1_reply_at_receive_is_set_both_ways(max_turns, flag):
    alice, bob = pair(alice_limit=1)
    alice.initiate_chat(bob, message="hi", max_turns=max_turns)
    assert alice.reply_at_receive[bob] is flag
    assert bob.reply_at_receive[alice] is flag


def test_5_1_clear_history_clears_this_pair_only():
    alice, bob = pair()
    carol = make_agent("carol")
    alice.send("old to bob", bob)
    alice.send("to carol", carol)
    bob.send("bob to carol", carol)
    result = alice.initiate_chat(bob, message="hi", max_turns=1)
    assert contents(result.chat_history) == ["hi", "bob auto"]
    assert contents(history(bob, alice)) == ["hi", "bob auto"]
    assert contents(history(alice, carol)) == ["to carol"]
    assert contents(history(bob, carol)) == ["bob to carol"]


def test_5_1_clear_history_false_keeps_the_pair_history():
    alice, bob = pair()
    alice.send("old", bob)
    result = alice.initiate_chat(bob, message="hi", max_turns=1, clear_history=False)
    assert contents(result.chat_history) == ["old", "hi", "bob auto"]
    assert contents(history(bob, alice)) == ["old", "hi", "bob auto"]


def test_5_1_clear_history_also_clears_the_senders_human_input():
    alice = make_agent("alice", "ALWAYS", human_input_provider=ScriptedInput(["a1", "exit", "a2", "exit", "a3", "exit"]))
    bob = make_agent("bob", default_auto_reply="bob auto")
    assert alice.initiate_chat(bob, message="one").human_input == ["a1", "exit"]
    assert alice.initiate_chat(bob, message="two").human_input == ["a2", "exit"]
    assert alice.initiate_chat(bob, message="three", clear_history=False).human_input == ["a2", "exit", "a3", "exit"]


def test_5_1_callable_message_gets_sender_recipient_and_kwargs():
    alice, bob = pair()
    calls: list[tuple] = []

    def first_message(sender, recipient, context):
        calls.append((sender, recipient, context.get("topic")))
        return f"{sender.name} asks {recipient.name} about {context['topic']}"

    result = alice.initiate_chat(bob, message=first_message, max_turns=1, topic="tea")
    assert contents(result.chat_history) == ["alice asks bob about tea", "bob auto"]
    assert calls == [(alice, bob, "tea")]


def test_5_1_callable_message_without_max_turns():
    alice, bob = pair(alice_limit=0)
    result = alice.initiate_chat(bob, message=lambda sender, recipient, context: {"content": "from a callable"})
    assert contents(result.chat_history) == ["from a callable", "bob auto"]


def test_5_1_no_message_asks_the_human_first():
    provider = ScriptedInput(["typed task"])
    alice = make_agent("alice", human_input_provider=provider)
    bob = make_agent("bob", default_auto_reply="bob auto")
    result = alice.initiate_chat(bob, max_turns=1)
    assert contents(result.chat_history) == ["typed task", "bob auto"]
    assert kinds(provider) == ["first_message"]
    assert result.human_input == ["typed task"]


@pytest.mark.parametrize(
    ("carryover", "expected"),
    [("prev", "task\nContext: \nprev"), (["prev1", "prev2"], "task\nContext: \nprev1\nprev2")],
)
def test_5_1_carryover_is_appended_to_the_first_message(carryover, expected):
    alice, bob = pair()
    result = alice.initiate_chat(bob, message="task", max_turns=1, carryover=carryover)
    assert result.chat_history[0]["content"] == expected


def test_5_1_without_max_turns_the_chat_is_a_ping_pong():
    alice, bob = pair(alice_limit=1, bob_limit=5)
    result = alice.initiate_chat(bob, message="hi")
    assert contents(result.chat_history) == ["hi", "bob auto", "alice auto", "bob auto"]


# --- §5.2 max_turns ----------------------------------------------------------------------------------------------

def test_5_2_a_turn_is_at_most_two_messages():
    alice, bob = pair()
    result = alice.initiate_chat(bob, message="hi", max_turns=2)
    assert contents(result.chat_history) == ["hi", "bob auto", "alice auto", "bob auto"]


def test_5_2_one_turn():
    alice, bob = pair()
    result = alice.initiate_chat(bob, message="hi", max_turns=1)
    assert contents(result.chat_history) == ["hi", "bob auto"]


def test_5_2_recipient_terminate_ends_before_the_next_turn():
    alice = make_agent("alice", default_auto_reply="alice auto")
    result = alice.initiate_chat(scripted(make_agent("bob"), "TERMINATE"), message="hi", max_turns=3)
    assert contents(result.chat_history) == ["hi", "TERMINATE"]


def test_5_2_limit_1_initiator_to_limit_100_gives_4_messages():
    alice, bob = pair(alice_limit=1, bob_limit=100)
    result = alice.initiate_chat(bob, message="hi", max_turns=50)
    assert contents(result.chat_history) == ["hi", "bob auto", "alice auto", "bob auto"]


def test_5_2_limit_100_initiator_to_limit_1_gives_3_messages():
    alice, bob = pair(alice_limit=100, bob_limit=1)
    result = alice.initiate_chat(bob, message="hi", max_turns=50)
    assert contents(result.chat_history) == ["hi", "bob auto", "alice auto"]


def test_5_2_recipient_predicate_on_its_own_reply_stops_the_chat():
    # The initiator's default predicate does not match "y DONE"; the recipient's own predicate does.
    alice = make_agent("alice", default_auto_reply="alice auto")
    bob = scripted(make_agent("bob", is_termination_msg=lambda m: "DONE" in (m.get("content") or "")), "y DONE")
    result = alice.initiate_chat(bob, message="hi", max_turns=5)
    assert contents(result.chat_history) == ["hi", "y DONE"]


def test_5_2_recipient_predicate_is_not_checked_on_content_none():
    # bob's predicate matches any content-None message, but step 2 skips messages whose content is None.
    alice = make_agent("alice", function_map={"add": lambda a, b: a + b})
    bob = scripted(make_agent("bob", is_termination_msg=lambda m: m.get("content") is None),
                   tool_call_message(tool_call("add", {"a": 1, "b": 2})))
    result = alice.initiate_chat(bob, message="hi", max_turns=2)
    assert contents(result.chat_history) == ["hi", None, "3", None]


def test_5_2_neither_side_replies_on_receipt():
    alice, bob = pair()
    alice.initiate_chat(bob, message="hi", max_turns=1)
    alice.send("after the chat", bob)  # reply_at_receive is False after a max_turns chat
    assert contents(history(alice, bob)) == ["hi", "bob auto", "after the chat"]


def test_5_2_initiator_reply_none_stops():
    alice = make_agent("alice")
    alice.register_reply([autogen.Agent, None], lambda recipient, messages, sender, config: (True, None), position=2)
    result = alice.initiate_chat(make_agent("bob", default_auto_reply="bob auto"), message="hi", max_turns=5)
    assert contents(result.chat_history) == ["hi", "bob auto"]


# --- §5.3 ChatResult ---------------------------------------------------------------------------------------------

NO_COST = {"usage_including_cached_inference": {"total_cost": 0},
           "usage_excluding_cached_inference": {"total_cost": 0}}


def test_5_3_chat_result_fields():
    alice, bob = pair(alice_limit=0)
    first = alice.initiate_chat(bob, message="hi")
    assert isinstance(first, autogen.ChatResult)
    assert first.chat_history is alice.chat_messages[bob]  # the live list, not a copy
    assert contents(first.chat_history) == ["hi", "bob auto"]
    assert first.summary == "bob auto"
    assert first.cost == NO_COST
    assert first.human_input == []
    second = alice.initiate_chat(bob, message="hi")
    assert first.chat_id is not None and second.chat_id is not None
    assert first.chat_id != second.chat_id


def test_5_3_clear_history_false_accumulates():
    alice = make_agent("alice")
    bob = make_agent("bob", default_auto_reply="y")
    alice.initiate_chat(bob, message="one", max_turns=1)
    result = alice.initiate_chat(bob, message="two", max_turns=1, clear_history=False)
    assert contents(result.chat_history) == ["one", "y", "two", "y"]


def test_5_3_repeated_initiate_chat_behaves_like_the_first():
    alice, bob = pair(alice_limit=2, bob_limit=3)
    runs = [alice.initiate_chat(bob, message="hi") for _ in range(3)]
    for result in runs:
        assert contents(result.chat_history) == ["hi", "bob auto", "alice auto", "bob auto", "alice auto", "bob auto"]
        assert result.summary == "bob auto"
    assert counter(bob, alice) == 3


def test_5_3_stop_reply_at_receive_clears_only_the_callers_flag():
    alice, bob = pair(alice_limit=0)
    alice.initiate_chat(bob, message="hi")
    assert alice.reply_at_receive[bob] is True and bob.reply_at_receive[alice] is True
    alice.stop_reply_at_receive(bob)
    assert alice.reply_at_receive[bob] is False and bob.reply_at_receive[alice] is True
    bob.send("ping", alice)  # alice no longer answers on receipt
    assert contents(history(bob, alice))[-1] == "ping"
    alice.send("pong", bob)  # bob still answers; alice then stays quiet
    assert contents(history(alice, bob))[-2:] == ["pong", "bob auto"]


def test_5_3_stop_reply_at_receive_without_argument_clears_all():
    alice, bob = pair(alice_limit=0)
    carol = make_agent("carol", default_auto_reply="carol auto")
    alice.initiate_chat(bob, message="hi")
    alice.initiate_chat(carol, message="hi")
    alice.stop_reply_at_receive()
    assert alice.reply_at_receive[bob] is False and alice.reply_at_receive[carol] is False
