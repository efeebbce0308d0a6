"""Spec §4: termination, human input modes and the auto-reply limit (tables 4.1/4.2, consequences, §4.3 sequences),
plus §3.3's override point `get_human_input(prompt)`.

Human answers come from `ScriptedInput`, which records every request with its kind: "always" (P1), "limit" (P2),
"termination" (P3). Prompt wording is free, so only kinds are asserted.
"""

from __future__ import annotations

import io

import pytest

import workers.agents as autogen
from tests.engine.spec_helpers import (
    contents, counter, history, kinds, make_agent, name_of, scripted, tool_call, tool_call_message,
)
from workers.agents.human import ScriptedInput


def human(name: str, mode: str, answers: list[str], **kwargs) -> tuple[autogen.ConversableAgent, ScriptedInput]:
    provider = ScriptedInput(answers)
    return make_agent(name, mode, human_input_provider=provider, **kwargs), provider


def bot(reply: str = "bot says") -> autogen.ConversableAgent:
    return make_agent("bot", default_auto_reply=reply)


def interleave(user_sent: list[str], bot_reply: str = "bot says") -> list[str]:
    """The transcript when every user message is answered by the same bot reply."""
    return [text for sent in user_sent for text in (sent, bot_reply)]


def user_sent(result) -> list:
    """What the initiating user sent (its own messages have role assistant in its view)."""
    return [m["content"] for m in result.chat_history if m["role"] == "assistant"]


# --- §4.3 reference sequences ------------------------------------------------------------------------------------

def test_4_3_never_sequence():
    alice, alice_input = human("alice", "NEVER", [], max_consecutive_auto_reply=2, default_auto_reply="alice auto")
    bob, bob_input = human("bob", "NEVER", [], max_consecutive_auto_reply=3, default_auto_reply="bob auto")
    result = alice.initiate_chat(bob, message="hi")
    assert contents(result.chat_history) == ["hi", "bob auto", "alice auto", "bob auto", "alice auto", "bob auto"]
    assert result.summary == "bob auto"
    assert counter(alice, bob) == 0  # reset by exit
    assert counter(bob, alice) == 3
    assert result.human_input == []
    assert alice_input.requests == [] and bob_input.requests == []  # NEVER never prompts


def test_4_3_exact_terminate_ends_the_chat():
    alice = make_agent("alice")
    result = alice.initiate_chat(scripted(make_agent("bob"), "TERMINATE"), message="hi")
    assert contents(result.chat_history) == ["hi", "TERMINATE"]
    assert result.summary == ""


def test_4_3_done_terminate_does_not_end_the_chat():
    alice = make_agent("alice", max_consecutive_auto_reply=2, default_auto_reply="alice auto")
    result = alice.initiate_chat(scripted(make_agent("bob"), "Done. TERMINATE"), message="hi")
    assert contents(result.chat_history) == ["hi"] + ["Done. TERMINATE", "alice auto"] * 2 + ["Done. TERMINATE"]
    assert result.summary == "Done. "


TERMINATE_ANSWERS = ["", "please continue", "", "", "exit"]
TERMINATE_SENT = ["start", "user auto", "user auto", "please continue", "user auto", "user auto", "user auto"]


@pytest.mark.parametrize("mode", ["TERMINATE", "SOMETIMES", "never", "always", "terminate"])
def test_4_3_terminate_mode_sequence(mode):
    # §2.1: only "ALWAYS" and "NEVER" (exact) are special; any other string behaves as TERMINATE.
    user, provider = human("user", mode, list(TERMINATE_ANSWERS), max_consecutive_auto_reply=1,
                           default_auto_reply="user auto")
    result = user.initiate_chat(bot(), message="start")
    assert user_sent(result) == TERMINATE_SENT
    assert contents(result.chat_history) == interleave(TERMINATE_SENT)
    assert kinds(provider) == ["limit"] * 5
    assert result.human_input == TERMINATE_ANSWERS


def test_4_3_human_input_requests_name_the_agent_and_the_sender():
    user, provider = human("user", "TERMINATE", list(TERMINATE_ANSWERS), max_consecutive_auto_reply=1,
                           default_auto_reply="user auto")
    user.initiate_chat(bot(), message="start")
    for request in provider.requests:
        assert name_of(request["agent"]) == "user"
        assert name_of(request["sender"]) == "bot"
        assert isinstance(request["prompt"], str) and request["prompt"]


def test_4_3_terminate_mode_termination_message():
    user, provider = human("user", "TERMINATE", ["keep going", ""], max_consecutive_auto_reply=1,
                           default_auto_reply="user auto")
    result = user.initiate_chat(bot("TERMINATE"), message="start")
    assert contents(result.chat_history) == ["start", "TERMINATE", "keep going", "TERMINATE"]
    assert kinds(provider) == ["termination", "termination"]
    assert result.human_input == ["keep going", ""]


def test_4_3_always_mode_sequence():
    user, provider = human("user", "ALWAYS", ["first human", "", "exit"], default_auto_reply="user auto")
    result = user.initiate_chat(bot(), message="start")
    assert contents(result.chat_history) == interleave(["start", "first human", "user auto"])
    assert kinds(provider) == ["always"] * 3
    assert result.human_input == ["first human", "", "exit"]


def test_4_3_always_mode_empty_answer_to_a_termination_message_ends_at_once():
    user, provider = human("user", "ALWAYS", [""], default_auto_reply="user auto")
    result = user.initiate_chat(bot("TERMINATE"), message="start")
    assert contents(result.chat_history) == ["start", "TERMINATE"]
    assert kinds(provider) == ["always"]
    assert result.human_input == [""]


# --- §4.1 step A, row by row -------------------------------------------------------------------------------------

def test_4_1_never_at_the_limit_stops_without_asking():
    bob, provider = human("bob", "NEVER", [], max_consecutive_auto_reply=0, default_auto_reply="bob auto")
    result = make_agent("alice").initiate_chat(bob, message="hi")
    assert contents(result.chat_history) == ["hi"]
    assert provider.requests == []


def test_4_1_never_termination_message_stops_without_asking():
    alice, provider = human("alice", "NEVER", [], default_auto_reply="alice auto")
    result = alice.initiate_chat(bot("TERMINATE"), message="hi")
    assert contents(result.chat_history) == ["hi", "TERMINATE"]
    assert provider.requests == []


def test_4_1_never_below_the_limit_auto_replies():
    alice, provider = human("alice", "NEVER", [], max_consecutive_auto_reply=1, default_auto_reply="alice auto")
    result = alice.initiate_chat(bot(), message="hi")
    assert contents(result.chat_history) == ["hi", "bot says", "alice auto", "bot says"]
    assert provider.requests == []


def test_4_1_terminate_mode_below_the_limit_does_not_ask():
    user, provider = human("user", "TERMINATE", ["exit"], max_consecutive_auto_reply=2, default_auto_reply="user auto")
    result = user.initiate_chat(bot(), message="start")
    assert contents(result.chat_history) == interleave(["start", "user auto", "user auto"])
    assert kinds(provider) == ["limit"]  # asked only once the limit was reached


@pytest.mark.parametrize(
    ("limit", "answers", "transcript", "expected_kinds"),
    [
        (0, [""], ["start", "TERMINATE"], ["termination"]),  # C >= L and T: P3, "" -> exit
        (0, ["more", "exit"], ["start", "TERMINATE", "more", "TERMINATE"], ["termination"] * 2),
        (3, [""], ["start", "TERMINATE"], ["termination"]),  # C < L and T: P3, "" -> exit
        (3, ["exit"], ["start", "TERMINATE"], ["termination"]),
    ],
)
def test_4_1_terminate_mode_termination_message_asks_p3(limit, answers, transcript, expected_kinds):
    user, provider = human("user", "TERMINATE", answers, max_consecutive_auto_reply=limit,
                           default_auto_reply="user auto")
    result = user.initiate_chat(bot("TERMINATE"), message="start")
    assert contents(result.chat_history) == transcript
    assert kinds(provider) == expected_kinds


# --- §4.2 step B -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("answer", ["Exit", "EXIT", " exit", "exit "])
def test_4_2_only_exact_exit_ends_the_chat(answer):
    user, _ = human("user", "ALWAYS", [answer, "exit"])
    result = user.initiate_chat(bot(), message="start")
    assert contents(result.chat_history) == interleave(["start", answer])


def test_4_2_human_text_becomes_a_user_role_reply():
    user, _ = human("user", "ALWAYS", ["hello there"])
    reply = user.generate_reply(messages=[{"content": "question", "role": "user"}], sender=bot())
    assert reply == {"role": "user", "content": "hello there"}


def test_4_2_human_text_is_re_roled_by_perspective():
    user, _ = human("user", "ALWAYS", ["typed", "exit"])
    the_bot = bot()
    user.initiate_chat(the_bot, message="start")
    assert history(user, the_bot)[2] == {"content": "typed", "role": "assistant", "name": "user"}
    assert history(the_bot, user)[2] == {"content": "typed", "role": "user", "name": "user"}


def test_4_2_human_text_to_tool_calls_attaches_user_interrupted():
    user, _ = human("user", "ALWAYS", ["stop that"])
    message = tool_call_message(tool_call("add", {"a": 1}, "call_1"), tool_call("add", {"a": 2}, "call_2"))
    reply = user.generate_reply(messages=[message], sender=bot())
    assert reply == {
        "role": "user",
        "content": "stop that",
        "tool_responses": [
            {"role": "tool", "tool_call_id": "call_1", "content": "USER INTERRUPTED"},
            {"role": "tool", "tool_call_id": "call_2", "content": "USER INTERRUPTED"},
        ],
    }


def test_4_2_human_text_to_a_function_call_attaches_user_interrupted():
    user, _ = human("user", "ALWAYS", ["stop that"])
    message = {"role": "assistant", "content": None, "function_call": {"name": "add_num", "arguments": "{}"}}
    reply = user.generate_reply(messages=[message], sender=bot())
    assert reply == {"role": "user", "content": "stop that",
                     "tool_responses": [{"role": "function", "name": "add_num", "content": "USER INTERRUPTED"}]}


def test_4_2_user_interrupted_reply_in_a_chat():
    calls: list[int] = []
    user, _ = human("user", "ALWAYS", ["stop that", "exit"], function_map={"add": lambda a: calls.append(a) or a})
    the_bot = scripted(make_agent("bot"), tool_call_message(tool_call("add", {"a": 1})))
    user.initiate_chat(the_bot, message="start")
    interrupted = [{"role": "tool", "tool_call_id": "call_1", "content": "USER INTERRUPTED"}]
    assert history(user, the_bot)[2] == {"content": "stop that", "tool_responses": interrupted,
                                         "role": "assistant", "name": "user"}
    assert history(the_bot, user)[2] == {"content": "stop that", "tool_responses": interrupted,
                                         "role": "user", "name": "user"}
    assert calls == []  # the human answered instead of the tool


def test_4_2_empty_answer_with_a_limit_continues_the_pipeline():
    the_bot = bot()
    user, _ = human("user", "ALWAYS", [""], max_consecutive_auto_reply=5, default_auto_reply="user auto")
    assert user.generate_reply(messages=[{"content": "q", "role": "user"}], sender=the_bot) == "user auto"
    assert counter(user, the_bot) == 1


@pytest.mark.parametrize("mode", ["ALWAYS", "TERMINATE"])
def test_4_2_empty_answer_with_zero_limit_is_an_empty_message(mode):
    user, _ = human("user", mode, [""], max_consecutive_auto_reply=0, default_auto_reply="user auto")
    reply = user.generate_reply(messages=[{"content": "q", "role": "user"}], sender=bot())
    assert reply == {"role": "user", "content": ""}


# --- §4.2 consequences -------------------------------------------------------------------------------------------

def test_4_2_always_prompts_on_every_message_and_ignores_the_limit():
    user, provider = human("user", "ALWAYS", ["", "", "", "exit"], max_consecutive_auto_reply=1,
                           default_auto_reply="user auto")
    result = user.initiate_chat(bot(), message="start")
    assert contents(result.chat_history) == interleave(["start", "user auto", "user auto", "user auto"])
    assert kinds(provider) == ["always"] * 4


def test_4_2_zero_limit_never_mode_never_replies():
    alice = make_agent("alice", max_consecutive_auto_reply=0, default_auto_reply="alice auto")
    result = alice.initiate_chat(bot(), message="hi")
    assert contents(result.chat_history) == ["hi", "bot says"]


def test_4_2_zero_limit_terminate_mode_prompts_on_every_message_and_sends_empty():
    user, provider = human("user", "TERMINATE", ["", "", "exit"], max_consecutive_auto_reply=0,
                           default_auto_reply="user auto")
    result = user.initiate_chat(bot(), message="start")
    assert contents(result.chat_history) == interleave(["start", "", ""])
    assert kinds(provider) == ["limit"] * 3


def test_4_2_zero_limit_always_mode_sends_empty():
    user, provider = human("user", "ALWAYS", ["", "exit"], max_consecutive_auto_reply=0, default_auto_reply="user auto")
    result = user.initiate_chat(bot(), message="start")
    assert contents(result.chat_history) == interleave(["start", ""])
    assert kinds(provider) == ["always"] * 2


@pytest.mark.parametrize(("mode", "kind"), [("ALWAYS", "always"), ("TERMINATE", "termination")])
def test_4_2_zero_limit_termination_message_still_ends_on_empty_answer(mode, kind):
    user, provider = human("user", mode, [""], max_consecutive_auto_reply=0, default_auto_reply="user auto")
    result = user.initiate_chat(bot("TERMINATE"), message="start")
    assert contents(result.chat_history) == ["start", "TERMINATE"]
    assert kinds(provider) == [kind]


def test_4_2_counters_reset_in_both_directions_at_every_initiate_chat():
    alice = make_agent("alice", max_consecutive_auto_reply=2, default_auto_reply="a")
    bob = make_agent("bob", max_consecutive_auto_reply=2, default_auto_reply="b")
    first = contents(alice.initiate_chat(bob, message="hi").chat_history)
    assert first == ["hi", "b", "a", "b", "a"]  # bob hits his limit
    assert (counter(alice, bob), counter(bob, alice)) == (2, 0)
    # Without a reset alice would stop at once (2 >= 2); bob's direction is shown by the NEVER pair below.
    assert contents(alice.initiate_chat(bob, message="hi").chat_history) == first
    never_a = make_agent("alice", max_consecutive_auto_reply=2, default_auto_reply="alice auto")
    never_b = make_agent("bob", max_consecutive_auto_reply=3, default_auto_reply="bob auto")
    runs = [contents(never_a.initiate_chat(never_b, message="hi").chat_history) for _ in range(2)]
    assert runs[0] == runs[1] and len(runs[0]) == 6
    assert counter(never_b, never_a) == 3


def test_4_2_counters_reset_on_request():
    alice = make_agent("alice", max_consecutive_auto_reply=2, default_auto_reply="alice auto")
    bob = make_agent("bob", max_consecutive_auto_reply=3, default_auto_reply="bob auto")
    for reset in (lambda: bob.reset_consecutive_auto_reply_counter(alice),
                  lambda: bob.reset_consecutive_auto_reply_counter(),
                  bob.reset):
        alice.initiate_chat(bob, message="hi")
        assert counter(bob, alice) == 3
        reset()
        assert counter(bob, alice) == 0


def test_4_2_counters_are_per_sender():
    bob = make_agent("bob", default_auto_reply="bob auto")
    alice, carol = make_agent("alice"), make_agent("carol")
    for sender in (alice, alice, carol):
        sender.send("question", bob, request_reply=True)
    assert (counter(bob, alice), counter(bob, carol)) == (2, 1)


# --- §3.3 get_human_input is the override point ------------------------------------------------------------------

class ScriptedHuman(autogen.ConversableAgent):
    """The way AutoGen users plug in their own input: override get_human_input(self, prompt)."""

    def __init__(self, name: str, answers: list[str], **kwargs):
        super().__init__(name, **kwargs)
        self.answers = list(answers)
        self.prompts: list[str] = []

    def get_human_input(self, prompt: str) -> str:
        self.prompts.append(prompt)
        return self.answers.pop(0)


def test_3_3_get_human_input_override_drives_the_modes():
    user = ScriptedHuman("user", TERMINATE_ANSWERS, human_input_mode="TERMINATE", max_consecutive_auto_reply=1,
                         default_auto_reply="user auto")
    result = user.initiate_chat(bot(), message="start")
    assert user_sent(result) == TERMINATE_SENT
    assert len(user.prompts) == 5 and all(isinstance(p, str) and p for p in user.prompts)
    assert user.answers == []


def test_3_3_get_human_input_override_answers_the_first_message():
    user = ScriptedHuman("user", ["typed task"], human_input_mode="NEVER")
    result = user.initiate_chat(bot(), max_turns=1)
    assert contents(result.chat_history) == ["typed task", "bot says"]
    assert user.prompts == [">"]


def test_3_3_default_human_input_reads_one_line_from_the_console(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("typed on the console\nexit\n"))
    user = make_agent("user", "ALWAYS")  # no provider: the console is the default
    result = user.initiate_chat(bot(), message="start")
    assert contents(result.chat_history) == interleave(["start", "typed on the console"])
    assert result.human_input == ["typed on the console", "exit"]
