"""The group loop as a resumable stepper, its JSON state, events, resume (§8.5) and loop extras."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from workers.agents import events
from workers.agents.agent import ConversableAgent
from workers.agents.groupchat import GroupChat, GroupChatManager, GroupChatStepper
from workers.agents.human import HumanInputNeeded, ScriptedInput, SuspendingInput


def member(name: str, reply=None, **kwargs) -> ConversableAgent:
    kwargs.setdefault("human_input_mode", "NEVER")
    return ConversableAgent(name, llm_config=False, default_auto_reply=reply or f"This is {name} speaking.", **kwargs)


def speakers(gc: GroupChat) -> list[str]:
    return [m["name"] for m in gc.messages]


def build(method="random", max_round=9, **gc_kwargs):
    """A fresh team built from one fixed configuration (as a worker rebuilds it from the crew)."""
    alice = member("alice", max_consecutive_auto_reply=2)
    bob, carol = member("bob"), member("carol", max_consecutive_auto_reply=3)
    gc = GroupChat(agents=[alice, bob, carol], messages=[], max_round=max_round,
                   speaker_selection_method=method, **gc_kwargs)
    manager = GroupChatManager(gc, llm_config=False, silent=True)
    return manager, {a.name: a for a in (alice, bob, carol, manager)}


def start(manager: GroupChatManager, initiator, message="let us begin", seed=11) -> GroupChatStepper:
    """Send the opening without asking for a reply (fresh agents), then let the stepper run the loop."""
    initiator.send(message, manager, request_reply=False, silent=True)
    return manager.make_stepper(initiator, seed=seed)


def snapshot(stepper: GroupChatStepper, agents: dict) -> dict:
    state = {"stepper": stepper.to_state(), "agents": {n: a._get_state() for n, a in agents.items()}}
    return json.loads(json.dumps(state))  # what a worker would persist


def restore(state: dict) -> tuple[GroupChatStepper, dict]:
    manager, agents = build()
    for name, agent in agents.items():
        agent._set_state(state["agents"][name], agents)
    return GroupChatStepper.from_state(manager, state["stepper"], agents), agents


def histories(agents: dict) -> dict:
    return {n: a._get_state()["histories"] for n, a in agents.items()}


def test_a_round_is_two_steps_select_then_reply():
    manager, agents = build(method="round_robin", max_round=3)
    stepper = start(manager, agents["alice"])
    phases, results = [], []
    while True:
        results.append(stepper.step())
        phases.append(stepper.phase)
        if not results[-1]:
            break
    assert phases == ["select", "reply", "select", "reply", "done"]
    assert results == [True, True, True, True, False]
    assert stepper.finished_reason == "max rounds" and stepper.step() is False
    assert speakers(manager.groupchat) == ["alice", "bob", "carol"]


@pytest.mark.parametrize("reason, setup", [
    ("manager termination", {"is_termination_msg": lambda m: "bob" in (m.get("content") or "")}),
    ("no next speaker", {"speaker_selection_method": lambda last, gc: None}),
])
def test_finished_reasons(reason, setup):
    alice, bob = member("alice"), member("bob")
    gc = GroupChat(agents=[alice, bob], messages=[], speaker_selection_method=setup.get("speaker_selection_method",
                                                                                        "round_robin"))
    manager = GroupChatManager(gc, llm_config=False, is_termination_msg=setup.get("is_termination_msg"))
    stepper = start(manager, alice)
    while stepper.step():
        pass
    assert stepper.finished_reason == reason


def test_no_reply_generated_reason():
    manager, agents = build(method="round_robin", max_round=30)
    stepper = start(manager, agents["alice"])
    while stepper.step():
        pass
    # alice's limit of 2 against the manager runs out first.
    assert stepper.finished_reason == "no reply generated"
    assert speakers(manager.groupchat) == ["alice", "bob", "carol", "alice", "bob", "carol", "alice", "bob", "carol"]


def _uninterrupted() -> tuple[list[dict], dict, int, str]:
    manager, agents = build()
    stepper = start(manager, agents["alice"])
    steps = 1
    while stepper.step():
        steps += 1
    return manager.groupchat.messages, histories(agents), steps, stepper.finished_reason


def test_state_is_json_and_restoring_at_any_step_gives_the_same_chat():
    transcript, expected_histories, total_steps, reason = _uninterrupted()
    assert len(set(m["name"] for m in transcript)) > 1 and total_steps > 6
    for cut in range(total_steps):
        manager, agents = build()
        stepper = start(manager, agents["alice"])
        for _ in range(cut):
            stepper.step()
        state = snapshot(stepper, agents)
        resumed, new_agents = restore(state)
        assert resumed.phase == stepper.phase and resumed.round == stepper.round
        while resumed.step():
            pass
        assert resumed.groupchat.messages == transcript, f"cut after {cut} steps"
        assert histories(new_agents) == expected_histories, f"cut after {cut} steps"
        assert resumed.finished_reason == reason


def test_state_contents():
    manager, agents = build(method="round_robin")
    stepper = start(manager, agents["alice"])
    stepper.step()
    stepper.step()
    state = stepper.to_state()
    assert state["phase"] == "reply" and state["round"] == 0
    assert state["last_speaker"] == "alice" and state["next_speaker"] == "bob"
    assert state["messages"] == [{"content": "let us begin", "role": "user", "name": "alice"}]
    assert isinstance(state["random_state"], list)
    assert state["messages"] is not manager.groupchat.messages  # detached from live objects
    with pytest.raises(ValueError, match="state"):
        GroupChatStepper.from_state(manager, {"version": 99}, agents)
    broken = dict(state, next_speaker="zoe")
    with pytest.raises(ValueError, match="zoe"):
        GroupChatStepper.from_state(manager, broken, agents)


def test_restore_keeps_the_users_transcript_list():
    manager, agents = build(method="round_robin")
    stepper = start(manager, agents["alice"])
    stepper.step()
    state = stepper.to_state()
    fresh_manager, fresh_agents = build(method="round_robin")
    transcript = fresh_manager.groupchat.messages
    GroupChatStepper.from_state(fresh_manager, state, fresh_agents)
    assert fresh_manager.groupchat.messages is transcript and len(transcript) == 1


def test_manual_selection_suspends_without_changing_anything():
    alice, bob, carol = member("alice"), member("bob"), member("carol")
    gc = GroupChat(agents=[alice, bob, carol], messages=[], speaker_selection_method="manual")
    manager = GroupChatManager(gc, llm_config=False, human_input_provider=SuspendingInput())
    stepper = start(manager, alice)
    stepper.step()
    before = stepper.to_state()
    with pytest.raises(HumanInputNeeded) as raised:
        stepper.step()
    assert raised.value.request["kind"] == "manual_selection"
    assert raised.value.request["choices"] == ["alice", "bob", "carol"]
    assert raised.value.request["agent"] == "chat_manager"
    assert stepper.to_state() == before
    manager.human_input_provider = ScriptedInput(["2"])
    stepper.step()
    assert stepper.next_speaker is bob


def test_events_for_messages_and_selections():
    manager, agents = build(method="round_robin", max_round=3)
    log = events.EventLog()
    with events.installed(log, "conv-7"):
        stepper = start(manager, agents["alice"])
        while stepper.step():
            pass
    messages = log.of_type("message")
    assert [(e["sender"], e["recipient"], e["round"], e["message"]["content"]) for e in messages] == [
        ("alice", "chat_manager", 0, "let us begin"),
        ("bob", "chat_manager", 1, "This is bob speaking."),
        ("carol", "chat_manager", 2, "This is carol speaking."),
    ]
    assert all(e["conversation_id"] == "conv-7" for e in log)
    assert [(e["speaker"], e["method"], e["round"]) for e in log.of_type("speaker_selected")] == [
        ("bob", "round_robin", 1), ("carol", "round_robin", 2)]
    # Selection is reported before the selected speaker's message.
    kinds = [(e["type"], e.get("round")) for e in log if e["type"] in ("message", "speaker_selected")]
    assert kinds == [("message", 0), ("speaker_selected", 1), ("message", 1), ("speaker_selected", 2), ("message", 2)]


def test_random_state_survives_json():
    manager, agents = build()
    stepper = start(manager, agents["alice"], seed=3)
    state = json.loads(json.dumps(stepper.to_state()))
    twin = GroupChatStepper.from_state(build()[0], state, agents)
    assert [stepper.rng.random() for _ in range(5)] == [twin.rng.random() for _ in range(5)]


def test_make_stepper_needs_an_opening():
    manager, agents = build()
    with pytest.raises(ValueError, match="alice"):
        manager.make_stepper(agents["alice"])


# ----------------------------------------------------------------------------------- async


def test_async_chat_matches_the_sync_chat():
    async def run() -> list[str]:
        alice, bob, carol = member("alice"), member("bob"), member("carol")
        gc = GroupChat(agents=[alice, bob, carol], messages=[], max_round=5, speaker_selection_method="round_robin")
        manager = GroupChatManager(gc, llm_config=False)
        await alice.a_initiate_chat(manager, message="async start")
        return speakers(gc)

    assert asyncio.run(run()) == ["alice", "bob", "carol", "alice", "bob"]


def test_async_speakers_reply_through_async_functions():
    async def run() -> list[str]:
        alice, bob = member("alice"), member("bob")

        async def bob_async(recipient, messages, sender, config):
            await asyncio.sleep(0)
            return True, "bob, asynchronously"

        bob.register_reply([ConversableAgent, None], bob_async, position=0)
        gc = GroupChat(agents=[alice, bob], messages=[], max_round=2, speaker_selection_method="round_robin")
        manager = GroupChatManager(gc, llm_config=False)
        await alice.a_initiate_chat(manager, message="go")
        return [m["content"] for m in gc.messages]

    assert asyncio.run(run()) == ["go", "bob, asynchronously"]


# ----------------------------------------------------------------------------------- resume (§8.5)


def _previous_transcript() -> list[dict]:
    return [
        {"content": "go", "role": "user", "name": "alice"},
        {"content": "This is bob speaking.", "role": "user", "name": "bob"},
        {"content": "Finished here TERMINATE", "role": "user", "name": "carol"},
    ]


def test_resume_replays_all_but_the_last_message_and_continues(caplog):
    manager, agents = build(method="round_robin", max_round=4)
    gc = manager.groupchat
    gc.messages.append({"content": "stale", "role": "user", "name": "bob"})
    last_agent, last_message = manager.resume(_previous_transcript(), remove_termination_string="TERMINATE", silent=True)
    assert last_agent is agents["carol"]
    assert last_message["content"] == "Finished here "
    assert [m["content"] for m in gc.messages] == ["go", "This is bob speaking."]
    bob_view = [(m["role"], m["content"]) for m in agents["bob"].chat_messages[manager]]
    assert bob_view == [("user", "go"), ("assistant", "This is bob speaking.")]
    assert [m["role"] for m in agents["carol"].chat_messages[manager]] == ["user", "user"]

    last_agent.initiate_chat(manager, message=last_message, clear_history=False, silent=True)
    assert speakers(gc) == ["alice", "bob", "carol", "alice", "bob", "carol"]


def test_resume_accepts_json_and_a_callable_and_warns_when_still_terminating(caplog):
    manager, agents = build(method="round_robin")
    text = manager.messages_to_string(_previous_transcript())
    with caplog.at_level(logging.WARNING):
        _, last = manager.resume(text, remove_termination_string=lambda s: s.lower(), silent=True)
    assert last["content"] == "finished here terminate"
    assert "termination" not in caplog.text
    exact = _previous_transcript()
    exact[-1]["content"] = "TERMINATE"
    with caplog.at_level(logging.WARNING):
        manager.resume(exact, silent=True)
    assert "termination" in caplog.text


def test_resume_names_and_validation():
    manager, agents = build(method="round_robin")
    with pytest.raises(ValueError, match="zoe"):
        manager.resume([{"content": "hi", "role": "user", "name": "zoe"}], silent=True)
    with pytest.raises(ValueError, match="empty"):
        manager.resume([], silent=True)
    with pytest.raises(ValueError, match="messages"):
        manager.resume("not json".split(), silent=True)
    # Messages without a name came from a ChatResult: the manager is taken as their speaker.
    last_agent, _ = manager.resume([{"content": "a", "role": "user", "name": "Admin"},
                                    {"content": "b", "role": "user"}], silent=True)
    assert last_agent is manager
    assert manager.groupchat.messages == [{"content": "a", "role": "user", "name": "Admin"}]


def test_resume_turns_introductions_off():
    manager, agents = build(method="round_robin", max_round=2, send_introductions=True)
    last_agent, last_message = manager.resume(_previous_transcript()[:2], silent=True)
    last_agent.initiate_chat(manager, message=last_message, clear_history=False, silent=True)
    intro = manager.groupchat.introductions_msg()
    assert manager.groupchat.send_introductions is False
    assert all(m["content"] != intro for a in agents.values() for h in a.chat_messages.values() for m in h)


# ----------------------------------------------------------------------------------- loop extras


def test_clear_history_command_in_a_reply():
    alice, bob = member("alice"), member("bob")
    carol = member("carol", {"content": "Done. clear history 1"})
    gc = GroupChat(agents=[alice, bob, carol], messages=[], max_round=4, speaker_selection_method="round_robin",
                   enable_clear_history=True)
    manager = GroupChatManager(gc, llm_config=False)
    alice.initiate_chat(manager, message="go", silent=True)
    assert [m["content"] for m in gc.messages] == ["This is bob speaking.", "Done.", "This is alice speaking."]
    assert [m["content"] for m in bob.chat_messages[manager]] == [
        "This is bob speaking.", "Done.", "This is alice speaking."]


def test_clear_history_is_off_by_default():
    alice, bob = member("alice"), member("bob", {"content": "please clear history"})
    gc = GroupChat(agents=[alice, bob], messages=[], max_round=2, speaker_selection_method="round_robin")
    manager = GroupChatManager(gc, llm_config=False)
    alice.initiate_chat(manager, message="go", silent=True)
    assert [m["content"] for m in gc.messages] == ["go", "please clear history"]


def _interrupting(name: str) -> ConversableAgent:
    agent = member(name)

    def interrupt(recipient, messages, sender, config):
        raise KeyboardInterrupt

    agent.register_reply([ConversableAgent, None], interrupt, position=0)
    return agent


def test_keyboard_interrupt_lets_the_admin_speak():
    alice, bob, admin = member("alice"), _interrupting("bob"), member("Admin", "Admin takes over.")
    gc = GroupChat(agents=[alice, bob, admin], messages=[], max_round=3, speaker_selection_method="round_robin")
    manager = GroupChatManager(gc, llm_config=False)
    alice.initiate_chat(manager, message="go", silent=True)
    assert speakers(gc) == ["alice", "Admin", "alice"]


def test_keyboard_interrupt_without_an_admin_propagates():
    alice, bob = member("alice"), _interrupting("bob")
    gc = GroupChat(agents=[alice, bob], messages=[], speaker_selection_method="round_robin")
    manager = GroupChatManager(gc, llm_config=False)
    with pytest.raises(KeyboardInterrupt):
        alice.initiate_chat(manager, message="go", silent=True)


def test_messages_with_non_json_context_still_run():
    """Conversation captures the stepper state before every step; odd content must not break a chat."""
    alice, bob = member("alice"), member("bob")
    gc = GroupChat(agents=[alice, bob], messages=[], max_round=2, speaker_selection_method="round_robin")
    manager = GroupChatManager(gc, llm_config=False, silent=True)
    marker = object()
    alice.initiate_chat(manager, message={"content": "hi", "context": {"handle": marker}}, silent=True)
    assert [m["content"] for m in gc.messages] == ["hi", "This is bob speaking."]
    assert gc.messages[0]["context"]["handle"] is marker
