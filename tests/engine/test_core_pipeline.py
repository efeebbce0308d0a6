"""The reply pipeline (§3.1-§3.2), hooks (§3.3), histories (§1.3) and construction checks (§2)."""

from __future__ import annotations

import pytest

import workers.agents as autogen
from workers.agents import ConversableAgent


def never(name: str, **kwargs) -> ConversableAgent:
    return ConversableAgent(name, human_input_mode="NEVER", **kwargs)


def fixed(answer):
    def reply(recipient, messages, sender, config):
        return True, answer

    return reply


def test_builtin_reply_functions_in_order_async_twin_first():
    names = [entry["reply_func"].__name__ for entry in never("a")._reply_func_list]
    assert names == [
        "a_check_termination_and_human_reply", "check_termination_and_human_reply",
        "a_generate_function_call_reply", "generate_function_call_reply",
        "a_generate_tool_calls_reply", "generate_tool_calls_reply",
        "a_generate_oai_reply", "generate_oai_reply",
    ]
    with_code = never("b", code_execution_config={"use_docker": False})
    names = [entry["reply_func"].__name__ for entry in with_code._reply_func_list]
    assert names[6:] == ["generate_code_execution_reply", "a_generate_oai_reply", "generate_oai_reply"]


def test_latest_registration_runs_first_and_position_places_it():
    agent, other = never("a"), never("b")
    agent.register_reply([autogen.Agent, None], fixed("first"))
    agent.register_reply([autogen.Agent, None], fixed("second"))
    assert agent.generate_reply(sender=other) == "second"
    agent.register_reply([autogen.Agent, None], fixed("late"), position=len(agent._reply_func_list))
    assert agent.generate_reply(sender=other) == "second"


def test_scripted_reply_at_position_2_runs_after_the_termination_check():
    agent, other = never("a", max_consecutive_auto_reply=1), never("b")
    agent.register_reply([autogen.Agent, None], fixed("scripted"), position=2)
    other.send("hi", agent)
    assert agent.generate_reply(sender=other) == "scripted"
    assert agent.generate_reply(sender=other) is None  # the limit is checked before the scripted reply


@pytest.mark.parametrize(
    "trigger, matches_bob, matches_none",
    [
        (None, False, True),
        ("bob", True, None),  # None: raises for a None sender
        (ConversableAgent, True, False),
        (lambda sender: sender is not None and sender.name.startswith("b"), True, False),
        ([None, "bob"], True, True),
    ],
)
def test_trigger_kinds(trigger, matches_bob, matches_none):
    agent, bob = never("a"), never("bob")
    agent.register_reply(trigger, fixed("matched"), position=0)
    assert (agent.generate_reply(messages=[{"content": "x"}], sender=bob) == "matched") is matches_bob
    if matches_none is None:
        with pytest.raises(AttributeError):
            agent.generate_reply(messages=[{"content": "x"}], sender=None)
    else:
        assert (agent.generate_reply(messages=[{"content": "x"}], sender=None) == "matched") is matches_none


def test_agent_instance_trigger_matches_only_that_agent():
    agent, bob, bob2 = never("a"), never("bob"), never("bob")
    agent.register_reply(bob, fixed("it is bob"))
    assert agent.generate_reply(messages=[{"content": "x"}], sender=bob) == "it is bob"
    assert agent.generate_reply(messages=[{"content": "x"}], sender=bob2) == ""


@pytest.mark.parametrize("bad", [42, [None, 3.5], {"a": 1}])
def test_bad_triggers_are_rejected_at_registration(bad):
    with pytest.raises(ValueError):
        never("a").register_reply(bad, fixed("x"))


def test_a_trigger_callable_must_return_a_bool():
    agent = never("a")
    agent.register_reply(lambda sender: "yes", fixed("x"))
    with pytest.raises(AssertionError):
        agent.generate_reply(messages=[{"content": "x"}], sender=never("b"))


def test_generate_reply_needs_messages_or_sender_and_uses_the_history():
    agent, other = never("a"), never("b")
    with pytest.raises(AssertionError):
        agent.generate_reply()
    seen = []

    def record(recipient, messages, sender, config):
        seen.append(list(messages))
        return False, None

    agent.register_reply([autogen.Agent, None], record)
    other.send("hello", agent)
    assert agent.generate_reply(sender=other) == ""
    assert seen[-1] == [{"content": "hello", "role": "user", "name": "b"}]


def test_exclude_skips_a_reply_function():
    agent = never("a")
    first = fixed("first")
    agent.register_reply([autogen.Agent, None], fixed("second"))
    agent.register_reply([autogen.Agent, None], first)
    assert agent.generate_reply(messages=[{"content": "x"}], sender=never("b"), exclude=[first]) == "second"


def test_send_outside_a_chat_gets_no_reply_unless_requested():
    alice, bob = never("alice"), never("bob", default_auto_reply="pong")
    alice.send("ping", bob)
    assert [m["content"] for m in alice.chat_messages[bob]] == ["ping"]
    alice.send("ping", bob, request_reply=True)
    assert [m["content"] for m in alice.chat_messages[bob]] == ["ping", "ping", "pong"]


def test_invalid_message_raises_and_stores_nothing():
    alice, bob = never("alice"), never("bob")
    with pytest.raises(ValueError):
        alice.send({"role": "user"}, bob)
    assert alice.chat_messages.get(bob, []) == [] and bob.chat_messages.get(alice, []) == []


def test_histories_are_stored_per_perspective_and_override_role_wins():
    alice, bob = never("alice"), never("bob")
    alice.send({"content": "hi", "role": "system"}, bob)
    alice.send({"content": "note", "override_role": "system"}, bob)
    assert alice.chat_messages[bob][0] == {"content": "hi", "role": "assistant", "name": "alice"}
    assert bob.chat_messages[alice][0] == {"content": "hi", "role": "user", "name": "alice"}
    assert bob.chat_messages[alice][1]["role"] == "system"
    assert alice.last_message(bob)["content"] == "note"


def test_clear_history_keeps_a_tool_call_with_its_result():
    alice, bob = never("alice"), never("bob")
    call = {"tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}
    for message in ["one", call, {"role": "tool", "content": "5",
                                   "tool_responses": [{"tool_call_id": "c1", "role": "tool", "content": "5"}]}]:
        alice.send(message, bob)
    alice.clear_history(nr_messages_to_preserve=1)
    assert [m.get("content") for m in alice.chat_messages[bob]] == [None, "5"]
    alice.clear_history(bob)
    assert alice.chat_messages[bob] == []


def test_hooks_see_copies_and_run_before_the_reply_functions():
    agent, other = never("a"), never("b")
    order, seen = [], []
    agent.register_hook("update_agent_state", lambda a, msgs: order.append("state"))
    agent.register_hook("process_last_received_message", lambda text: order.append("last") or text.upper())
    agent.register_hook("process_all_messages_before_reply",
                        lambda msgs: order.append("all") or msgs + [{"content": "extra", "role": "user"}])

    def record(recipient, messages, sender, config):
        order.append("reply")
        seen.append(messages)
        return True, "done"

    agent.register_reply([autogen.Agent, None], record, position=2)
    other.send("hello", agent)
    assert agent.generate_reply(sender=other) == "done"
    assert order == ["state", "last", "all", "reply"]
    assert [m["content"] for m in seen[0]] == ["HELLO", "extra"]
    assert agent.chat_messages[other] == [{"content": "hello", "role": "user", "name": "b"}]


def test_before_send_hook_rewrites_outgoing_messages():
    alice, bob = never("alice"), never("bob")
    calls = []

    def shout(sender, message, recipient, silent):
        calls.append((sender.name, recipient.name, silent))
        return message.upper()

    alice.register_hook("process_message_before_send", shout)
    alice.send("quiet", bob, silent=True)
    assert bob.chat_messages[alice][0]["content"] == "QUIET"
    assert calls == [("alice", "bob", True)]


def test_register_hook_rejects_unknown_names_and_duplicates():
    agent = never("a")
    with pytest.raises(AssertionError):
        agent.register_hook("before_everything", print)
    agent.register_hook("update_agent_state", print)
    with pytest.raises(AssertionError):
        agent.register_hook("update_agent_state", print)


def test_reply_config_is_a_copy_and_reset_restores_it():
    agent, other = never("a"), never("b")
    initial = {"calls": 0}

    def counting(recipient, messages, sender, config):
        config["calls"] += 1
        return True, str(config["calls"])

    agent.register_reply([autogen.Agent, None], counting, config=initial)
    agent.generate_reply(messages=[{"content": "x"}], sender=other)
    assert agent.generate_reply(messages=[{"content": "x"}], sender=other) == "2"
    assert initial == {"calls": 0}
    agent.reset()
    assert agent.generate_reply(messages=[{"content": "x"}], sender=other) == "1"


def test_update_max_consecutive_auto_reply_for_all_or_one_sender():
    agent, bob, carol = never("a"), never("bob"), never("carol")
    assert agent.max_consecutive_auto_reply() == 100
    agent.update_max_consecutive_auto_reply(5, bob)
    assert (agent.max_consecutive_auto_reply(bob), agent.max_consecutive_auto_reply(carol)) == (5, 100)
    agent.update_max_consecutive_auto_reply(7)
    assert (agent.max_consecutive_auto_reply(bob), agent.max_consecutive_auto_reply()) == (7, 7)


def test_system_message_and_description():
    agent = ConversableAgent("a")
    assert agent.description == agent.system_message
    agent.update_system_message("new rules")
    assert agent.system_message == "new rules"
    assert autogen.AssistantAgent("x").description == autogen.AssistantAgent.DEFAULT_DESCRIPTION
    assert autogen.AssistantAgent("y", system_message="Custom.").description == "Custom."


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"llm_config": {}}, ValueError),
        ({"llm_config": "gpt-4"}, ValueError),
        ({"code_execution_config": "yes"}, ValueError),
        ({"function_map": {"bad name": print}}, ValueError),
        ({"max_consecutive_auto_reply": "3"}, TypeError),
    ],
)
def test_invalid_configuration_raises_one_clear_error(kwargs, error):
    with pytest.raises(error):
        ConversableAgent("a", **kwargs)


def test_whitespace_in_a_name_is_rejected_for_openai_models_only():
    openai = {"config_list": [{"model": "gpt-test", "api_key": "k"}]}
    with pytest.raises(ValueError, match="whitespace"):
        ConversableAgent("my agent", llm_config=openai)
    assert ConversableAgent("my agent").name == "my agent"


def test_unknown_human_input_mode_warns_and_acts_as_terminate():
    with pytest.warns(UserWarning, match="SOMETIMES"):
        agent = ConversableAgent("a", human_input_mode="SOMETIMES", max_consecutive_auto_reply=0,
                                 human_input_provider=autogen.ScriptedInput(["typed"]))
    other = never("b")
    other.send("hello", agent)
    assert agent.generate_reply(sender=other) == {"role": "user", "content": "typed"}


def test_bad_chat_arguments_fail_before_anything_is_sent():
    alice, bob = never("alice"), never("bob")
    for kwargs, error in [({"max_turns": -1}, ValueError), ({"max_turns": "2"}, TypeError),
                          ({"summary_method": "longest"}, ValueError),
                          ({"summary_method": "reflection_with_llm"}, AssertionError)]:
        with pytest.raises(error):
            alice.initiate_chat(bob, message="hi", **kwargs)
        assert alice.chat_messages.get(bob, []) == []


def test_ends_with_terminate_is_none_safe():
    assert autogen.ends_with_terminate({"content": "Done.\nTERMINATE  "})
    assert not autogen.ends_with_terminate({"content": None, "tool_calls": [{"id": "x"}]})
    assert not autogen.ends_with_terminate({"content": "TERMINATE later"})
    assert not autogen.default_is_termination_msg({"content": "Done. TERMINATE"})


def test_assistant_default_prompt_with_exact_predicate_warns_once_per_chat():
    assistant = autogen.AssistantAgent("assistant", default_auto_reply="TERMINATE")
    user = never("user")
    with pytest.warns(UserWarning, match="ends_with_terminate"):
        user.initiate_chat(assistant, message="go", silent=True)
    fixed_user = never("user", is_termination_msg=autogen.ends_with_terminate)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = fixed_user.initiate_chat(assistant, message="go", silent=True)
    assert [m["content"] for m in result.chat_history] == ["go", "TERMINATE"]


def test_initiate_chats_carries_summaries_over():
    user = never("user")
    first, second = never("first", default_auto_reply="alpha"), never("second", default_auto_reply="beta")
    results = user.initiate_chats([
        {"recipient": first, "message": "one", "max_turns": 1, "silent": True},
        {"recipient": second, "message": "two", "max_turns": 1, "silent": True, "carryover": "given"},
    ])
    assert [r.summary for r in results] == ["alpha", "beta"]
    assert results[1].chat_history[0]["content"] == "two\nContext: \ngiven\nalpha"
