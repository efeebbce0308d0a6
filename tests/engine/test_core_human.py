"""Human input (§3.3, §4, §10 #17): providers, the override point, recording, suspension."""

from __future__ import annotations

import json

import pytest

import workers.agents as autogen
from workers.agents import ConversableAgent, Conversation, HumanInputNeeded, ScriptedInput


def never(name: str, **kwargs) -> ConversableAgent:
    return ConversableAgent(name, human_input_mode="NEVER", **kwargs)


def test_scripted_input_records_requests_and_fails_clearly_when_it_runs_out():
    provider = ScriptedInput(["keep going"])
    user = ConversableAgent("user", max_consecutive_auto_reply=1, human_input_provider=provider)
    bot = never("bot", default_auto_reply="TERMINATE")
    with pytest.raises(autogen.ScriptedInputExhausted, match="request #2"):
        user.initiate_chat(bot, message="start", silent=True)
    assert [(r["agent"], r["sender"], r["kind"], r["choices"]) for r in provider.requests] == [
        ("user", "bot", "termination", None), ("user", "bot", "termination", None)]
    assert "bot" in provider.requests[0]["prompt"]
    with pytest.raises(TypeError):
        ScriptedInput("one string")


def test_console_input_is_the_default(monkeypatch):
    prompts = []
    monkeypatch.setattr("builtins.input", lambda prompt: prompts.append(prompt) or "exit")
    user = ConversableAgent("user", human_input_mode="ALWAYS")
    assert isinstance(user.human_input_provider, autogen.ConsoleInput)
    result = user.initiate_chat(never("bot", default_auto_reply="hello"), message="start", silent=True)
    assert [m["content"] for m in result.chat_history] == ["start", "hello"]
    assert len(prompts) == 1 and "bot" in prompts[0]
    assert result.human_input == ["exit"]


def test_no_message_asks_the_human_for_the_first_one_with_carryover():
    provider = ScriptedInput(["typed task"])
    user = ConversableAgent("user", human_input_provider=provider)
    result = user.initiate_chat(never("bot", default_auto_reply="ok"), max_turns=1, silent=True,
                                carryover="earlier result")
    assert provider.requests[0]["prompt"] == ">" and provider.requests[0]["kind"] == "first_message"
    assert result.chat_history[0]["content"] == "typed task\nContext: \nearlier result"
    assert result.human_input == ["typed task"]


@pytest.mark.parametrize("calls_super", [False, True])
def test_a_get_human_input_override_is_used_and_recorded_once(calls_super):
    class WebUser(ConversableAgent):
        def get_human_input(self, prompt: str) -> str:
            self.prompts.append(prompt)
            if calls_super:
                return super().get_human_input(prompt)
            return "exit"

    user = WebUser("user", human_input_mode="ALWAYS", human_input_provider=ScriptedInput(["exit"]))
    user.prompts = []
    result = user.initiate_chat(never("bot", default_auto_reply="hello"), message="start", silent=True)
    assert result.human_input == ["exit"]
    assert len(user.prompts) == 1


def test_human_text_resets_the_counter_and_is_sent_as_user_text():
    user = ConversableAgent("user", human_input_mode="ALWAYS", default_auto_reply="auto",
                            human_input_provider=ScriptedInput(["my words", "exit"]))
    bot = never("bot", default_auto_reply="bot says")
    result = user.initiate_chat(bot, message="start", silent=True)
    assert result.chat_history[2] == {"content": "my words", "role": "assistant", "name": "user"}
    assert bot.chat_messages[user][2] == {"content": "my words", "role": "user", "name": "user"}


def test_limit_zero_sends_the_empty_answer_instead_of_auto_replying():
    user = ConversableAgent("user", human_input_mode="ALWAYS", max_consecutive_auto_reply=0,
                            default_auto_reply="auto", human_input_provider=ScriptedInput(["", "exit"]))
    result = user.initiate_chat(never("bot", default_auto_reply="bot says"), message="start", silent=True)
    assert [m["content"] for m in result.chat_history] == ["start", "bot says", "", "bot says"]


def test_safeguard_hook_rewrites_human_answers_before_they_are_recorded():
    user = ConversableAgent("user", human_input_mode="ALWAYS", human_input_provider=ScriptedInput(["  Exit "]))
    user.register_hook("safeguard_human_inputs", lambda text: text.strip().lower())
    result = user.initiate_chat(never("bot", default_auto_reply="hello"), message="start", silent=True)
    assert result.human_input == ["exit"] and len(result.chat_history) == 2


def test_initiate_chat_suspends_with_the_conversation_attached():
    user = ConversableAgent("user", human_input_mode="ALWAYS", human_input_provider=autogen.SuspendingInput())
    bot = never("bot", default_auto_reply="hello")
    with pytest.raises(HumanInputNeeded) as raised:
        user.initiate_chat(bot, message="start", silent=True)
    conv = raised.value.conversation
    assert raised.value.request["kind"] == "always" and raised.value.request["agent"] == "user"
    assert conv.waiting and user.human_input == []
    with pytest.raises(RuntimeError):
        Conversation.restore({"user": user, "bot": bot}, json.dumps(conv.snapshot())).result()
    conv.answer("exit")
    assert [m["content"] for m in conv.run().chat_history] == ["start", "hello"]
    with pytest.raises(RuntimeError, match="not waiting"):
        conv.answer("again")
