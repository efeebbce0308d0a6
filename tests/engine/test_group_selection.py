"""The speaker selection pipeline without an LLM (spec §8.3) and the name parser (§8.4)."""

from __future__ import annotations

import logging
import random

import pytest

from workers.agents.agent import ConversableAgent
from workers.agents.groupchat import GroupChat, GroupChatManager
from workers.agents.human import ScriptedInput
from workers.agents.auto_selection import mentioned_agents
from workers.agents.selection import NoEligibleSpeakerError


def member(name: str, reply: str | None = None, **kwargs) -> ConversableAgent:
    kwargs.setdefault("human_input_mode", "NEVER")
    return ConversableAgent(name, llm_config=False, default_auto_reply=reply or f"This is {name} speaking.", **kwargs)


def speakers(groupchat: GroupChat) -> list[str]:
    return [m["name"] for m in groupchat.messages]


def run(gc: GroupChat, initiator, message: str = "start", **manager_kwargs) -> GroupChatManager:
    manager_kwargs.setdefault("llm_config", False)
    manager = GroupChatManager(gc, **manager_kwargs)
    initiator.initiate_chat(manager, message=message)
    return manager


# ----------------------------------------------------------------------------------- callable method


def test_callable_returning_agents_bypasses_every_filter():
    alice, bob, carol = member("alice"), member("bob"), member("carol")
    calls = []

    def always_bob(last_speaker, groupchat):
        calls.append((last_speaker.name, len(groupchat.messages)))
        return bob

    gc = GroupChat(agents=[alice, bob, carol], messages=[], max_round=4, speaker_selection_method=always_bob,
                   allow_repeat_speaker=False)
    run(gc, alice)
    # Repeats are not allowed, yet the callable's member is used as-is.
    assert speakers(gc) == ["alice", "bob", "bob", "bob"]
    assert calls == [("alice", 1), ("bob", 2), ("bob", 3)]


def test_callable_returning_a_method_name_uses_that_method():
    alice, bob, carol = member("alice"), member("bob"), member("carol")
    gc = GroupChat(agents=[alice, bob, carol], messages=[], max_round=5,
                   speaker_selection_method=lambda last, groupchat: "RounD_roBin")
    run(gc, alice)
    assert speakers(gc) == ["alice", "bob", "carol", "alice", "bob"]


def test_callable_returning_none_ends_gracefully():
    alice, bob = member("alice"), member("bob")
    gc = GroupChat(agents=[alice, bob], messages=[],
                   speaker_selection_method=lambda last, groupchat: None if len(groupchat.messages) > 1 else bob)
    run(gc, alice)
    assert speakers(gc) == ["alice", "bob"]


@pytest.mark.parametrize("returned", ["non-member", 42])
def test_callable_returning_a_non_member_or_other_type_raises(returned):
    alice, bob, stranger = member("alice"), member("bob"), member("stranger")
    value = stranger if returned == "non-member" else returned
    gc = GroupChat(agents=[alice, bob], messages=[], speaker_selection_method=lambda last, groupchat: value)
    with pytest.raises(ValueError, match="speaker_selection_method"):
        run(gc, alice)


def test_callable_returning_an_unknown_method_name_raises():
    alice, bob = member("alice"), member("bob")
    gc = GroupChat(agents=[alice, bob], messages=[], speaker_selection_method=lambda last, groupchat: "loudest")
    with pytest.raises(ValueError, match="loudest"):
        run(gc, alice)


# ----------------------------------------------------------------------------------- manual method


def test_manual_answers_pick_fall_back_and_give_up_after_two():
    alice, bob, carol = member("alice"), member("bob"), member("carol")
    gc = GroupChat(agents=[alice, bob, carol], messages=[], max_round=4, speaker_selection_method="manual")
    answers = ScriptedInput(["3", "", "abc", "9"])
    manager = run(gc, alice, human_input_provider=answers)
    assert speakers(gc) == ["alice", "carol", "alice", "bob"]
    assert answers.remaining == []
    requests = answers.requests
    assert [r["kind"] for r in requests] == ["manual_selection"] * 4
    assert requests[0]["choices"] == ["alice", "bob", "carol"] and requests[0]["agent"] == manager.name
    assert "1: alice" in requests[0]["prompt"]
    assert "abc" in requests[3]["prompt"]  # the second answer is asked with the error shown
    assert manager.human_input == []  # selection answers are not recorded, as in the reference


def test_manual_numbers_refer_to_the_filtered_candidates():
    alice, bob, carol = member("alice"), member("bob"), member("carol")
    gc = GroupChat(agents=[alice, bob, carol], messages=[], max_round=5, speaker_selection_method="manual",
                   allow_repeat_speaker=False)
    answers = ScriptedInput(["1"] * 4)
    run(gc, alice, human_input_provider=answers)
    assert speakers(gc) == ["alice", "bob", "alice", "bob", "alice"]
    assert answers.requests[0]["choices"] == ["bob", "carol"]
    assert answers.requests[1]["choices"] == ["alice", "carol"]


def test_manual_q_means_no_choice_and_round_robin_over_all_agents():
    alice, bob, carol = member("alice"), member("bob"), member("carol")
    # Repeats are off, but the no-choice fallback goes round the whole group after the last speaker.
    gc = GroupChat(agents=[alice, bob, carol], messages=[], max_round=3, speaker_selection_method="manual",
                   allow_repeat_speaker=[alice])
    run(gc, carol, human_input_provider=ScriptedInput(["q", "q"]))
    assert speakers(gc) == ["carol", "alice", "bob"]


def test_manual_spelled_with_a_capital_falls_through_to_auto():
    alice, bob, carol = member("alice"), member("bob"), member("carol")
    gc = GroupChat(agents=[alice, bob, carol], messages=[], speaker_selection_method="Manual")
    # No choice is made, the case-sensitive check misses, so "auto" runs and needs an LLM.
    with pytest.raises(ValueError, match="LLM"):
        run(gc, alice, human_input_provider=ScriptedInput([""]))


# ----------------------------------------------------------------------------------- random method


def _random_run(seed: int) -> list[str]:
    agents = [member(n) for n in ("alice", "bob", "carol", "dave")]
    gc = GroupChat(agents=agents, messages=[], max_round=12, speaker_selection_method="random")
    random.seed(seed)
    run(gc, agents[0])
    return speakers(gc)


def test_random_is_reproducible_with_a_seed():
    first, again, other = _random_run(7), _random_run(7), _random_run(8)
    assert first == again
    assert first != other  # 11 draws from 4 agents: equal sequences would be a 4**-11 coincidence
    assert set(first) <= {"alice", "bob", "carol", "dave"}


def test_random_respects_the_candidates():
    alice, bob, carol = member("alice"), member("bob"), member("carol")
    gc = GroupChat(agents=[alice, bob, carol], messages=[], max_round=20, speaker_selection_method="random",
                   allow_repeat_speaker=False)
    run(gc, alice)
    names = speakers(gc)
    assert all(a != b for a, b in zip(names, names[1:]))  # never the same speaker twice in a row


# ----------------------------------------------------------------------------------- filters


def test_tool_filter_picks_the_only_executor():
    alice = member("alice")
    bob = member("bob")
    runner = member("runner", function_map={"add": lambda a, b: a + b})
    gc = GroupChat(agents=[alice, bob, runner], messages=[], speaker_selection_method="round_robin")
    gc.messages.append({"content": "", "role": "assistant", "name": "alice",
                        "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "add", "arguments": "{}"}}]})
    assert gc.select_speaker(alice, GroupChatManager(gc, llm_config=False)) is runner


def test_tool_filter_without_any_function_map_raises():
    alice, bob = member("alice"), member("bob")
    gc = GroupChat(agents=[alice, bob], messages=[], speaker_selection_method="round_robin")
    gc.messages.append({"content": None, "role": "assistant", "function_call": {"name": "f", "arguments": "{}"}})
    with pytest.raises(ValueError, match="no agent can execute the function f"):
        gc.select_speaker(alice, GroupChatManager(gc, llm_config=False))
    # With the filter off, the call is ignored and normal selection happens.
    gc2 = GroupChat(agents=[alice, bob], messages=list(gc.messages), speaker_selection_method="round_robin",
                    func_call_filter=False)
    assert gc2.select_speaker(alice, GroupChatManager(gc2, llm_config=False)) is bob


def test_repeat_list_allows_only_the_listed_agents_twice():
    alice, bob = member("alice"), member("bob")
    gc = GroupChat(agents=[alice, bob], messages=[], speaker_selection_method="random", allow_repeat_speaker=[alice])
    manager = GroupChatManager(gc, llm_config=False)
    rng = random.Random(1)
    assert {gc.select_speaker(bob, manager, rng) for _ in range(20)} == {alice}
    assert {gc.select_speaker(alice, manager, rng) for _ in range(40)} == {alice, bob}


def test_empty_graph_filter_is_dropped_and_every_agent_is_considered():
    alice, zed = member("alice"), member("zed")
    x, y = member("x", function_map={"g": len}), member("y", function_map={"g": len})
    gc = GroupChat(agents=[alice, zed, x, y], messages=[], speaker_selection_method="round_robin",
                   allowed_or_disallowed_speaker_transitions={alice: [alice], zed: [x], x: [y], y: [x]},
                   speaker_transitions_type="allowed")
    manager = GroupChatManager(gc, llm_config=False)
    assert gc.select_speaker(alice, manager) is alice  # a single graph candidate is chosen at once
    gc.messages.append({"content": "", "role": "assistant", "name": "alice",
                        "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "g", "arguments": "{}"}}]})
    # The tool filter keeps x and y; alice's only target is alice: nothing is left, so the filter is
    # dropped and round robin goes over the whole group after alice (zed, who cannot even run "g").
    assert gc.select_speaker(alice, manager) is zed


def test_two_agents_with_repeats_allowed_warn(caplog):
    alice, bob = member("alice"), member("bob")
    gc = GroupChat(agents=[alice, bob], messages=[], speaker_selection_method="random")
    with caplog.at_level(logging.WARNING):
        gc.select_speaker(alice, GroupChatManager(gc, llm_config=False), random.Random(0))
    assert "two agents" in caplog.text


def test_fewer_than_two_agents_raise_at_selection():
    alice = member("alice")
    gc = GroupChat(agents=[alice], messages=[], speaker_selection_method="round_robin")
    with pytest.raises(ValueError, match="at least 2 agents"):
        gc.select_speaker(alice, GroupChatManager(gc, llm_config=False))


def test_sink_member_raises_no_eligible_speaker():
    alice, bob = member("alice"), member("bob")
    gc = GroupChat(agents=[alice, bob], messages=[], speaker_selection_method="round_robin",
                   allowed_or_disallowed_speaker_transitions={alice: [bob]}, speaker_transitions_type="allowed")
    with pytest.raises(NoEligibleSpeakerError):
        gc.select_speaker(bob, GroupChatManager(gc, llm_config=False))


# ----------------------------------------------------------------------------------- name parser


def _names(*names: str):
    return [member(n) for n in names]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("alice", {"alice": 1}),
        ("alice.", {"alice": 1}),
        ("Alice", {}),
        ("xalice", {}),
        ("[bob]", {"bob": 1}),
        ("alice! .alice. .alice", {"alice": 3}),
        ("sam samantha basam asami", {"sam": 1}),
        ("alice and bob", {"alice": 1, "bob": 1}),
        ("", {}),
        (None, {}),
    ],
)
def test_name_parser_examples(text, expected):
    assert mentioned_agents(text, _names("alice", "bob", "sam")) == expected


@pytest.mark.parametrize("text, hit", [("Story writer", True), ("Story\\_writer", True), ("Story_writer", True),
                                       ("Story_Writer", False)])
def test_name_parser_underscore_forms(text, hit):
    assert mentioned_agents(text, _names("Story_writer")) == ({"Story_writer": 1} if hit else {})


def test_name_parser_escapes_regex_characters_and_reads_dicts_and_parts():
    agents = _names("c++", "a.b")
    assert mentioned_agents("use c++ now", agents) == {"c++": 1}
    assert mentioned_agents("axb", agents) == {}
    assert mentioned_agents({"content": "a.b"}, agents) == {"a.b": 1}
    assert mentioned_agents([{"type": "text", "text": "then a.b"}], agents) == {"a.b": 1}
