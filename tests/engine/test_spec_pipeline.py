"""Spec §2 (construction defaults) and §3 (the reply pipeline: register_reply, send/receive, generate_reply, hooks,
sync and async). One file because §3's order rules are read against §2's built-in reply list."""

from __future__ import annotations

import asyncio
import sys

import pytest

import workers.agents as autogen
from tests.engine.spec_helpers import (
    contents, counter, history, make_agent, recording, scripted, tool_call, tool_call_message,
)

# An llm_config that builds a client but is never called: no test here sends it a request.
UNUSED_LLM = {"config_list": [{"model": "gpt-test", "api_key": "test-key", "base_url": "http://127.0.0.1:9/v1"}]}
USER_MSG = [{"content": "x", "role": "user"}]


@pytest.fixture
def no_docker(monkeypatch):
    monkeypatch.setenv("AUTOGEN_USE_DOCKER", "False")


# --- §2.1 ConversableAgent ---------------------------------------------------------------------------------------

def test_2_1_name_is_required():
    with pytest.raises(TypeError):
        autogen.ConversableAgent()  # type: ignore[call-arg]


def test_2_1_system_message_default_and_update():
    agent = autogen.ConversableAgent("a")
    assert isinstance(agent.system_message, str) and agent.system_message.strip()
    assert "\n" not in agent.system_message.strip()  # one sentence
    agent.update_system_message("Answer briefly.")
    assert agent.system_message == "Answer briefly."


@pytest.mark.parametrize(
    ("reply", "ends"),
    [("TERMINATE", True), ("Done. TERMINATE", False), ("TERMINATE ", False), ("terminate", False), ("", False)],
)
def test_2_1_default_termination_predicate_is_exact(reply, ends):
    alice = make_agent("alice", max_consecutive_auto_reply=1)
    bob = scripted(make_agent("bob"), reply)
    result = alice.initiate_chat(bob, message="hi")
    assert len(result.chat_history) == (2 if ends else 4)


def test_2_1_termination_predicate_runs_on_the_receiver_for_what_it_received():
    seen_by_alice: list[dict] = []

    def alice_predicate(message):
        seen_by_alice.append(dict(message))
        return message.get("content") == "stop please"

    alice = make_agent("alice", is_termination_msg=alice_predicate, default_auto_reply="more")
    bob = scripted(make_agent("bob"), "go on", "stop please")
    result = alice.initiate_chat(bob, message="hi")
    assert contents(result.chat_history) == ["hi", "go on", "more", "stop please"]
    assert seen_by_alice and all(message["name"] == "bob" for message in seen_by_alice)


def test_2_1_limit_defaults_to_the_class_attribute():
    assert autogen.ConversableAgent.MAX_CONSECUTIVE_AUTO_REPLY == 100
    agent = autogen.ConversableAgent("a")
    assert agent.max_consecutive_auto_reply() == 100


def test_2_1_update_limit_for_every_sender_or_one():
    agent, bob, carol = make_agent("a"), make_agent("bob"), make_agent("carol")
    agent.update_max_consecutive_auto_reply(5)
    assert agent.max_consecutive_auto_reply() == 5
    agent.update_max_consecutive_auto_reply(2, sender=bob)
    assert agent.max_consecutive_auto_reply(bob) == 2
    assert agent.max_consecutive_auto_reply(carol) == 5
    assert agent.max_consecutive_auto_reply() == 5
    agent.update_max_consecutive_auto_reply(7)
    assert agent.max_consecutive_auto_reply(bob) == 7


def test_2_1_human_input_mode_default_and_no_validation():
    assert autogen.ConversableAgent("a").human_input_mode == "TERMINATE"
    assert autogen.ConversableAgent("b", human_input_mode="SOMETIMES").human_input_mode == "SOMETIMES"


@pytest.mark.parametrize("bad", ["has space", "dot.name", "", "x" * 65, "é"])
def test_2_1_function_map_rejects_bad_names(bad):
    with pytest.raises(ValueError):
        autogen.ConversableAgent("a", function_map={bad: lambda: 1})


def test_2_1_function_map_accepts_good_names():
    funcs = {"a-b_C9": lambda: 1, "x" * 64: lambda: 2}
    agent = autogen.ConversableAgent("a", function_map=funcs)
    assert set(agent.function_map) == set(funcs)


def test_2_1_code_execution_is_off_by_default():
    assert autogen.ConversableAgent("a").use_docker is None  # None = code execution disabled


def test_2_1_code_execution_config_is_shallow_copied(tmp_path):
    config = {"work_dir": str(tmp_path), "use_docker": False}
    agent = autogen.ConversableAgent("a", code_execution_config=config)
    config["use_docker"] = "some-image"
    assert agent.use_docker is False


def test_2_1_code_execution_config_none_is_deprecated_and_means_empty_dict(no_docker):
    with pytest.warns(Warning):
        agent = autogen.ConversableAgent("a", code_execution_config=None)
    assert agent.use_docker is False  # on, with Docker decided by the environment


@pytest.mark.parametrize("bad", ["yes", 1, ["work_dir"]])
def test_2_1_code_execution_config_rejects_other_values(bad):
    with pytest.raises(ValueError):
        autogen.ConversableAgent("a", code_execution_config=bad)


def test_2_1_llm_config_none_means_false():
    assert autogen.ConversableAgent("a").llm_config is False
    assert autogen.ConversableAgent("b", llm_config=None).llm_config is False


def test_2_1_llm_config_dict_is_deep_copied():
    config = {"config_list": [dict(UNUSED_LLM["config_list"][0])]}
    agent = autogen.ConversableAgent("a", llm_config=config)
    config["config_list"][0]["model"] = "changed"
    config["config_list"].append({"model": "added"})
    assert agent.llm_config["config_list"][0]["model"] == "gpt-test"
    assert len(agent.llm_config["config_list"]) == 1


@pytest.mark.parametrize(("default", "content"), [("", ""), ("plain", "plain"), ({"content": "as dict"}, "as dict")])
def test_2_1_default_auto_reply_str_or_dict(default, content):
    alice = make_agent("alice")
    bob = make_agent("bob", **({"default_auto_reply": default} if default else {}))
    result = alice.initiate_chat(bob, message="hi", max_turns=1)
    assert contents(result.chat_history) == ["hi", content]


def test_2_1_description_defaults_to_system_message():
    assert autogen.ConversableAgent("a", system_message="I sort mail.").description == "I sort mail."
    assert autogen.ConversableAgent("b", system_message="x", description="A sorter.").description == "A sorter."


def test_2_1_chat_messages_pre_seeds_the_histories():
    bob = make_agent("bob", default_auto_reply="noted")
    seed = [{"content": "earlier", "role": "assistant", "name": "alice"}]
    alice = make_agent("alice", chat_messages={bob: list(seed)})
    assert history(alice, bob) == seed
    result = alice.initiate_chat(bob, message="again", max_turns=1, clear_history=False)
    assert contents(result.chat_history) == ["earlier", "again", "noted"]


def test_2_1_silent_attribute_overrides_the_per_call_flag(capfd):
    quiet_a, quiet_b = make_agent("quiet_a", silent=True), make_agent("quiet_b", silent=True)
    quiet_a.send("marker-one", quiet_b, silent=False)
    assert "marker-one" not in capfd.readouterr().out
    loud_a, loud_b = make_agent("loud_a", silent=False), make_agent("loud_b", silent=False)
    loud_a.send("marker-two", loud_b, silent=True)
    assert "marker-two" in capfd.readouterr().out
    plain_a, plain_b = make_agent("plain_a"), make_agent("plain_b")
    plain_a.send("marker-three", plain_b)
    plain_a.send("marker-four", plain_b, silent=True)
    out = capfd.readouterr().out
    assert "marker-three" in out and "marker-four" not in out


def test_2_1_fresh_agent_state():
    alice, bob = make_agent("alice"), make_agent("bob")
    assert counter(alice, bob) == 0
    assert alice.reply_at_receive[bob] is False
    assert alice.chat_messages.get(bob, []) == []


# --- §2.2 subclass defaults --------------------------------------------------------------------------------------

def test_2_2_assistant_defaults():
    assistant = autogen.AssistantAgent("assistant")
    assert assistant.human_input_mode == "NEVER"
    assert assistant.llm_config is False
    assert assistant.use_docker is None
    assert assistant.max_consecutive_auto_reply() == 100
    prompt = assistant.system_message
    assert prompt == autogen.AssistantAgent.DEFAULT_SYSTEM_MESSAGE
    assert len(prompt) > 300
    for needle in ("TERMINATE", "# filename:", "python", "sh"):
        assert needle in prompt, needle


def test_2_2_assistant_description():
    default = autogen.AssistantAgent("assistant").description
    assert default and "\n" not in default.strip()
    assert default != autogen.AssistantAgent.DEFAULT_SYSTEM_MESSAGE
    assert "python" in default.lower() and "linux" in default.lower()
    assert autogen.AssistantAgent("a", system_message="Custom.").description == "Custom."
    assert autogen.AssistantAgent("b", description="Given.").description == "Given."


def test_2_2_assistant_keeps_a_given_llm_config():
    assistant = autogen.AssistantAgent("assistant", llm_config=UNUSED_LLM)
    assert assistant.llm_config["config_list"][0]["model"] == "gpt-test"


def test_2_2_user_proxy_defaults(no_docker):
    user = autogen.UserProxyAgent("user")
    assert user.human_input_mode == "ALWAYS"
    assert user.llm_config is False
    assert user.system_message == ""
    assert user.use_docker is False  # code execution on ({}), Docker off by the environment
    assert user.max_consecutive_auto_reply() == 100


def test_2_2_user_proxy_description_depends_on_mode(no_docker):
    by_mode = {mode: autogen.UserProxyAgent("user", human_input_mode=mode).description
               for mode in ("ALWAYS", "TERMINATE", "NEVER")}
    assert len(set(by_mode.values())) == 3 and all(by_mode.values())
    assert "human" in by_mode["ALWAYS"].lower()
    assert "terminal" in by_mode["NEVER"].lower()
    assert autogen.UserProxyAgent("u", description="Given.").description == "Given."


def test_2_2_a_naive_ends_with_predicate_crashes_on_a_tool_call():
    # §2.2 / §10 #2: reproduced by default; tool-call messages have content None.
    user = make_agent("user", is_termination_msg=lambda m: m["content"].rstrip().endswith("TERMINATE"))
    the_caller = scripted(make_agent("caller"), tool_call_message(tool_call("add", {"a": 1})))
    with pytest.raises(AttributeError):
        user.initiate_chat(the_caller, message="start")


def test_2_2_group_chat_manager_defaults():
    group = autogen.GroupChat(agents=[make_agent("a"), make_agent("b")], messages=[], max_round=3)
    manager = autogen.GroupChatManager(groupchat=group)
    assert manager.name == "chat_manager"
    assert manager.human_input_mode == "NEVER"
    assert manager.max_consecutive_auto_reply() == sys.maxsize
    assert manager.llm_config is False
    assert manager.use_docker is None
    assert manager.system_message and len(manager.system_message) < 80
    assert manager.description == manager.system_message


# --- §3.1 registering reply functions ----------------------------------------------------------------------------

def _final(answer):
    return lambda recipient, messages, sender, config: (True, answer)


def test_3_1_the_most_recently_registered_function_runs_first():
    alice, bob = make_agent("alice"), make_agent("bob")
    bob.register_reply([autogen.Agent, None], _final("first registered"))
    bob.register_reply([autogen.Agent, None], _final("second registered"))
    assert bob.generate_reply(messages=USER_MSG, sender=alice) == "second registered"


def test_3_1_non_final_functions_all_run_then_the_default_reply():
    alice, bob = make_agent("alice"), make_agent("bob", default_auto_reply="fallback")
    calls: list[str] = []
    for label in ("f1", "f2"):
        bob.register_reply([autogen.Agent, None],
                           lambda recipient, messages, sender, config, label=label: (calls.append(label), (False, "ignored"))[1])
    assert bob.generate_reply(messages=USER_MSG, sender=alice) == "fallback"
    assert calls == ["f2", "f1"]


def test_3_1_position_places_the_function():
    alice, bob = make_agent("alice"), make_agent("bob")
    bob.register_reply([autogen.Agent, None], _final("A"))
    bob.register_reply([autogen.Agent, None], _final("B"), position=1)
    assert bob.generate_reply(messages=USER_MSG, sender=alice) == "A"
    bob.register_reply([autogen.Agent, None], _final("C"), position=0)
    assert bob.generate_reply(messages=USER_MSG, sender=alice) == "C"


def test_3_1_reply_function_arguments():
    alice, bob = make_agent("alice"), make_agent("bob")
    seen: list[dict] = []
    given = {"k": "v"}

    def reply(recipient, messages, sender, config):
        seen.append({"recipient": recipient, "messages": list(messages), "sender": sender, "config": config})
        return True, "ok"

    bob.register_reply([autogen.Agent, None], reply, position=2, config=given)
    alice.send("hello", bob, request_reply=True)
    (call,) = seen
    assert call["recipient"] is bob and call["sender"] is alice
    assert contents(call["messages"]) == ["hello"]
    assert call["config"] == given and call["config"] is not given  # a shallow copy is stored


def test_3_1_config_copy_and_reset_restores_it():
    alice, bob = make_agent("alice"), make_agent("bob")
    config = {"n": 0}

    def count(recipient, messages, sender, config):
        config["n"] += 1
        return True, str(config["n"])

    bob.register_reply([autogen.Agent, None], count, config=config)
    assert [bob.generate_reply(messages=USER_MSG, sender=alice) for _ in range(2)] == ["1", "2"]
    assert config == {"n": 0}
    bob.reset()
    assert bob.generate_reply(messages=USER_MSG, sender=alice) == "1"


def test_3_1_reset_calls_reset_config_with_the_stored_config():
    alice, bob = make_agent("alice"), make_agent("bob")
    resets: list[dict] = []

    def count(recipient, messages, sender, config):
        config["n"] += 1
        return True, str(config["n"])

    bob.register_reply([autogen.Agent, None], count, config={"n": 0},
                       reset_config=lambda cfg: (resets.append(dict(cfg)), cfg.update(n=10)))
    bob.generate_reply(messages=USER_MSG, sender=alice)
    bob.reset()
    assert resets == [{"n": 1}]
    assert bob.generate_reply(messages=USER_MSG, sender=alice) == "11"


def test_3_1_remove_other_reply_funcs_leaves_only_the_new_function():
    alice = make_agent("alice")
    bob = make_agent("bob", default_auto_reply="fallback")
    bob.register_reply([autogen.Agent, None],
                       lambda recipient, messages, sender, config: (False, None), remove_other_reply_funcs=True)
    # Even the termination check is gone: a termination message now gets the default reply.
    assert bob.generate_reply(messages=[{"content": "TERMINATE", "role": "user"}], sender=alice) == "fallback"


class _Special(autogen.ConversableAgent):
    pass


@pytest.mark.parametrize(
    ("trigger_of", "sender_of", "matches"),
    [
        (lambda a: None, lambda a: None, True),
        (lambda a: None, lambda a: a["bob"], False),
        (lambda a: "bob", lambda a: a["bob"], True),
        (lambda a: "bob", lambda a: a["carol"], False),
        (lambda a: _Special, lambda a: a["special"], True),
        (lambda a: _Special, lambda a: a["bob"], False),
        (lambda a: autogen.Agent, lambda a: a["bob"], True),
        (lambda a: a["bob"], lambda a: a["bob"], True),
        (lambda a: a["bob"], lambda a: a["bob_twin"], False),  # same name, another object
        (lambda a: (lambda s: s is not None and s.name.startswith("c")), lambda a: a["carol"], True),
        (lambda a: (lambda s: s is not None and s.name.startswith("c")), lambda a: a["bob"], False),
        (lambda a: ["nobody", a["carol"]], lambda a: a["carol"], True),
        (lambda a: ["nobody", _Special], lambda a: a["bob"], False),
        (lambda a: [None, autogen.Agent], lambda a: None, True),
    ],
    ids=["none-none", "none-agent", "str-hit", "str-miss", "class-hit", "class-miss", "base-class", "instance-hit",
         "instance-other-object", "callable-hit", "callable-miss", "list-hit", "list-miss", "list-with-none"],
)
def test_3_1_trigger_table(trigger_of, sender_of, matches):
    agents = {"bob": make_agent("bob"), "bob_twin": make_agent("bob"), "carol": make_agent("carol"),
              "special": _Special("special", human_input_mode="NEVER")}
    receiver = make_agent("receiver", default_auto_reply="unmatched")
    receiver.register_reply(trigger_of(agents), _final("matched"))
    assert receiver.generate_reply(messages=USER_MSG, sender=sender_of(agents)) == (
        "matched" if matches else "unmatched")


def test_3_1_str_trigger_with_a_none_sender_raises():
    receiver = make_agent("receiver")
    receiver.register_reply("bob", _final("matched"))
    with pytest.raises(Exception):
        receiver.generate_reply(messages=USER_MSG, sender=None)


@pytest.mark.parametrize("bad", [5, 2.5])
def test_3_1_unsupported_trigger_raises_at_registration(bad):
    with pytest.raises(ValueError):
        make_agent("receiver").register_reply(bad, _final("x"))


def test_3_1_scripted_reply_at_position_2_runs_after_the_termination_check():
    alice = make_agent("alice")
    bob = scripted(make_agent("bob", is_termination_msg=lambda m: m.get("content") == "stop"), "scripted")
    assert bob.generate_reply(messages=[{"content": "go", "role": "user"}], sender=alice) == "scripted"
    assert bob.generate_reply(messages=[{"content": "stop", "role": "user"}], sender=alice) is None
    # At position 0 the same function runs before the check and answers even a termination message.
    early = scripted(make_agent("early", is_termination_msg=lambda m: m.get("content") == "stop"), "early", position=0)
    assert early.generate_reply(messages=[{"content": "stop", "role": "user"}], sender=alice) == "early"


def test_3_1_scripted_reply_at_position_2_runs_before_tools():
    called: list[str] = []
    alice = make_agent("alice")
    bob = scripted(make_agent("bob", function_map={"echo": lambda text: called.append(text) or text}), "scripted")
    message = tool_call_message(tool_call("echo", {"text": "hi"}))
    assert bob.generate_reply(messages=[message], sender=alice) == "scripted"
    assert called == []


def test_3_1_termination_check_runs_before_function_and_tool_execution():
    called: list[str] = []
    alice = make_agent("alice")
    bob = make_agent("bob", is_termination_msg=lambda m: True,
                     function_map={"echo": lambda text: called.append(text) or text})
    assert bob.generate_reply(messages=[tool_call_message(tool_call("echo", {"text": "hi"}))], sender=alice) is None
    assert called == []


def test_3_1_function_call_runs_before_tool_calls():
    alice = make_agent("alice")
    bob = make_agent("bob", function_map={"echo": lambda text: text})
    message = {"role": "assistant", "content": None,
               "function_call": {"name": "echo", "arguments": '{"text": "legacy"}'},
               "tool_calls": [tool_call("echo", {"text": "tool"})]}
    reply = bob.generate_reply(messages=[message], sender=alice)
    assert reply == {"name": "echo", "role": "function", "content": "legacy"}


def test_3_1_tool_calls_run_before_code_execution(tmp_path):
    alice = make_agent("alice")
    bob = make_agent("bob", function_map={"echo": lambda text: text},
                     code_execution_config={"work_dir": str(tmp_path), "use_docker": False})
    code = "```python\nprint('ran code')\n```"
    with_calls = {"role": "user", "content": code, "tool_calls": [tool_call("echo", {"text": "tool ran"})]}
    reply = bob.generate_reply(messages=[with_calls], sender=alice)
    assert reply["role"] == "tool" and reply["content"] == "tool ran"
    # The same text without tool calls does reach code execution, so the order above is what decided.
    reply = bob.generate_reply(messages=[{"role": "user", "content": code}], sender=alice)
    assert reply.startswith("exitcode: 0 (execution succeeded)") and "ran code" in reply


def test_3_1_tools_and_code_run_before_the_llm(fake_llm, tmp_path):
    fake_llm.reply("from the model")
    alice = make_agent("alice")
    bob = make_agent("bob", llm_config=fake_llm.llm_config(), function_map={"echo": lambda text: text},
                     code_execution_config={"work_dir": str(tmp_path), "use_docker": False})
    code = bob.generate_reply(messages=[{"role": "user", "content": "```python\nprint('ran code')\n```"}], sender=alice)
    assert code.startswith("exitcode: 0 (execution succeeded)")
    tool = bob.generate_reply(messages=[tool_call_message(tool_call("echo", {"text": "tool ran"}))], sender=alice)
    assert tool["content"] == "tool ran"
    assert fake_llm.requests == []
    assert bob.generate_reply(messages=[{"role": "user", "content": "plain words"}], sender=alice) == "from the model"
    assert len(fake_llm.requests) == 1


# --- §3.1 sync and async -----------------------------------------------------------------------------------------

def _async_reply(called: list):
    async def async_reply(recipient, messages, sender, config):
        called.append(sender.name)
        return True, "async reply"

    return async_reply


def test_3_1_sync_chat_skips_an_ignored_async_function():
    called: list[str] = []
    alice, bob = make_agent("alice"), make_agent("bob", default_auto_reply="sync reply")
    bob.register_reply([autogen.Agent, None], _async_reply(called), ignore_async_in_sync_chat=True)
    result = alice.initiate_chat(bob, message="hi", max_turns=1)
    assert contents(result.chat_history) == ["hi", "sync reply"]
    assert called == []
    assert bob.generate_reply(messages=USER_MSG, sender=alice) == "sync reply"


@pytest.mark.parametrize("owner", ["initiator", "recipient"])
def test_3_1_async_function_without_flag_makes_a_sync_chat_raise(owner):
    called: list[str] = []
    alice, bob = make_agent("alice"), make_agent("bob")
    (alice if owner == "initiator" else bob).register_reply([autogen.Agent, None], _async_reply(called))
    with pytest.raises(RuntimeError):
        alice.initiate_chat(bob, message="hi")
    assert history(alice, bob) == [] and history(bob, alice) == []
    assert called == []


def test_3_1_async_chat_runs_async_functions():
    called: list[str] = []
    alice, bob = make_agent("alice"), make_agent("bob", default_auto_reply="sync reply")
    bob.register_reply([autogen.Agent, None], _async_reply(called), ignore_async_in_sync_chat=True)
    result = asyncio.run(alice.a_initiate_chat(bob, message="hi", max_turns=1))
    assert contents(result.chat_history) == ["hi", "async reply"]
    assert called == ["alice"]


def test_3_1_async_chat_skips_the_sync_twins_of_builtins():
    # If the sync termination check ran after its async twin, every auto-reply would count twice.
    alice = make_agent("alice", max_consecutive_auto_reply=2, default_auto_reply="alice auto")
    bob = make_agent("bob", max_consecutive_auto_reply=3, default_auto_reply="bob auto")
    result = asyncio.run(alice.a_initiate_chat(bob, message="hi"))
    assert contents(result.chat_history) == ["hi", "bob auto", "alice auto", "bob auto", "alice auto", "bob auto"]
    assert counter(bob, alice) == 3


# --- §3.2 send, receive and generate_reply -----------------------------------------------------------------------

def test_3_2_send_outside_a_chat_gets_no_reply():
    alice, bob = make_agent("alice"), make_agent("bob", default_auto_reply="bob auto")
    alice.send("hi", bob)
    assert contents(history(alice, bob)) == ["hi"]
    assert contents(history(bob, alice)) == ["hi"]


def test_3_2_request_reply_true_forces_one_reply():
    alice, bob = make_agent("alice", default_auto_reply="alice auto"), make_agent("bob", default_auto_reply="bob auto")
    alice.send("hi", bob, request_reply=True)
    # bob answers once; alice's reply_at_receive is still False, so the exchange stops there.
    assert contents(history(alice, bob)) == ["hi", "bob auto"]


def test_3_2_request_reply_false_suppresses_the_reply_inside_a_chat():
    alice, bob = make_agent("alice", max_consecutive_auto_reply=0), make_agent("bob", default_auto_reply="bob auto")
    alice.initiate_chat(bob, message="hi")
    assert bob.reply_at_receive[alice] is True
    before = len(history(alice, bob))
    alice.send("quiet", bob, request_reply=False)
    assert len(history(alice, bob)) == before + 1


def test_3_2_generate_reply_needs_messages_or_sender():
    with pytest.raises(AssertionError):
        make_agent("bob").generate_reply()


def test_3_2_generate_reply_defaults_to_the_history_with_sender():
    alice, bob = make_agent("alice"), make_agent("bob")
    seen: list[dict] = []
    recording(bob, seen)
    alice.send("one", bob)
    alice.send("two", bob)
    assert bob.generate_reply(sender=alice) == "ok"
    assert contents(seen[0]["messages"]) == ["one", "two"]


def test_3_2_exclude_skips_the_given_functions():
    alice, bob = make_agent("alice"), make_agent("bob", default_auto_reply="fallback")
    func = _final("from func")
    bob.register_reply([autogen.Agent, None], func)
    assert bob.generate_reply(messages=USER_MSG, sender=alice) == "from func"
    assert bob.generate_reply(messages=USER_MSG, sender=alice, exclude=[func]) == "fallback"


def test_3_2_a_final_none_means_stop():
    alice, bob = make_agent("alice"), make_agent("bob", default_auto_reply="never sent")
    bob.register_reply([autogen.Agent, None], _final(None), position=2)
    result = alice.initiate_chat(bob, message="hi")
    assert contents(result.chat_history) == ["hi"]


def test_3_2_agents_without_llm_reply_empty_and_only_limits_stop_them():
    alice, bob = make_agent("alice", max_consecutive_auto_reply=3), make_agent("bob")
    result = alice.initiate_chat(bob, message="hi")
    assert contents(result.chat_history) == ["hi"] + [""] * 7  # bob 4 replies, alice 3, then alice's limit


# --- §3.3 hooks --------------------------------------------------------------------------------------------------

def test_3_3_process_message_before_send_hook():
    alice, bob = make_agent("alice"), make_agent("bob")
    seen: list[dict] = []

    def shout(sender, message, recipient, silent):
        seen.append({"sender": sender, "recipient": recipient})
        return message.upper() if isinstance(message, str) else message

    alice.register_hook("process_message_before_send", shout)
    alice.send("hi", bob)
    assert contents(history(alice, bob)) == ["HI"]
    assert contents(history(bob, alice)) == ["HI"]
    assert seen == [{"sender": alice, "recipient": bob}]


def test_3_3_process_last_received_message_hook_works_on_a_copy():
    alice, bob = make_agent("alice"), make_agent("bob")
    seen: list[dict] = []
    recording(bob, seen)
    bob.register_hook("process_last_received_message", lambda content: content + " (annotated)")
    alice.send("hi", bob, request_reply=True)
    assert seen[0]["messages"][-1]["content"] == "hi (annotated)"
    assert contents(history(bob, alice)) == ["hi", "ok"]


def test_3_3_process_all_messages_before_reply_hook_works_on_a_copy():
    alice, bob = make_agent("alice"), make_agent("bob")
    seen: list[dict] = []
    recording(bob, seen)
    bob.register_hook("process_all_messages_before_reply",
                      lambda messages: list(messages) + [{"content": "extra", "role": "user"}])
    alice.send("hi", bob, request_reply=True)
    assert contents(seen[0]["messages"]) == ["hi", "extra"]
    assert contents(history(bob, alice)) == ["hi", "ok"]


def test_3_3_hooks_run_in_order_before_the_reply_functions():
    alice, bob = make_agent("alice"), make_agent("bob")
    order: list[str] = []
    bob.register_hook("process_all_messages_before_reply", lambda messages: (order.append("all"), messages)[1])
    bob.register_hook("process_last_received_message", lambda content: (order.append("last"), content)[1])

    def update_state(agent, messages):
        order.append("state")
        agent.update_system_message(f"seen {len(messages)}")

    bob.register_hook("update_agent_state", update_state)
    bob.register_reply([autogen.Agent, None], lambda recipient, messages, sender, config: (order.append("reply"), (True, "ok"))[1], position=2)
    alice.send("hi", bob, request_reply=True)
    assert order == ["state", "last", "all", "reply"]
    assert bob.system_message == "seen 1"
