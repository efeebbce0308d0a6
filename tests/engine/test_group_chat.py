"""GroupChat construction and the manager loop (spec §8.1, §8.2, §8.5 introductions), through real agents."""

from __future__ import annotations

import logging
import sys

import pytest

import workers.agents as autogen
from workers.agents.agent import ConversableAgent
from workers.agents.groupchat import GroupChat, GroupChatManager


def member(name: str, reply: str | None = None, **kwargs) -> ConversableAgent:
    """A member without an LLM that always answers `reply` (its default auto reply)."""
    kwargs.setdefault("human_input_mode", "NEVER")
    return ConversableAgent(name, llm_config=False, default_auto_reply=reply or f"This is {name} speaking.", **kwargs)


def speakers(groupchat: GroupChat) -> list[str]:
    return [m["name"] for m in groupchat.messages]


def contents(groupchat: GroupChat) -> list[str]:
    return [m["content"] for m in groupchat.messages]


def trio(**gc_kwargs):
    alice, bob, charlie = member("alice"), member("bob"), member("charlie")
    gc = GroupChat(agents=[alice, bob, charlie], messages=[], **gc_kwargs)
    return alice, bob, charlie, gc


# ----------------------------------------------------------------------------------- loop examples


def test_round_robin_each_agent_twice_in_order():
    alice, bob, charlie, gc = trio(max_round=6, speaker_selection_method="round_robin")
    manager = GroupChatManager(gc, llm_config=False)
    result = alice.initiate_chat(manager, message="This is alice speaking.")
    assert speakers(gc) == ["alice", "bob", "charlie"] * 2
    assert contents(gc) == [f"This is {n} speaking." for n in ["alice", "bob", "charlie"] * 2]
    # The summary is the last group message; the manager never answers the initiator itself.
    assert result.summary == "This is charlie speaking."


@pytest.mark.parametrize("method", ["round_robin", "auto"])
def test_two_agents_without_repeats_alternate(method, fake_llm):
    alice, bob = member("alice"), member("bob")
    gc = GroupChat(agents=[alice, bob], messages=[], max_round=6, speaker_selection_method=method,
                   allow_repeat_speaker=False)
    manager = GroupChatManager(gc, llm_config=fake_llm.llm_config(model="gpt-test"))
    alice.initiate_chat(manager, message="This is alice speaking.")
    assert speakers(gc) == ["alice", "bob"] * 3
    assert fake_llm.requests == []  # one candidate each time: no LLM call, even in auto


def _termination_run(reply: str, predicate=None) -> list[str]:
    alice, bob, sam = member("alice"), member("bob"), member("sam", reply)
    gc = GroupChat(agents=[alice, bob, sam], messages=[], max_round=10, speaker_selection_method="round_robin")
    kwargs = {"is_termination_msg": predicate} if predicate else {}
    manager = GroupChatManager(gc, llm_config=False, **kwargs)
    alice.initiate_chat(manager, message="This is alice speaking.")
    return speakers(gc)


def test_default_manager_termination_is_exact():
    assert len(_termination_run("This is sam speaking. TERMINATE")) == 10


def test_contains_terminate_predicate_ends_at_three():
    names = _termination_run("This is sam speaking. TERMINATE", lambda m: "TERMINATE" in (m.get("content") or ""))
    assert names == ["alice", "bob", "sam"]


def test_exact_terminate_reply_ends_under_default():
    assert _termination_run("TERMINATE") == ["alice", "bob", "sam"]


def test_manager_termination_covers_the_initial_message():
    alice, bob, charlie, gc = trio(speaker_selection_method="round_robin")
    manager = GroupChatManager(gc, llm_config=False)
    alice.initiate_chat(manager, message="TERMINATE")
    assert contents(gc) == ["TERMINATE"]


def test_limits_count_against_the_manager():
    alice = member("alice", "a", max_consecutive_auto_reply=1)
    bob = member("bob", "b", max_consecutive_auto_reply=1)
    gc = GroupChat(agents=[alice, bob], messages=[], max_round=10, speaker_selection_method="round_robin")
    manager = GroupChatManager(gc, llm_config=False)
    alice.initiate_chat(manager, message="kickoff")
    assert contents(gc) == ["kickoff", "b", "a"]


def test_transitions_sink_member_ends_the_chat():
    alice, bob, sam = member("alice"), member("bob"), member("sam")
    gc = GroupChat(
        agents=[alice, bob, sam], messages=[], max_round=10, speaker_selection_method="round_robin",
        allowed_or_disallowed_speaker_transitions={alice: [bob], bob: [sam]}, speaker_transitions_type="allowed",
    )
    manager = GroupChatManager(gc, llm_config=False)
    alice.initiate_chat(manager, message="This is alice speaking.")
    assert speakers(gc) == ["alice", "bob", "sam"]


def test_member_returning_none_ends_the_group_chat():
    alice, bob = member("alice"), member("bob")
    # carol's own predicate matches bob's message, so when selected she replies None.
    carol = member("carol", is_termination_msg=lambda m: m.get("name") == "bob")
    gc = GroupChat(agents=[alice, bob, carol], messages=[], speaker_selection_method="round_robin")
    manager = GroupChatManager(gc, llm_config=False)
    alice.initiate_chat(manager, message="start")
    assert speakers(gc) == ["alice", "bob"]


def test_roles_and_histories_in_a_group():
    alice, bob, charlie, gc = trio(max_round=3, speaker_selection_method="round_robin")
    manager = GroupChatManager(gc, llm_config=False)
    result = alice.initiate_chat(manager, message="hello")
    assert all(m["role"] == "user" for m in gc.messages)
    # bob sees alice and charlie as users with names, himself as assistant.
    assert [(m["role"], m["name"], m["content"]) for m in bob.chat_messages[manager]] == [
        ("user", "alice", "hello"),
        ("assistant", "bob", "This is bob speaking."),
        ("user", "charlie", "This is charlie speaking."),
    ]
    # The initiator's view is the chat history of the result.
    assert result.chat_history is alice.chat_messages[manager]
    assert [m["name"] for m in result.chat_history] == ["alice", "bob", "charlie"]


def test_initiator_outside_the_group_gets_no_broadcasts():
    boss = member("boss")
    alice, bob, charlie, gc = trio(max_round=4, speaker_selection_method="round_robin")
    manager = GroupChatManager(gc, llm_config=False)
    with pytest.warns(UserWarning, match="'boss' starts the group chat but is not one of its agents"):
        boss.initiate_chat(manager, message="get going")
    # A non-member last speaker: round robin starts the search at index 0.
    assert speakers(gc) == ["boss", "alice", "bob", "charlie"]
    assert [m["content"] for m in boss.chat_messages[manager]] == ["get going"]


def test_max_round_counts_the_initial_message_and_the_copy_ignores_later_edits():
    alice, bob, charlie, gc = trio(max_round=4, speaker_selection_method="round_robin")
    manager = GroupChatManager(gc, llm_config=False)
    gc.max_round = 2  # a scalar edit after the manager was built: not seen by its loop
    with pytest.warns(UserWarning, match="max_round changed"):
        alice.initiate_chat(manager, message="go")
    assert len(gc.messages) == 4
    assert manager.groupchat is gc and manager.groupchat.messages is gc.messages


def test_repeated_initiate_chat_clears_the_transcript():
    alice, bob, charlie, gc = trio(max_round=2, speaker_selection_method="round_robin")
    manager = GroupChatManager(gc, llm_config=False)
    alice.initiate_chat(manager, message="one")
    alice.initiate_chat(manager, message="two")
    assert contents(gc) == ["two", "This is bob speaking."]


def test_manager_defaults_and_reply_function_order():
    alice, bob, charlie, gc = trio(speaker_selection_method="round_robin", max_round=2)
    manager = GroupChatManager(gc)
    assert manager.name == "chat_manager"
    assert manager.max_consecutive_auto_reply() == sys.maxsize
    assert manager.human_input_mode == "NEVER"
    assert manager.system_message and manager.description == manager.system_message
    funcs = [entry["reply_func"] for entry in manager._reply_func_list[:2]]
    assert funcs == [GroupChatManager.a_run_chat, GroupChatManager.run_chat]
    # The loop reply always answers "final, None": the manager never replies to the initiator.
    alice.send("hi", manager, request_reply=False)
    assert GroupChatManager.run_chat(manager, manager.chat_messages[alice], alice) == (True, None)


def test_manager_rejects_tools_in_llm_config(fake_llm):
    config = fake_llm.llm_config(model="gpt-test")
    config["tools"] = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    with pytest.raises(ValueError, match="tools"):
        GroupChatManager(trio()[3], llm_config=config)


def test_import_as_autogen():
    assert autogen.GroupChat is GroupChat
    assert autogen.GroupChatManager is GroupChatManager


# ----------------------------------------------------------------------------------- introductions


def test_introductions_are_sent_before_the_opening_to_members_and_after_it_to_the_initiator():
    alice, bob, charlie, gc = trio(max_round=2, speaker_selection_method="round_robin", send_introductions=True)
    manager = GroupChatManager(gc, llm_config=False)
    alice.initiate_chat(manager, message="opening")
    intro = gc.introductions_msg()
    assert intro.startswith(GroupChat.DEFAULT_INTRO_MSG + "\n\n")
    assert intro.endswith("alice: " + alice.description + "\nbob: " + bob.description + "\ncharlie: " + charlie.description)
    assert [(m["content"], m["role"], m["name"]) for m in bob.chat_messages[manager]][:2] == [
        (intro, "user", "chat_manager"),
        ("opening", "user", "alice"),
    ]
    assert [m["content"] for m in alice.chat_messages[manager]][:2] == ["opening", intro]
    assert intro not in contents(gc)
    assert gc.introductions_msg([bob]).endswith("\n\nbob: " + bob.description)


# ----------------------------------------------------------------------------------- validation


def test_construction_validation():
    alice, bob = member("alice"), member("bob")
    with pytest.raises(ValueError, match="unique"):
        GroupChat(agents=[alice, member("alice")])
    with pytest.raises(ValueError, match="max_round"):
        GroupChat(agents=[alice, bob], max_round=0)
    with pytest.raises(ValueError, match="allow_repeat_speaker"):
        GroupChat(agents=[alice, bob], allow_repeat_speaker="yes")
    with pytest.raises(ValueError, match="allow_repeat_speaker"):
        GroupChat(agents=[alice, bob], allow_repeat_speaker=False,
                  allowed_or_disallowed_speaker_transitions={alice: [bob]}, speaker_transitions_type="allowed")
    with pytest.raises(ValueError, match="speaker_transitions_type"):
        GroupChat(agents=[alice, bob], allowed_or_disallowed_speaker_transitions={alice: [bob]})
    with pytest.raises(ValueError, match="speaker_transitions_type"):
        GroupChat(agents=[alice, bob], allowed_or_disallowed_speaker_transitions={alice: [bob]},
                  speaker_transitions_type="sometimes")
    with pytest.raises(ValueError, match="max_retries_for_selecting_speaker"):
        GroupChat(agents=[alice, bob], max_retries_for_selecting_speaker=-1)
    with pytest.raises(ValueError, match="select_speaker_auto_verbose"):
        GroupChat(agents=[alice, bob], select_speaker_auto_verbose=None)
    with pytest.raises(ValueError, match="select_speaker_message_template"):
        GroupChat(agents=[alice, bob], select_speaker_message_template="")
    with pytest.raises(ValueError, match="select_speaker_auto_none_template"):
        GroupChat(agents=[alice, bob], select_speaker_auto_none_template="")
    with pytest.raises(ValueError, match="role_for_select_speaker_messages"):
        GroupChat(agents=[alice, bob], role_for_select_speaker_messages="")
    assert GroupChat(agents=[alice, bob], select_speaker_prompt_template="").select_speaker_prompt_template is None
    # An unknown method is only reported when a speaker is selected.
    gc = GroupChat(agents=[alice, bob], speaker_selection_method="wrong")
    with pytest.raises(ValueError, match="wrong"):
        gc.select_speaker(alice, GroupChatManager(gc, llm_config=False))


def test_transition_graph_validation_names_the_argument(caplog):
    alice, bob, carol, outsider = member("alice"), member("bob"), member("carol"), member("outsider")
    arg = "allowed_or_disallowed_speaker_transitions"
    for graph in ({outsider: [alice]}, {alice: [outsider]}, {alice: bob}, {alice: ["bob"]}, [alice]):
        with pytest.raises(ValueError, match=arg):
            GroupChat(agents=[alice, bob, carol], allowed_or_disallowed_speaker_transitions=graph,
                      speaker_transitions_type="allowed")
    with caplog.at_level(logging.WARNING):
        GroupChat(agents=[alice, bob, carol], allowed_or_disallowed_speaker_transitions={alice: [bob]},
                  speaker_transitions_type="ALLOWED")
    assert "carol" in caplog.text  # isolated: no transition in or out
    assert caplog.text.count("no transition in or out") == 1


def test_disallowed_graph_is_inverted_case_insensitively():
    alice, bob, carol = member("alice"), member("bob"), member("carol")
    gc = GroupChat(agents=[alice, bob, carol], allowed_or_disallowed_speaker_transitions={alice: [bob]},
                   speaker_transitions_type="DisAllowed")
    assert gc.speaker_transitions_type == "disallowed"
    allowed = gc.allowed_speaker_transitions_dict
    assert allowed[alice] == [alice, carol] and allowed[bob] == [alice, bob, carol]


def test_complete_graph_follows_the_repeat_setting():
    alice, bob = member("alice"), member("bob")
    default = GroupChat(agents=[alice, bob])
    assert default.allow_repeat_speaker is True
    assert default.allowed_speaker_transitions_dict == {alice: [bob, alice], bob: [alice, bob]}
    assert GroupChat(agents=[alice, bob], allow_repeat_speaker=False).allowed_speaker_transitions_dict == {
        alice: [bob], bob: [alice]}
    assert GroupChat(agents=[alice, bob], allow_repeat_speaker=[bob]).allowed_speaker_transitions_dict == {
        alice: [bob], bob: [alice, bob]}


def test_helpers():
    alice, bob, charlie, gc = trio()
    assert gc.agent_names == ["alice", "bob", "charlie"]
    assert gc.agent_by_name("bob") is bob and gc.agent_by_name("nobody") is None
    assert gc.next_agent(charlie) is alice
    assert gc.next_agent(alice, [alice, charlie]) is charlie
    with pytest.raises(ValueError, match="next_agent"):
        gc.next_agent(alice, [member("stranger")])
    message = {"content": None, "role": "assistant", "tool_calls": [{"id": "c", "type": "function",
                                                                    "function": {"name": "f", "arguments": "{}"}}]}
    gc.append(message, bob)
    assert gc.messages[-1] is message and message["name"] == "bob" and message["content"] == ""
    gc.append({"content": 42, "role": "function", "name": "f"}, charlie)
    assert gc.messages[-1] == {"content": "42", "role": "function", "name": "f"}  # function results keep their name
    text = gc.messages_to_string(gc.messages)
    assert GroupChatManager.messages_from_string(text) == gc.messages
    gc.reset()
    assert gc.messages == []
