"""Spec §1: message shapes, normalisation, per-pair per-perspective histories, clear_history."""

from __future__ import annotations

import pytest

import workers.agents as autogen
from tests.engine.spec_helpers import contents, history, make_agent, scripted, tool_call, tool_call_message


@pytest.fixture
def alice() -> autogen.ConversableAgent:
    return make_agent("alice")


@pytest.fixture
def bob() -> autogen.ConversableAgent:
    return make_agent("bob")


# --- §1.1 shapes -------------------------------------------------------------------------------------------------

def test_1_1_a_str_message_means_a_content_dict(alice, bob):
    alice.send("hi", bob)
    assert history(alice, bob) == [{"content": "hi", "role": "assistant", "name": "alice"}]
    assert history(bob, alice) == [{"content": "hi", "role": "user", "name": "alice"}]


def test_1_1_empty_string_is_valid_content(alice, bob):
    alice.send("", bob)
    assert history(bob, alice) == [{"content": "", "role": "user", "name": "alice"}]


def test_1_1_text_view_of_content():
    content_str = autogen.content_str
    assert content_str("as is") == "as is"
    assert content_str("") == ""
    assert content_str(None) == ""
    parts = [
        {"type": "text", "text": "first"},
        {"type": "image_url", "image_url": {"url": "http://127.0.0.1/x.png"}},
        {"type": "text", "text": "last"},
    ]
    assert content_str(parts) == "first\n<image>\nlast"


@pytest.mark.parametrize(
    ("parts", "terminates"),
    [
        ([{"type": "text", "text": "TERMINATE"}], True),
        # The parts are joined with "\n", so two halves do not make the word.
        ([{"type": "text", "text": "TERM"}, {"type": "text", "text": "INATE"}], False),
    ],
)
def test_1_1_default_predicate_reads_the_text_view_of_list_content(parts, terminates):
    alice = make_agent("alice", max_consecutive_auto_reply=1)
    bob = scripted(make_agent("bob"), {"content": parts})
    result = alice.initiate_chat(bob, message="hi")
    # Terminated: alice stops on bob's first reply. Not terminated: alice auto-replies once, then hits her limit.
    assert len(result.chat_history) == (2 if terminates else 4)


# --- §1.2 normalisation ------------------------------------------------------------------------------------------

def test_1_2_unknown_keys_are_dropped_and_known_ones_kept(alice, bob):
    alice.send(
        {"content": "x", "role": "system", "extra": 1, "tool_calls": [], "function_call": None,
         "context": {"k": "v"}},
        bob,
    )
    assert history(alice, bob) == [{"content": "x", "context": {"k": "v"}, "role": "assistant", "name": "alice"}]
    assert history(bob, alice) == [{"content": "x", "context": {"k": "v"}, "role": "user", "name": "alice"}]


@pytest.mark.parametrize(
    "message",
    [{}, {"role": "user"}, {"content": None}, {"name": "alice"}, {"content": None, "tool_calls": []},
     {"tool_responses": [{"role": "tool", "content": "x"}]}],
    ids=["empty", "role-only", "content-none", "name-only", "empty-tool-calls", "responses-only"],
)
def test_1_2_invalid_message_send_raises_and_appends_nothing(alice, bob, message):
    with pytest.raises(ValueError):
        alice.send(message, bob)
    assert history(alice, bob) == []
    assert history(bob, alice) == []


def test_1_2_invalid_message_receive_raises_and_appends_nothing(alice, bob):
    with pytest.raises(ValueError):
        bob.receive({"role": "user", "extra": "no content"}, alice)
    assert history(bob, alice) == []


def test_1_2_tool_calls_without_content_get_content_none(alice, bob):
    call = tool_call("add", {"a": 2})
    alice.send({"tool_calls": [call]}, bob)
    expected = [{"tool_calls": [call], "content": None, "role": "assistant"}]
    assert history(alice, bob) == expected
    assert history(bob, alice) == expected


def test_1_2_function_call_without_content_gets_content_none(alice, bob):
    call = {"name": "add_num", "arguments": '{"num_to_be_added": 5}'}
    alice.send({"function_call": call}, bob)
    expected = [{"function_call": call, "content": None, "role": "assistant"}]
    assert history(alice, bob) == expected
    assert history(bob, alice) == expected


@pytest.mark.parametrize("caller_role", ["system", "user", "assistant"])
def test_1_2_caller_supplied_role_is_ignored(alice, bob, caller_role):
    alice.send({"content": "x", "role": caller_role}, bob)
    assert history(alice, bob)[-1]["role"] == "assistant"
    assert history(bob, alice)[-1]["role"] == "user"


def test_1_2_override_role_sets_the_role_on_both_sides(alice, bob):
    alice.send({"content": "x", "override_role": "system"}, bob)
    expected = [{"content": "x", "role": "system", "name": "alice"}]
    assert history(alice, bob) == expected
    assert history(bob, alice) == expected


def test_1_2_tool_role_is_kept_and_response_contents_become_str(alice, bob):
    bob.send({"role": "tool", "content": "5",
              "tool_responses": [{"tool_call_id": "call_1", "role": "tool", "content": 5}]}, alice)
    expected = [{"content": "5", "tool_responses": [{"tool_call_id": "call_1", "role": "tool", "content": "5"}],
                 "role": "tool", "name": "bob"}]
    assert history(bob, alice) == expected
    assert history(alice, bob) == expected


def test_1_2_function_role_is_kept_with_its_name(alice, bob):
    bob.send({"role": "function", "name": "add_num", "content": "15"}, alice)
    expected = [{"content": "15", "name": "add_num", "role": "function"}]
    assert history(bob, alice) == expected
    assert history(alice, bob) == expected


def test_1_2_messages_with_calls_are_assistant_role_without_name(alice, bob):
    call = tool_call("add", {"a": 2})
    alice.send({"content": "calling add", "tool_calls": [call], "override_role": "user"}, bob)
    for stored in (history(alice, bob)[-1], history(bob, alice)[-1]):
        assert stored == {"content": "calling add", "tool_calls": [call], "role": "assistant"}


def test_1_2_existing_name_is_kept(alice, bob):
    alice.send({"content": "x", "name": "carol"}, bob)
    assert history(alice, bob)[-1]["name"] == "carol"
    assert history(bob, alice)[-1]["name"] == "carol"


# --- §1.3 per-pair, per-perspective histories --------------------------------------------------------------------

ALICE_VIEW = [{"content": "hi", "role": "assistant", "name": "alice"}, {"content": "ok", "role": "user", "name": "bob"}]
BOB_VIEW = [{"content": "hi", "role": "user", "name": "alice"}, {"content": "ok", "role": "assistant", "name": "bob"}]


def test_1_3_alice_bob_table_with_send(alice, bob):
    alice.send("hi", bob)
    bob.send("ok", alice)
    assert history(alice, bob) == ALICE_VIEW
    assert history(bob, alice) == BOB_VIEW
    assert alice.last_message(bob) == ALICE_VIEW[-1]
    assert bob.last_message(alice) == BOB_VIEW[-1]


def test_1_3_alice_bob_table_in_a_chat(alice):
    bob = make_agent("bob", default_auto_reply="ok")
    result = alice.initiate_chat(bob, message="hi", max_turns=1)
    assert history(alice, bob) == ALICE_VIEW
    assert history(bob, alice) == BOB_VIEW
    assert result.chat_history == ALICE_VIEW


def test_1_3_tool_call_and_tool_result_are_stored_identically(alice, bob):
    call_message = tool_call_message(tool_call("add", {"a": 2, "b": 3}))
    alice.send(call_message, bob)
    bob.send({"role": "tool", "content": "5",
              "tool_responses": [{"tool_call_id": "call_1", "role": "tool", "content": "5"}]}, alice)
    stored_call = {"tool_calls": call_message["tool_calls"], "content": None, "role": "assistant"}
    stored_result = {"content": "5", "tool_responses": [{"tool_call_id": "call_1", "role": "tool", "content": "5"}],
                     "role": "tool", "name": "bob"}
    assert history(alice, bob) == [stored_call, stored_result]
    assert history(bob, alice) == [stored_call, stored_result]


def test_1_3_histories_are_kept_per_counterpart(alice, bob):
    carol = make_agent("carol")
    alice.send("to bob", bob)
    alice.send("to carol", carol)
    carol.send("from carol", alice)
    assert contents(history(alice, bob)) == ["to bob"]
    assert contents(history(alice, carol)) == ["to carol", "from carol"]
    assert contents(history(bob, alice)) == ["to bob"]


# --- §1.3 clear_history ------------------------------------------------------------------------------------------

def _talk(sender, recipient, *texts):
    for text in texts:
        sender.send(text, recipient)


def test_1_3_clear_history_without_arguments_clears_every_list(alice, bob):
    carol = make_agent("carol")
    _talk(alice, bob, "b1", "b2")
    _talk(alice, carol, "c1")
    alice.clear_history()
    assert history(alice, bob) == []
    assert history(alice, carol) == []
    assert contents(history(bob, alice)) == ["b1", "b2"]  # only alice's own lists


def test_1_3_clear_history_with_a_recipient_clears_only_that_list(alice, bob):
    carol = make_agent("carol")
    _talk(alice, bob, "b1", "b2")
    _talk(alice, carol, "c1")
    alice.clear_history(bob)
    assert history(alice, bob) == []
    assert contents(history(alice, carol)) == ["c1"]


def test_1_3_clear_history_can_preserve_the_last_n_messages(alice, bob):
    carol = make_agent("carol")
    _talk(alice, bob, "b1", "b2", "b3", "b4", "b5")
    _talk(alice, carol, "c1", "c2", "c3")
    alice.clear_history(nr_messages_to_preserve=2)
    assert contents(history(alice, bob)) == ["b4", "b5"]
    assert contents(history(alice, carol)) == ["c2", "c3"]


def _history_with_tool_pair(alice, bob):
    alice.send("m1", bob)
    alice.send("m2", bob)
    alice.send(tool_call_message(tool_call("add", {"a": 1})), bob)
    bob.send({"role": "tool", "content": "1",
              "tool_responses": [{"tool_call_id": "call_1", "role": "tool", "content": "1"}]}, alice)
    alice.send("m5", bob)


def test_1_3_clear_history_keeps_a_tool_call_with_its_result(alice, bob):
    _history_with_tool_pair(alice, bob)
    alice.clear_history(nr_messages_to_preserve=2)
    kept = history(alice, bob)
    # Keeping 2 would start at the tool result and orphan it, so the call before it is kept too.
    assert len(kept) == 3
    assert kept[0]["tool_calls"][0]["function"]["name"] == "add"
    assert kept[1]["role"] == "tool"
    assert kept[2]["content"] == "m5"


def test_1_3_clear_history_adds_nothing_when_the_cut_is_clean(alice, bob):
    _history_with_tool_pair(alice, bob)
    alice.clear_history(nr_messages_to_preserve=3)
    kept = history(alice, bob)
    assert len(kept) == 3
    assert "tool_calls" in kept[0]
