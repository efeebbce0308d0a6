"""Events a running conversation reports (docs/engine.md), end reasons, ChatResult cost and summaries."""

from __future__ import annotations

import pytest

import workers.agents as autogen
from workers.agents import ConversableAgent, Conversation, EventLog, events

REPLAY = {"config_list": [{"api_type": "replay", "model": "replay",
                           "replies": ["Here is the plan, step by step.", "All done. TERMINATE"]}]}


def never(name: str, **kwargs) -> ConversableAgent:
    return ConversableAgent(name, human_input_mode="NEVER", **kwargs)


def test_llm_chat_reports_messages_tokens_usage_and_the_end():
    log = EventLog()
    assistant = autogen.AssistantAgent("assistant", llm_config=REPLAY, system_message="Plan things.")
    user = never("user", is_termination_msg=autogen.ends_with_terminate, default_auto_reply="go on")
    result = user.initiate_chat(assistant, message="Plan a trip.", silent=True, sink=log)

    ids = {e["conversation_id"] for e in log}
    assert len(ids) == 1 and ids != {None}
    messages = log.of_type("message")
    assert [(e["sender"], e["recipient"], e["round"]) for e in messages] == [
        ("user", "assistant", 0), ("assistant", "user", 1), ("user", "assistant", 2), ("assistant", "user", 3)]
    assert [e["message"] for e in messages if e["sender"] == "assistant"] == [
        m for m in assistant.chat_messages[user] if m["role"] == "assistant"]
    tokens = [e for e in log.of_type("token")]
    assert {e["agent"] for e in tokens} == {"assistant"}
    assert "".join(e["delta"] for e in tokens) == "Here is the plan, step by step.All done. TERMINATE"
    usage = log.of_type("usage")
    assert len(usage) == 2 and usage[0]["agent"] == "assistant" and usage[0]["model"] == "replay"
    assert usage[0]["prompt_tokens"] > 0 and usage[0]["completion_tokens"] == 7
    assert set(usage[0]) >= {"cost", "latency_ms"}
    total = result.cost["usage_including_cached_inference"]["replay"]
    assert total["prompt_tokens"] == sum(e["prompt_tokens"] for e in usage)
    (finished,) = log.of_type("finished")
    assert finished["summary"] == result.summary == "All done. "
    assert "termination" in finished["reason"] and log[-1] is finished


def test_code_execution_reports_code_output(tmp_path):
    log = EventLog()
    coder = never("coder", default_auto_reply="```python\nprint('hi from code')\n```")
    runner = never("runner", code_execution_config={"work_dir": str(tmp_path), "use_docker": False})
    runner.initiate_chat(coder, message="write code", max_turns=2, silent=True, sink=log)
    outputs = log.of_type("code_output")
    assert len(outputs) == 1
    assert outputs[0]["agent"] == "runner" and outputs[0]["exit_code"] == 0
    assert "hi from code" in outputs[0]["output"]


def test_unknown_code_language_is_an_error_turn_not_a_crash(tmp_path):
    coder = never("coder", default_auto_reply="```rust\nfn main() {}\n```")
    runner = never("runner", code_execution_config={"work_dir": str(tmp_path), "use_docker": False})
    result = runner.initiate_chat(coder, message="write code", max_turns=2, silent=True)
    assert result.chat_history[2]["content"] == "exitcode: 1 (execution failed)\nCode output: \nunknown language rust"


def test_no_events_outside_a_conversation_step():
    log = EventLog()
    alice, bob = never("alice"), never("bob", default_auto_reply="pong")
    with events.installed(None, "unused"):
        alice.send("ping", bob, request_reply=True)
    events.emit("message", sender="x")  # no sink installed: nothing happens
    assert log == [] and not events.active()
    with pytest.raises(ValueError):
        events.emit("gossip")


@pytest.mark.parametrize(
    "setup, code",
    [
        (lambda: (never("a", default_auto_reply="x"), never("b", default_auto_reply="TERMINATE")), "termination"),
        (lambda: (never("a", max_consecutive_auto_reply=1), never("b")), "max_auto_reply"),
        (lambda: (ConversableAgent("a", human_input_mode="ALWAYS", human_input_provider=autogen.ScriptedInput(
            ["exit"])), never("b")), "user_exit"),
        (lambda: (ConversableAgent("a", human_input_provider=autogen.ScriptedInput([""])),
                  never("b", default_auto_reply="TERMINATE")), "termination_no_input"),
    ],
)
def test_end_reasons(setup, code):
    a, b = setup()
    conv = Conversation.start(a, b, "hi", silent=True)
    conv.run()
    assert conv.finished["code"] == code
    assert conv.finished["reason"]


def test_max_turns_end_reason_and_group_end_reason():
    a, b = never("a"), never("b")
    conv = Conversation.start(a, b, "hi", max_turns=2, silent=True)
    conv.run()
    assert conv.finished["code"] == "max_turns" and "2" in conv.finished["reason"]

    group = autogen.GroupChat(agents=[never("x"), never("y")], messages=[], max_round=3,
                              speaker_selection_method="round_robin")
    manager = autogen.GroupChatManager(groupchat=group, llm_config=False)
    log = EventLog()
    conv = Conversation.start(group.agents[0], manager, "hi", silent=True, sink=log)
    result = conv.run()
    assert conv.finished["code"] == "group_chat" and conv.finished["reason"]
    assert len(log.of_type("message")) == 3 and len(log.of_type("speaker_selected")) == 2
    assert result.chat_history[0]["content"] == "hi"


def test_reflection_summary_sends_the_history_and_the_prompt_without_the_system_message(fake_llm):
    fake_llm.reply("The takeaway.", contains=autogen.ConversableAgent.DEFAULT_SUMMARY_PROMPT)
    fake_llm.reply("Fine answer.")
    assistant = ConversableAgent("assistant", llm_config=fake_llm.llm_config(model="gpt-test"),
                                 system_message="Secret system text.", human_input_mode="NEVER")
    user = never("user")
    result = user.initiate_chat(assistant, message="Question?", max_turns=1, silent=True,
                                summary_method="reflection_with_llm")
    assert result.summary == "The takeaway."
    request = fake_llm.last_request.messages
    assert request[-1] == {"role": "system", "content": autogen.ConversableAgent.DEFAULT_SUMMARY_PROMPT}
    assert [m["content"] for m in request[:-1]] == ["Question?", "Fine answer."]
    assert result.cost["usage_including_cached_inference"]["gpt-test"]["completion_tokens"] == 4


def test_reflection_summary_failure_is_a_warning_and_an_empty_summary(fake_llm):
    fake_llm.fail(400, contains=autogen.ConversableAgent.DEFAULT_SUMMARY_PROMPT)
    fake_llm.reply("Fine answer.")
    assistant = ConversableAgent("assistant", llm_config=fake_llm.llm_config(model="gpt-test"),
                                 human_input_mode="NEVER")
    with pytest.warns(UserWarning, match="summar"):
        result = never("user").initiate_chat(assistant, message="Q", max_turns=1, silent=True,
                                             summary_method="reflection_with_llm")
    assert result.summary == ""


def test_callable_summary_is_coerced_to_text():
    a, b = never("a"), never("b", default_auto_reply="answer")
    for value, expected in [({"content": {"content": "nested"}}, "nested"), (None, ""), (42, "42")]:
        result = a.initiate_chat(b, message="q", max_turns=1, silent=True,
                                 summary_method=lambda sender, recipient, args, v=value: v)
        assert result.summary == expected
