"""Spec §5.4: summary methods. "reflection_with_llm" runs through the real openai SDK against the fake LLM server."""

from __future__ import annotations

import pytest

from tests.engine.spec_helpers import make_agent, scripted


def bob_saying(reply, **kwargs):
    return scripted(make_agent("bob", **kwargs), reply)


# --- "last_msg" --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("reply", "summary"),
    [
        ("The answer is 42. TERMINATE", "The answer is 42. "),
        ("TERMINATE then TERMINATE", " then "),
        ("TERMINATE", ""),
        ("  spaced out  ", "  spaced out  "),  # no stripping
    ],
)
def test_5_4_last_msg_removes_every_terminate_without_stripping(reply, summary):
    result = make_agent("alice").initiate_chat(bob_saying(reply), message="hi", max_turns=1)
    assert result.summary == summary


def test_5_4_last_msg_is_the_default():
    result = make_agent("alice").initiate_chat(bob_saying("final words"), message="hi", max_turns=1)
    assert result.summary == "final words"


def test_5_4_last_msg_is_the_conversations_last_message_whoever_sent_it():
    alice = make_agent("alice", default_auto_reply="alice auto")
    bob = make_agent("bob", default_auto_reply="bob auto", max_consecutive_auto_reply=1)
    result = alice.initiate_chat(bob, message="hi", max_turns=50)  # ends on alice's message (§5.2)
    assert result.chat_history[-1]["content"] == "alice auto"
    assert result.summary == "alice auto"


def test_5_4_last_msg_of_list_content_is_its_text_parts():
    parts = [{"type": "text", "text": "part one"}, {"type": "text", "text": "part two"}]
    result = make_agent("alice").initiate_chat(bob_saying({"content": parts}), message="hi", max_turns=1)
    assert result.summary == "part one\npart two"


def test_5_4_last_msg_of_dict_content_is_unwrapped():
    bob = bob_saying({"content": {"content": "inner"}})
    result = make_agent("alice").initiate_chat(bob, message="hi", max_turns=1, silent=True)
    assert result.summary == "inner"


def test_5_4_last_msg_without_messages_warns_and_gives_empty():
    alice, bob = make_agent("alice"), bob_saying("never said")
    with pytest.warns(Warning):
        result = alice.initiate_chat(bob, message="hi", max_turns=0)
    assert result.chat_history == []
    assert result.summary == ""


# --- callable and None -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("returned", "summary"),
    [("text", "text"), ({"content": "from a dict"}, "from a dict"), ({"content": {"content": "nested"}}, "nested"),
     (None, ""), (42, "42")],
)
def test_5_4_callable_summary_gets_its_arguments_and_is_coerced_to_str(returned, summary):
    alice, bob = make_agent("alice"), bob_saying("bob says")
    calls: list[tuple] = []

    def summarize(sender, recipient, summary_args):
        calls.append((sender, recipient, summary_args.get("tone")))
        return returned

    result = alice.initiate_chat(bob, message="hi", max_turns=1, summary_method=summarize,
                                 summary_args={"tone": "dry"})
    assert result.summary == summary
    assert calls == [(alice, bob, "dry")]


def test_5_4_summary_method_none_gives_empty():
    result = make_agent("alice").initiate_chat(bob_saying("bob says"), message="hi", max_turns=1, summary_method=None)
    assert result.summary == ""


# --- "reflection_with_llm" ---------------------------------------------------------------------------------------

BOB_VIEW = [{"content": "hi", "role": "user", "name": "alice"},
            {"content": "bob says", "role": "assistant", "name": "bob"}]


def test_5_4_reflection_uses_the_recipients_history_and_client(fake_llm):
    fake_llm.reply("A short takeaway.")
    alice = make_agent("alice")
    bob = bob_saying("bob says", llm_config=fake_llm.llm_config(model="gpt-bob"),
                     system_message="Bob's own system prompt.")
    result = alice.initiate_chat(bob, message="hi", max_turns=1, summary_method="reflection_with_llm")
    assert result.summary == "A short takeaway."
    (request,) = fake_llm.requests
    assert request.model == "gpt-bob"
    assert request.messages[:-1] == BOB_VIEW  # no agent system message in front
    final = request.messages[-1]
    assert final["role"] == "system"
    assert isinstance(final["content"], str) and final["content"].strip()
    assert all(m.get("content") != "Bob's own system prompt." for m in request.messages)


def test_5_4_reflection_summary_args_set_prompt_and_role(fake_llm):
    fake_llm.reply("The gist.")
    bob = bob_saying("bob says", llm_config=fake_llm.llm_config(model="gpt-bob"))
    result = make_agent("alice").initiate_chat(
        bob, message="hi", max_turns=1, summary_method="reflection_with_llm",
        summary_args={"summary_prompt": "Give the gist.", "summary_role": "user"},
    )
    assert result.summary == "The gist."
    assert fake_llm.last_request.messages == BOB_VIEW + [{"role": "user", "content": "Give the gist."}]


def test_5_4_reflection_prefers_the_recipients_client(fake_llm):
    fake_llm.reply("From bob's model.", model="gpt-bob")
    fake_llm.reply("From alice's model.", model="gpt-alice")
    alice = make_agent("alice", llm_config=fake_llm.llm_config(model="gpt-alice"))
    bob = bob_saying("bob says", llm_config=fake_llm.llm_config(model="gpt-bob"))
    result = alice.initiate_chat(bob, message="hi", max_turns=1, summary_method="reflection_with_llm")
    assert result.summary == "From bob's model."
    assert [r.model for r in fake_llm.requests] == ["gpt-bob"]


def test_5_4_reflection_falls_back_to_the_senders_client(fake_llm):
    fake_llm.reply("From alice's model.")
    alice = make_agent("alice", llm_config=fake_llm.llm_config(model="gpt-alice"))
    result = alice.initiate_chat(bob_saying("bob says"), message="hi", max_turns=1,
                                 summary_method="reflection_with_llm")
    assert result.summary == "From alice's model."
    (request,) = fake_llm.requests
    assert request.model == "gpt-alice"
    assert request.messages[:-1] == BOB_VIEW  # still the recipient's history with the sender


def test_5_4_reflection_error_warns_and_gives_empty(fake_llm):
    fake_llm.fail(400, message="bad request on purpose")
    bob = bob_saying("bob says", llm_config=fake_llm.llm_config(model="gpt-bob"))
    with pytest.warns(Warning):
        result = make_agent("alice").initiate_chat(bob, message="hi", max_turns=1,
                                                   summary_method="reflection_with_llm")
    assert result.summary == ""
    assert len(fake_llm.requests) >= 1
