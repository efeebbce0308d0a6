"""Hooks (spec §3.3) and an agent's durable state (`_get_state` / `_set_state`)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Callable, Collection, Mapping

from .messages import copy_messages

HOOKABLE_METHODS = (
    "process_last_received_message",
    "process_all_messages_before_reply",
    "process_message_before_send",
    "update_agent_state",
    # AG2-classic safeguards: each hook maps its input to the value used instead.
    "safeguard_tool_inputs",
    "safeguard_tool_outputs",
    "safeguard_llm_inputs",
    "safeguard_llm_outputs",
    "safeguard_human_inputs",
)

# Key used for a `None` counterpart (generate_reply called without a sender) in JSON state.
NO_SENDER_KEY = ""


class HookMixin:
    """Hook registration and the hookable steps of the reply pipeline."""

    hook_lists: dict[str, list[Callable]]

    def _init_hooks(self) -> None:
        self.hook_lists = {name: [] for name in HOOKABLE_METHODS}

    def register_hook(self, hookable_method: str, hook: Callable) -> None:
        if hookable_method not in self.hook_lists:
            raise AssertionError(
                f"{hookable_method!r} is not a hookable method; expected one of {sorted(self.hook_lists)}"
            )
        hooks = self.hook_lists[hookable_method]
        if hook in hooks:
            raise AssertionError(f"{hook!r} is already registered as a {hookable_method!r} hook")
        hooks.append(hook)

    def update_agent_state_before_reply(self, messages: list[dict]) -> None:
        for hook in self.hook_lists["update_agent_state"]:
            hook(self, messages)

    def process_last_received_message(self, messages: list[dict] | None) -> list[dict] | None:
        """Let hooks rewrite the text of the last message; the stored history is never touched."""
        hooks = self.hook_lists["process_last_received_message"]
        if not hooks or not messages:
            return messages
        last = messages[-1]
        if "function_call" in last or "context" in last or "content" not in last:
            return messages
        content = last["content"]
        if not isinstance(content, (str, list)) or content == "exit":
            return messages
        processed = content
        for hook in hooks:
            processed = hook(processed)
        if processed == content:
            return messages
        messages = copy_messages(messages)
        messages[-1]["content"] = processed
        return messages

    def process_all_messages_before_reply(self, messages: list[dict]) -> list[dict]:
        hooks = self.hook_lists["process_all_messages_before_reply"]
        if not hooks:
            return messages
        processed = copy_messages(messages)
        for hook in hooks:
            processed = hook(processed)
        return processed

    def _process_message_before_send(self, message: Any, recipient: Any, silent: bool) -> Any:
        for hook in self.hook_lists["process_message_before_send"]:
            message = hook(sender=self, message=message, recipient=recipient, silent=silent)
        return message

    def _run_safeguards(self, kind: str, value: Any) -> Any:
        for hook in self.hook_lists[kind]:
            value = hook(value)
        return value


def _key(agent: Any) -> str:
    return NO_SENDER_KEY if agent is None else agent.name


class StateMixin:
    """An agent's conversation state as plain JSON, keyed by counterpart name."""

    def _get_state(self, counterparts: Collection[str] | None = None) -> dict:
        """Histories, counters, limits, flags, human answers and LLM usage, as JSON-ready data.

        `counterparts` restricts the per-pair entries to those names (a conversation snapshots
        only its own participants); None keeps every named counterpart.
        """

        def keep(agent: Any) -> bool:
            return counterparts is None or _key(agent) in counterparts

        client_state = None
        if self.client is not None and hasattr(self.client, "get_state"):
            client_state = self.client.get_state()
        return {
            "name": self.name,
            "system_message": self._oai_system_message[0]["content"],
            "histories": {_key(a): [dict(m) for m in msgs] for a, msgs in self._oai_messages.items() if keep(a)},
            "counters": {_key(a): c for a, c in self._consecutive_auto_reply_counter.items() if keep(a)},
            "limits": {_key(a): v for a, v in self._max_consecutive_auto_reply_dict.items() if keep(a)},
            "max_consecutive_auto_reply": self._max_consecutive_auto_reply,
            "reply_at_receive": {_key(a): bool(v) for a, v in self.reply_at_receive.items() if keep(a)},
            "human_input": list(self._human_input),
            "client": client_state,
        }

    def _set_state(self, state: Mapping[str, Any], agents_by_name: Mapping[str, Any]) -> None:
        """Load `state` (from `_get_state`) into this agent; names resolve through `agents_by_name`.

        Per-pair entries of the named agents are replaced; entries for other agents are untouched.
        Lists are updated in place so live references (e.g. ChatResult.chat_history) stay valid.
        """
        if state.get("name") not in (None, self.name):
            raise ValueError(f"state belongs to agent {state.get('name')!r}, not {self.name!r}")

        def resolve(name: str) -> Any:
            if name == NO_SENDER_KEY:
                return None
            if name not in agents_by_name:
                raise ValueError(
                    f"state of {self.name!r} refers to agent {name!r}, which is not in agents_by_name "
                    f"({sorted(agents_by_name)})"
                )
            return agents_by_name[name]

        named = {id(a) for a in agents_by_name.values()}

        def touched(agent: Any) -> bool:
            return agent is None or id(agent) in named

        self._oai_system_message[0]["content"] = state["system_message"]
        histories = {resolve(n): msgs for n, msgs in state["histories"].items()}
        for agent in [a for a in self._oai_messages if touched(a) and a not in histories]:
            self._oai_messages[agent].clear()
        for agent, msgs in histories.items():
            self._oai_messages[agent][:] = [dict(m) for m in msgs]
        _replace(self._consecutive_auto_reply_counter, state["counters"], resolve, touched)
        self._max_consecutive_auto_reply = state["max_consecutive_auto_reply"]
        _replace(self._max_consecutive_auto_reply_dict, state["limits"], resolve, touched)
        _replace(self.reply_at_receive, state["reply_at_receive"], resolve, touched)
        self._human_input[:] = list(state["human_input"])
        if state.get("client") is not None and self.client is not None and hasattr(self.client, "set_state"):
            self.client.set_state(state["client"])


def _replace(target: defaultdict, values: Mapping[str, Any], resolve: Callable, touched: Callable) -> None:
    for agent in [a for a in target if touched(a)]:
        del target[agent]
    for name, value in values.items():
        target[resolve(name)] = value
