""""auto" speaker selection (spec §8.4) through the real openai / anthropic SDKs and the fake LLM server."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from workers.agents.agent import ConversableAgent
from workers.agents.groupchat import GroupChat, GroupChatManager

ROLES = "alice: Alice plans the work.\nbob: Bob reviews code.\ncarol: Carol writes the tests."
AGENTLIST = "['alice', 'bob', 'carol']"  # candidates keep the group's order


def member(name: str, description: str) -> ConversableAgent:
    return ConversableAgent(name, llm_config=False, human_input_mode="NEVER", description=description,
                            default_auto_reply=f"This is {name} speaking.")


def team(**gc_kwargs):
    alice = member("alice", "Alice plans the work.")
    bob = member("bob", "Bob reviews code.")
    carol = member("carol", "Carol writes the tests.")
    gc_kwargs.setdefault("max_round", 2)
    gc = GroupChat(agents=[alice, bob, carol], messages=[], **gc_kwargs)
    return alice, bob, carol, gc


def speakers(gc: GroupChat) -> list[str]:
    return [m["name"] for m in gc.messages]


def test_auto_selection_request_and_choice(fake_llm):
    fake_llm.reply("carol")
    alice, bob, carol, gc = team()
    manager = GroupChatManager(gc, llm_config=fake_llm.llm_config(model="gpt-test"))
    result = alice.initiate_chat(manager, message="Plan: write tests first.")
    assert speakers(gc) == ["alice", "carol"]

    (request,) = fake_llm.requests
    assert request.api == "openai" and request.model == "gpt-test"
    system, opening, prompt = request.messages
    # The message template is filled with str.format; the full stop after {roles} doubles up here.
    assert system == {"role": "system", "content": gc.select_speaker_message_template.format(roles=ROLES, agentlist=AGENTLIST)}
    assert ROLES + ".\n" in system["content"] and "Carol writes the tests.." in system["content"]
    assert opening == {"role": "user", "name": "alice", "content": "Plan: write tests first."}
    assert prompt["role"] == "system" and prompt["name"] == "checking_agent"
    assert prompt["content"] == gc.select_speaker_prompt_template.replace("{agentlist}", AGENTLIST)
    assert AGENTLIST in prompt["content"]
    # Selection cost is not part of the chat's cost: the manager's own client was never used.
    assert result.cost["usage_including_cached_inference"] == {"total_cost": 0}


def test_requery_when_several_names_are_given(fake_llm):
    fake_llm.reply("Either alice or bob could go.", times=1)
    fake_llm.reply("bob")
    alice, bob, carol, gc = team()
    manager = GroupChatManager(gc, llm_config=fake_llm.llm_config())
    alice.initiate_chat(manager, message="Review please.")
    assert speakers(gc) == ["alice", "bob"]
    first, second = fake_llm.requests
    assert second.messages[:-2] == first.messages
    assert second.messages[-2]["role"] == "assistant"
    assert second.messages[-2]["content"] == "Either alice or bob could go."
    requery = second.messages[-1]
    assert requery["role"] == "system" and requery["name"] == "checking_agent"
    assert requery["content"] == gc.select_speaker_auto_multiple_template


def test_requery_when_no_name_is_given(fake_llm):
    fake_llm.reply("The tester should go.", times=1)
    fake_llm.reply("Surely [carol].")
    alice, bob, carol, gc = team(role_for_select_speaker_messages="user")
    manager = GroupChatManager(gc, llm_config=fake_llm.llm_config())
    alice.initiate_chat(manager, message="Now what?")
    assert speakers(gc) == ["alice", "carol"]
    requery = fake_llm.requests[1].messages[-1]
    assert requery["role"] == "user"
    assert requery["content"] == gc.select_speaker_auto_none_template.format(agentlist=AGENTLIST)
    assert AGENTLIST in requery["content"]
    assert fake_llm.requests[0].messages[-1]["role"] == "user"  # the prompt uses the same role


def test_three_failed_replies_fall_back_to_round_robin(fake_llm):
    fake_llm.reply("Nobody in particular.")
    alice, bob, carol, gc = team(max_round=3)
    manager = GroupChatManager(gc, llm_config=fake_llm.llm_config())
    alice.initiate_chat(manager, message="Who is next?")
    # Default attempts = 1 + 2 retries, for each of the two selections.
    assert len(fake_llm.requests) == 6
    assert speakers(gc) == ["alice", "bob", "carol"]


def test_retry_count_and_repeated_single_name(fake_llm):
    fake_llm.reply("alice and bob", times=1)
    fake_llm.reply("carol, carol and again carol")  # one distinct name, mentioned three times
    alice, bob, carol, gc = team(max_retries_for_selecting_speaker=0)
    manager = GroupChatManager(gc, llm_config=fake_llm.llm_config())
    alice.initiate_chat(manager, message="Go.")
    # Zero retries: one attempt, which named two agents, so round robin picks bob.
    assert len(fake_llm.requests) == 1 and speakers(gc) == ["alice", "bob"]


def test_selector_config_overrides_the_manager_and_none_prompt_template(fake_llm):
    fake_llm.reply("bob")
    alice, bob, carol, gc = team(select_speaker_auto_llm_config=fake_llm.llm_config(model="selector-model"),
                                 select_speaker_prompt_template=None)
    manager = GroupChatManager(gc, llm_config=False)
    alice.initiate_chat(manager, message="Over to someone.")
    assert speakers(gc) == ["alice", "bob"]
    request = fake_llm.last_request
    assert request.model == "selector-model"
    # No extra prompt: the last transcript message is what closes the request.
    assert request.messages[-1]["content"] == "Over to someone."
    assert all(m["content"] != gc.select_speaker_prompt_template for m in request.messages)


def test_auto_without_any_llm_config_raises():
    alice, bob, carol, gc = team()
    manager = GroupChatManager(gc, llm_config=False)
    with pytest.raises(ValueError, match="select_speaker_auto_llm_config"):
        alice.initiate_chat(manager, message="hello")


def test_trailing_tool_call_is_blanked_for_the_selector(fake_llm):
    fake_llm.reply("carol")
    alice, bob, carol, gc = team(func_call_filter=False)
    manager = GroupChatManager(gc, llm_config=fake_llm.llm_config())
    call = {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}
    alice.initiate_chat(manager, message={"content": None, "tool_calls": [call]})
    assert speakers(gc) == ["alice", "carol"]
    # The (strict) fake would answer 400 to a tool call left unanswered: none reached it.
    request = fake_llm.last_request
    assert request.status == 200
    assert not any(m.get("tool_calls") for m in request.messages)
    assert gc.messages[0]["tool_calls"] == [call]  # the transcript itself keeps the call


def test_auto_with_the_anthropic_sdk(fake_llm):
    fake_llm.reply("bob", api="anthropic")
    alice, bob, carol, gc = team()
    manager = GroupChatManager(gc, llm_config=fake_llm.llm_config(model="claude-test", api_type="anthropic"))
    alice.initiate_chat(manager, message="Anthropic, choose.")
    assert speakers(gc) == ["alice", "bob"]
    (request,) = fake_llm.requests
    assert request.api == "anthropic"
    # Both system-role messages (the framing and the closing prompt) are merged into `system`.
    system = request.system if isinstance(request.system, str) else "\n".join(b["text"] for b in request.system)
    assert gc.select_speaker_msg(request_agents(gc)) in system
    assert gc.select_speaker_prompt(request_agents(gc)) in system
    assert [m["role"] for m in request.messages][0] == "user"


def request_agents(gc: GroupChat) -> list:
    return list(gc.agents)


class AlwaysCarol:
    """A user's own model client (AutoGen's ModelClient protocol): it always names carol."""

    seen: list[list[dict]] = []

    def __init__(self, config: dict, **kwargs) -> None:
        self.config = config

    def create(self, params: dict):
        AlwaysCarol.seen.append(params["messages"])
        return SimpleNamespace(id="local-1", model="local-selector", text="It is carol's turn.")

    def message_retrieval(self, response) -> list[str]:
        return [response.text]

    def cost(self, response) -> float:
        return 0.0

    @staticmethod
    def get_usage(response) -> dict:
        return {"prompt_tokens": 3, "completion_tokens": 4, "model": response.model}


def test_selector_model_client_class_is_registered_from_the_group_chat():
    AlwaysCarol.seen.clear()
    config = {"config_list": [{"model": "local-selector", "model_client_cls": "AlwaysCarol"}]}
    alice, bob, carol, gc = team(select_speaker_auto_llm_config=config, select_speaker_auto_model_client_cls=AlwaysCarol)
    manager = GroupChatManager(gc, llm_config=False)
    alice.initiate_chat(manager, message="Custom client, choose.", silent=True)
    assert speakers(gc) == ["alice", "carol"]
    (messages,) = AlwaysCarol.seen
    assert messages[0]["role"] == "system" and AGENTLIST in messages[0]["content"]
