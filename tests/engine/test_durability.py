"""Durability: stopping a conversation after any step and resuming it from its JSON snapshot, on fresh
agents built from the same configuration, gives the transcript of an uninterrupted run.

Every scenario is run once without interruption (transcript T, events E); then, for every k, a new run
takes k steps, its snapshot goes through `json.dumps`/`json.loads`, fresh agents are built, the
conversation is restored and run to the end: the transcript must equal T, and the message events of
both halves together must be exactly the messages of T.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any, Callable

import pytest

import workers.agents as autogen
from workers.agents import Conversation, EventLog, HumanInputNeeded, ScriptedInput, SuspendingInput

REPLAY_ASSISTANT = {
    "config_list": [
        {
            "api_type": "replay",
            "model": "replay",
            "replies": [
                "I will compute it.\n```python\nprint(6 * 7)\n```",
                {"tool_calls": [{"name": "add", "arguments": {"a": 40, "b": 2}}]},
                "Both ways give 42. TERMINATE",
            ],
        }
    ]
}


@dataclass
class Scenario:
    build: Callable[[], dict[str, Any]]  # fresh agents by name
    initiator: str
    recipient: str
    start: dict[str, Any]  # Conversation.start keyword arguments
    seed: int | None = None  # random.seed before starting (group "random" selection)


def _transcript(conv: Conversation) -> list[dict]:
    if conv.is_group:
        return [dict(m) for m in conv.recipient.groupchat.messages]
    return [dict(m) for m in conv.initiator.chat_messages[conv.recipient]]


def _without_role(message: dict) -> dict:
    return {k: v for k, v in message.items() if k != "role"}


def _start(scenario: Scenario, agents: dict[str, Any], sink: EventLog) -> Conversation:
    if scenario.seed is not None:
        random.seed(scenario.seed)
    return Conversation.start(agents[scenario.initiator], agents[scenario.recipient], sink=sink, silent=True,
                              **scenario.start)


def _check_every_boundary(scenario: Scenario) -> list[dict]:
    events = EventLog()
    uninterrupted = _start(scenario, scenario.build(), events)
    result = uninterrupted.run()
    expected = _transcript(uninterrupted)
    assert [e for e in events if e["type"] == "finished"][-1]["summary"] == result.summary
    steps = uninterrupted.cursor["steps"]
    assert steps >= 2
    for k in range(steps + 1):
        before_events = EventLog()
        conv = _start(scenario, scenario.build(), before_events)
        for _ in range(k):
            if not conv.step():
                break
        saved = json.dumps(conv.snapshot())

        after_events = EventLog()
        fresh = scenario.build()
        resumed = Conversation.restore(fresh, json.loads(saved), sink=after_events)
        resumed_result = resumed.run()

        assert _transcript(resumed) == expected, f"transcript differs after stopping at step {k}"
        assert resumed_result.summary == result.summary
        assert resumed_result.cost == result.cost
        assert resumed_result.human_input == result.human_input
        delivered = [e["message"] for e in before_events + after_events if e["type"] == "message"]
        assert [_without_role(m) for m in delivered] == [_without_role(m) for m in expected], f"events at k={k}"
        assert resumed.cursor["steps"] == steps
    return expected


def _two_agent_llm_code_tools(tmp_path) -> Scenario:
    def build() -> dict[str, Any]:
        assistant = autogen.AssistantAgent("assistant", llm_config=REPLAY_ASSISTANT)
        user = autogen.UserProxyAgent(
            "user",
            human_input_mode="NEVER",
            is_termination_msg=autogen.ends_with_terminate,
            code_execution_config={"work_dir": str(tmp_path), "use_docker": False},
        )

        @user.register_for_execution()
        @assistant.register_for_llm(description="Add two integers.")
        def add(a: int, b: int) -> int:
            return a + b

        return {"assistant": assistant, "user": user}

    return Scenario(build, "user", "assistant", {"message": "What is 6 times 7?"})


def test_two_agent_chat_with_llm_code_and_tools_resumes_at_every_step(tmp_path):
    expected = _check_every_boundary(_two_agent_llm_code_tools(tmp_path))
    assert expected[2]["content"].startswith("exitcode: 0 (execution succeeded)")
    assert "42" in expected[2]["content"]
    assert expected[3]["tool_calls"][0]["function"]["name"] == "add"
    assert expected[4]["content"] == "42"
    assert expected[-1]["content"] == "Both ways give 42. TERMINATE"
    assert len(expected) == 6


def _history_reply(agent: autogen.ConversableAgent) -> None:
    # Replies depend only on the history, never on a call counter: fresh agents continue identically.
    def reply(recipient, messages, sender, config):
        return True, f"{recipient.name} answers message {len(messages)}"

    agent.register_reply([autogen.Agent, None], reply, position=2)


def test_max_turns_chat_resumes_at_every_step():
    def build() -> dict[str, Any]:
        alice = autogen.ConversableAgent("alice", human_input_mode="NEVER")
        bob = autogen.ConversableAgent("bob", human_input_mode="NEVER", max_consecutive_auto_reply=3)
        _history_reply(alice)
        _history_reply(bob)
        return {"alice": alice, "bob": bob}

    expected = _check_every_boundary(Scenario(build, "alice", "bob", {"message": "hi", "max_turns": 5}))
    # bob's limit of 3 ends the chat before the 5 turns are used (AG2-classic check before each turn)
    assert [m["content"] for m in expected] == [
        "hi", "bob answers message 1", "alice answers message 2", "bob answers message 3",
        "alice answers message 4", "bob answers message 5", "alice answers message 6",
    ]


TERMINATE_ANSWERS = ["", "please continue", "", "", "exit"]


def _terminate_mode_agents(provider: Any) -> dict[str, Any]:
    user = autogen.ConversableAgent("user", max_consecutive_auto_reply=1, default_auto_reply="user auto",
                                    human_input_provider=provider)
    bot = autogen.ConversableAgent("bot", human_input_mode="NEVER", default_auto_reply="bot says")
    return {"user": user, "bot": bot}


class _Human:
    """A provider answering from a list it can be refilled with (a human who answers what comes next)."""

    def __init__(self) -> None:
        self.answers: list[str] = []

    def __call__(self, request) -> str:
        return self.answers.pop(0)


def test_terminate_mode_human_chat_resumes_at_every_step():
    human = _Human()
    scenario = Scenario(lambda: _terminate_mode_agents(human), "user", "bot", {"message": "start"})
    human.answers = list(TERMINATE_ANSWERS)
    uninterrupted = _start(scenario, scenario.build(), EventLog())
    result = uninterrupted.run()
    expected = _transcript(uninterrupted)
    assert result.human_input == TERMINATE_ANSWERS
    assert [m["content"] for m in expected if m["name"] == "user"] == [
        "start", "user auto", "user auto", "please continue", "user auto", "user auto", "user auto"
    ]
    for k in range(uninterrupted.cursor["steps"] + 1):
        human.answers = list(TERMINATE_ANSWERS)
        conv = _start(scenario, scenario.build(), EventLog())
        for _ in range(k):
            if not conv.step():
                break
        saved = json.loads(json.dumps(conv.snapshot()))
        # The restored half's human answers the questions not asked yet.
        human.answers = TERMINATE_ANSWERS[len(saved["agents"]["user"]["human_input"]):]
        resumed = Conversation.restore(scenario.build(), saved)
        assert resumed.run().human_input == TERMINATE_ANSWERS, k
        assert _transcript(resumed) == expected, k
        assert human.answers == []


def test_suspension_restores_in_fresh_agents_and_matches_the_scripted_run():
    scripted = ScriptedInput(TERMINATE_ANSWERS)
    reference = _terminate_mode_agents(scripted)
    expected_result = reference["user"].initiate_chat(reference["bot"], message="start", silent=True)
    expected = [dict(m) for m in expected_result.chat_history]

    events = EventLog()
    agents = _terminate_mode_agents(SuspendingInput())
    conv = Conversation.start(agents["user"], agents["bot"], "start", silent=True, sink=events)
    answers = list(TERMINATE_ANSWERS)
    requests = []
    while True:
        try:
            result = conv.run()
            break
        except HumanInputNeeded as needed:
            assert needed.conversation is conv
            snapshot = json.dumps(conv.snapshot())
        state = json.loads(snapshot)
        assert state["pending"]["waiting"] is True
        requests.append(state["pending"]["request"])
        # A different process: fresh agents, restore, answer, continue.
        agents = _terminate_mode_agents(SuspendingInput())
        conv = Conversation.restore(agents, state, sink=events)
        assert conv.waiting
        assert conv.step() is False  # no answer yet: nothing happens
        conv.answer(answers.pop(0))
    assert answers == []
    assert [dict(m) for m in result.chat_history] == expected
    assert result.human_input == TERMINATE_ANSWERS
    assert result.summary == expected_result.summary
    assert requests == scripted.requests
    assert [e["request"] for e in events if e["type"] == "human_input_needed"] == scripted.requests
    assert [e["message"]["content"] for e in events if e["type"] == "message"] == [m["content"] for m in expected]


def test_a_suspended_step_changes_nothing():
    agents = _terminate_mode_agents(SuspendingInput())
    conv = Conversation.start(agents["user"], agents["bot"], "start", silent=True)
    while conv.step():
        pass
    assert conv.waiting
    frozen = json.dumps(conv.snapshot())
    conv.answer("")  # the same prompt again: the step re-runs, then suspends at the next prompt
    while conv.step():
        pass
    assert conv.waiting
    user_history = conv.snapshot()["agents"]["user"]["histories"]["bot"]
    assert len(user_history) > len(json.loads(frozen)["agents"]["user"]["histories"]["bot"])
    again = Conversation.restore(_terminate_mode_agents(SuspendingInput()), json.loads(frozen))
    assert json.dumps(again.snapshot()) == frozen


def _group_agents(method: str, max_round: int, provider: Any = None) -> dict[str, Any]:
    members = []
    for name in ("alice", "bob", "carol"):
        agent = autogen.ConversableAgent(name, human_input_mode="NEVER")
        _history_reply(agent)
        members.append(agent)
    user = autogen.ConversableAgent("user", human_input_mode="NEVER", default_auto_reply="noted")
    group = autogen.GroupChat(agents=[user, *members], messages=[], max_round=max_round,
                              speaker_selection_method=method)
    extra = {"human_input_provider": provider} if provider is not None else {}
    manager = autogen.GroupChatManager(groupchat=group, llm_config=False, **extra)
    return {a.name: a for a in [user, *members, manager]}


@pytest.mark.parametrize("method", ["round_robin", "random"])
def test_group_chat_resumes_at_every_step(method):
    scenario = Scenario(lambda: _group_agents(method, 7), "user", "chat_manager", {"message": "plan the work"},
                        seed=11)
    expected = _check_every_boundary(scenario)
    assert len(expected) == 7
    assert expected[0]["content"] == "plan the work"
    if method == "round_robin":
        assert [m["name"] for m in expected] == ["user", "alice", "bob", "carol", "user", "alice", "bob"]


def test_group_manual_selection_with_two_answers_in_one_step_suspends_and_resumes():
    answers = ["abc", "4", "", "2"]  # invalid then carol; then no choice (round robin: user) then alice
    scripted = ScriptedInput(answers)
    reference = _group_agents("manual", 4, provider=scripted)
    reference["user"].initiate_chat(reference["chat_manager"], message="go", silent=True)
    expected = [dict(m) for m in reference["chat_manager"].groupchat.messages]
    assert [m["name"] for m in expected] == ["user", "carol", "user", "alice"]

    agents = _group_agents("manual", 4, provider=SuspendingInput())
    conv = Conversation.start(agents["user"], agents["chat_manager"], "go", silent=True)
    remaining = list(answers)
    pending_answers = []
    while True:
        try:
            conv.run()
            break
        except HumanInputNeeded:
            state = json.loads(json.dumps(conv.snapshot()))
        pending_answers.append(list(state["pending"]["answers"]))
        assert state["pending"]["request"]["kind"] == "manual_selection"
        assert state["pending"]["request"]["choices"]
        agents = _group_agents("manual", 4, provider=SuspendingInput())
        conv = Conversation.restore(agents, state)
        conv.answer(remaining.pop(0))
    assert [dict(m) for m in agents["chat_manager"].groupchat.messages] == expected
    # The second answer of a selection is asked after replaying the first one within the same step.
    assert pending_answers == [[], ["abc"], [], []]


def _group_with_human(provider: Any) -> dict[str, Any]:
    agents = _group_agents("round_robin", 6)
    human = autogen.ConversableAgent("human", human_input_mode="ALWAYS", default_auto_reply="human auto",
                                     human_input_provider=provider)
    members = [*agents["chat_manager"].groupchat.agents[1:], human]
    group = autogen.GroupChat(agents=[agents["user"], *members], messages=[], max_round=10,
                              speaker_selection_method="round_robin")
    manager = autogen.GroupChatManager(groupchat=group, llm_config=False)
    return {a.name: a for a in [*group.agents, manager]}


def test_group_member_asking_its_human_suspends_and_resumes_identically():
    answers = ["my view", ""]
    reference = _group_with_human(ScriptedInput(answers))
    reference["user"].initiate_chat(reference["chat_manager"], message="go", silent=True)
    expected = [dict(m) for m in reference["chat_manager"].groupchat.messages]
    assert [m["content"] for m in expected if m["name"] == "human"] == ["my view", "human auto"]

    agents = _group_with_human(SuspendingInput())
    conv = Conversation.start(agents["user"], agents["chat_manager"], "go", silent=True)
    remaining = list(answers)
    while True:
        try:
            result = conv.run()
            break
        except HumanInputNeeded:
            state = json.loads(json.dumps(conv.snapshot()))
        assert state["pending"]["request"]["agent"] == "human"
        assert state["pending"]["request"]["sender"] == "chat_manager"
        agents = _group_with_human(SuspendingInput())
        conv = Conversation.restore(agents, state)
        conv.answer(remaining.pop(0))
    assert remaining == []
    assert [dict(m) for m in agents["chat_manager"].groupchat.messages] == expected
    assert agents["human"].human_input == answers
    assert result.chat_history[0]["content"] == "go"


def test_a_nested_chat_with_a_human_resumes_through_the_outer_step():
    def build(provider: Any) -> dict[str, Any]:
        boss = autogen.ConversableAgent("boss", human_input_mode="NEVER")
        worker = autogen.ConversableAgent("worker", human_input_mode="NEVER")
        helper = autogen.ConversableAgent("helper", human_input_mode="NEVER", default_auto_reply="helper notes")
        asker = autogen.ConversableAgent("asker", human_input_mode="ALWAYS", human_input_provider=provider)

        def consult(recipient, messages, sender, config):
            inner = asker.initiate_chat(helper, message="what do you think?", silent=True)
            return True, f"consulted: {inner.chat_history[-1]['content']} / {inner.human_input}"

        worker.register_reply([autogen.Agent, None], consult, position=2)
        return {"boss": boss, "worker": worker}

    agents = build(ScriptedInput(["my advice", "exit"]))
    expected = agents["boss"].initiate_chat(agents["worker"], message="task", max_turns=1, silent=True).chat_history

    agents = build(SuspendingInput())
    conv = Conversation.start(agents["boss"], agents["worker"], "task", max_turns=1, silent=True)
    remaining = ["my advice", "exit"]
    while True:
        try:
            result = conv.run()
            break
        except HumanInputNeeded:
            state = json.loads(json.dumps(conv.snapshot()))
        assert state["pending"]["request"]["agent"] == "asker"
        conv = Conversation.restore(build(SuspendingInput()), state)
        conv.answer(remaining.pop(0))
    assert [dict(m) for m in result.chat_history] == [dict(m) for m in expected]
    assert result.chat_history[1]["content"] == "consulted: helper notes / ['my advice', 'exit']"
