"""Helpers for the spec tests (tests/engine/test_spec_*.py).

Agents are scripted the way AutoGen users script them: `default_auto_reply`, a reply function registered
with `register_reply([Agent, None], fn, position=2)`, and `is_termination_msg`. Everything here goes through
the public AutoGen-style API (`import workers.agents as autogen`); the single exception is `counter()`,
because the reference has no public getter for the consecutive-auto-reply counter.
"""

from __future__ import annotations

import json
from typing import Any, Callable

import workers.agents as autogen

ReplyFunc = Callable[[Any, list, Any, Any], tuple[bool, Any]]


def make_agent(name: str, mode: str = "NEVER", **kwargs: Any) -> autogen.ConversableAgent:
    """A ConversableAgent without LLM or code execution; NEVER mode unless told otherwise."""
    return autogen.ConversableAgent(name, human_input_mode=mode, **kwargs)


def scripted(agent: autogen.ConversableAgent, *replies: Any, position: int = 2) -> autogen.ConversableAgent:
    """Make `agent` answer with `replies` in turn; the last one repeats. Registered at `position` (2 = after the
    termination/human check, before tools, code and the LLM: the usual way to fake an agent)."""
    if not replies:
        raise ValueError("scripted() needs at least one reply")
    queue = list(replies)

    def reply(recipient, messages, sender, config):
        return True, (queue.pop(0) if len(queue) > 1 else queue[0])

    agent.register_reply([autogen.Agent, None], reply, position=position)
    return agent


def recording(agent: autogen.ConversableAgent, seen: list, answer: Any = "ok", position: int = 2) -> ReplyFunc:
    """Register a final reply function that appends (messages copy, sender, config) to `seen` and answers `answer`."""

    def reply(recipient, messages, sender, config):
        seen.append({"recipient": recipient, "messages": [dict(m) for m in messages], "sender": sender,
                     "config": config})
        return True, answer

    agent.register_reply([autogen.Agent, None], reply, position=position)
    return reply


def contents(history: list[dict]) -> list[Any]:
    """The `content` of each message, in order."""
    return [message.get("content") for message in history]


def history(agent: autogen.ConversableAgent, other: autogen.ConversableAgent) -> list[dict]:
    """`agent`'s stored messages with `other` ([] when they never talked)."""
    return list(agent.chat_messages.get(other, []))


def counter(agent: autogen.ConversableAgent, sender: autogen.ConversableAgent) -> int:
    """`agent`'s consecutive-auto-reply counter for `sender` (the reference's attribute; there is no getter)."""
    return agent._consecutive_auto_reply_counter[sender]


def kinds(provider: Any) -> list[str]:
    """The kinds of the human-input requests a ScriptedInput received, in order."""
    return [request["kind"] for request in provider.requests]


def name_of(value: Any) -> str:
    """An agent's name, whether a request field holds the agent or its name."""
    return value if isinstance(value, str) else value.name


def tool_call(name: str, arguments: dict | str | None = None, call_id: str | None = "call_1") -> dict:
    """One OpenAI-shaped tool call; `arguments` dicts are JSON-encoded, strings are sent as given."""
    args = arguments if isinstance(arguments, str) else json.dumps(arguments or {})
    call: dict[str, Any] = {"type": "function", "function": {"name": name, "arguments": args}}
    if call_id is not None:
        call["id"] = call_id
    return call


def tool_call_message(*calls: dict) -> dict:
    """The message an LLM produces when it calls tools (§7)."""
    return {"role": "assistant", "content": None, "tool_calls": list(calls)}
