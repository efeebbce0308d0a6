"""`ConversableAgent`: construction, per-pair histories, counters, send / receive.

Spec §1-§3. The rest of the agent lives in mixins, one concern each: the reply pipeline and the
LLM and code replies (replies.py), hooks and durable state (hooks.py), termination and human input
(termination.py), tools (tools.py), chats and summaries (chat.py).
"""

from __future__ import annotations

import copy
import re
import warnings
from collections import defaultdict
from typing import Any, Callable, Literal

from . import prompts
from .chat import ChatMixin
from .hooks import HookMixin, StateMixin
from .base import Agent, LLMAgent
from .human import ConsoleInput, HumanInputProvider
from .messages import content_str, normalize
from .replies import PipelineMixin, ReplyMixin
from .termination import TerminationMixin
from .tools import ToolMixin

_KNOWN_MODES = ("ALWAYS", "TERMINATE", "NEVER")


def default_is_termination_msg(message: dict) -> bool:
    """The reference default: the text view of the content is exactly "TERMINATE"."""
    content = message.get("content")
    if callable(content):  # templated content (§1.4) is only filled at LLM time
        return False
    return content_str(content) == "TERMINATE"


class ConversableAgent(
    PipelineMixin, HookMixin, StateMixin, TerminationMixin, ToolMixin, ReplyMixin, ChatMixin, LLMAgent
):
    """A configurable agent that replies through an ordered list of reply functions."""

    DEFAULT_CONFIG: Literal[False] = False
    MAX_CONSECUTIVE_AUTO_REPLY = 100
    DEFAULT_SUMMARY_PROMPT = prompts.SUMMARY_PROMPT
    DEFAULT_SUMMARY_METHOD = "last_msg"

    llm_config: dict | Literal[False]

    def __init__(
        self,
        name: str,
        system_message: str | list | None = prompts.DEFAULT_SYSTEM_MESSAGE,
        is_termination_msg: Callable[[dict], bool] | None = None,
        max_consecutive_auto_reply: int | None = None,
        human_input_mode: str = "TERMINATE",
        function_map: dict[str, Callable] | None = None,
        code_execution_config: dict | Literal[False] | None = False,
        llm_config: dict | Literal[False] | None = None,
        default_auto_reply: str | dict = "",
        description: str | None = None,
        chat_messages: dict[Agent, list[dict]] | None = None,
        silent: bool | None = None,
        *,
        human_input_provider: HumanInputProvider | None = None,
    ):
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, got {type(name).__name__}")
        self._name = name
        self._oai_messages: defaultdict[Any, list[dict]] = defaultdict(list)
        if chat_messages is not None:
            self._oai_messages.update(chat_messages)
        self._oai_system_message = [{"content": system_message, "role": "system"}]
        self._description = description if description is not None else system_message
        self._default_termination = is_termination_msg is None
        self._is_termination_msg = is_termination_msg if is_termination_msg is not None else default_is_termination_msg
        self.silent = silent

        self.client = None
        self.client_cache = None
        self.previous_cache = None
        self._validate_llm_config(llm_config)
        self._validate_name_for_llm()

        if human_input_mode not in _KNOWN_MODES:
            # Reference behaviour: not validated, acts as TERMINATE. The warning is additive (§10 #4).
            warnings.warn(prompts.UNKNOWN_MODE_WARNING.format(mode=human_input_mode, agent=name), UserWarning, stacklevel=2)
        self.human_input_mode = human_input_mode
        self.human_input_provider: HumanInputProvider = human_input_provider or ConsoleInput()

        if max_consecutive_auto_reply is not None and not isinstance(max_consecutive_auto_reply, int):
            raise TypeError(f"max_consecutive_auto_reply must be an int or None, got {max_consecutive_auto_reply!r}")
        self._max_consecutive_auto_reply = (
            max_consecutive_auto_reply if max_consecutive_auto_reply is not None else self.MAX_CONSECUTIVE_AUTO_REPLY
        )
        self._consecutive_auto_reply_counter: defaultdict[Any, int] = defaultdict(int)
        self._max_consecutive_auto_reply_dict: defaultdict[Any, int] = defaultdict(self.max_consecutive_auto_reply)
        self._function_map: dict[str, Callable] = {}
        if function_map is not None:
            self.register_function(function_map)
        self._default_auto_reply = default_auto_reply
        self._reply_func_list: list[dict] = []
        self._ignore_async_func_in_sync_chat_list: list[Callable] = []
        self._human_input: list[str] = []
        self.reply_at_receive: defaultdict[Any, bool] = defaultdict(bool)
        self._stop_reason: dict | None = None
        self._init_hooks()

        # Built-ins are inserted at position 0, so the last registered runs first (§3.1 order).
        self.register_reply([Agent, None], ConversableAgent.generate_oai_reply)
        self.register_reply([Agent, None], ConversableAgent.a_generate_oai_reply, ignore_async_in_sync_chat=True)
        self._code_execution_config: dict | Literal[False] = self._setup_code_execution(code_execution_config)
        self.register_reply([Agent, None], ConversableAgent.generate_tool_calls_reply)
        self.register_reply([Agent, None], ConversableAgent.a_generate_tool_calls_reply, ignore_async_in_sync_chat=True)
        self.register_reply([Agent, None], ConversableAgent.generate_function_call_reply)
        self.register_reply(
            [Agent, None], ConversableAgent.a_generate_function_call_reply, ignore_async_in_sync_chat=True
        )
        self.register_reply([Agent, None], ConversableAgent.check_termination_and_human_reply)
        self.register_reply(
            [Agent, None], ConversableAgent.a_check_termination_and_human_reply, ignore_async_in_sync_chat=True
        )

    # ---- configuration -------------------------------------------------------------------------

    def _validate_llm_config(self, llm_config: Any) -> None:
        if llm_config is None:
            llm_config = self.DEFAULT_CONFIG
        if llm_config is not False and not isinstance(llm_config, dict):
            if hasattr(llm_config, "model_dump"):  # a validated config object (AG2-classic)
                llm_config = llm_config.model_dump()
            else:
                raise ValueError(f"llm_config must be a dict, False or None; got {type(llm_config).__name__}")
        if llm_config is False:
            self.llm_config = False
            self.client = None
            return
        if llm_config in ({}, {"config_list": []}):
            raise ValueError("llm_config needs a non-empty 'model', either at its top level or in 'config_list' entries")
        self.llm_config = copy.deepcopy(llm_config)
        from .llm import LLMClient  # lazy: the LLM package is optional for agents without a model

        self.client = LLMClient(self.llm_config)

    def _validate_name_for_llm(self) -> None:
        if not self.llm_config or not re.search(r"\s", self._name):
            return
        entries = self.llm_config.get("config_list") or [self.llm_config]
        if any(isinstance(e, dict) and e.get("api_type", "openai") == "openai" for e in entries):
            raise ValueError(f"name {self._name!r} must not contain whitespace when the agent uses an OpenAI model")

    def _setup_code_execution(self, config: Any) -> dict | Literal[False]:
        self._code_runner = None
        if config is False:
            return False
        if config is None:
            warnings.warn(
                "code_execution_config=None is deprecated; pass {} to enable code execution or False to disable it",
                DeprecationWarning,
                stacklevel=3,
            )
            config = {}
        if not isinstance(config, dict):
            raise ValueError(f"code_execution_config must be a dict or False, got {config!r}")
        config = dict(config)  # shallow copy: the runner may rewrite keys (legacy Docker images)
        from .execution import make_code_runner  # lazy: keeps the package importable on its own

        self._code_runner = make_code_runner(config)
        if "executor" not in config and hasattr(self._code_runner, "use_docker"):
            config["use_docker"] = self._code_runner.use_docker  # the decision, as the reference records it
        self.register_reply([Agent, None], ConversableAgent.generate_code_execution_reply)
        return config

    # ---- simple properties ---------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def description(self) -> str:
        return self._description

    @description.setter
    def description(self, description: str) -> None:
        self._description = description

    @property
    def system_message(self) -> str:
        return self._oai_system_message[0]["content"]

    def update_system_message(self, system_message: str) -> None:
        self._oai_system_message[0]["content"] = system_message

    @property
    def chat_messages(self) -> dict[Agent, list[dict]]:
        return self._oai_messages

    @property
    def human_input(self) -> list[str]:
        return self._human_input

    @property
    def input_provider(self) -> HumanInputProvider:
        return self.human_input_provider

    @input_provider.setter
    def input_provider(self, provider: HumanInputProvider) -> None:
        self.human_input_provider = provider

    @property
    def code_execution_config(self) -> dict | Literal[False]:
        return self._code_execution_config

    @property
    def use_docker(self) -> bool | str | None:
        if self._code_execution_config is False:
            return None
        if hasattr(self._code_runner, "use_docker"):  # legacy runner: the value it decided at construction
            return self._code_runner.use_docker
        return self._code_execution_config.get("use_docker")

    def chat_messages_for_summary(self, agent: Agent) -> list[dict]:
        return self._oai_messages[agent]

    def last_message(self, agent: Agent | None = None) -> dict | None:
        """The last message exchanged with `agent` (with the only counterpart when None)."""
        if agent is None:
            n = len(self._oai_messages)
            if n == 0:
                return None
            if n == 1:
                for history in self._oai_messages.values():
                    return history[-1] if history else None
            raise ValueError("more than one conversation is found; pass agent= to choose one")
        if agent not in self._oai_messages:
            raise KeyError(
                f"the agent {getattr(agent, 'name', agent)!r} is not present in the message history of {self.name!r}"
            )
        history = self._oai_messages[agent]
        return history[-1] if history else None

    # ---- counters and flags --------------------------------------------------------------------

    def max_consecutive_auto_reply(self, sender: Agent | None = None) -> int:
        return self._max_consecutive_auto_reply if sender is None else self._max_consecutive_auto_reply_dict[sender]

    def update_max_consecutive_auto_reply(self, value: int, sender: Agent | None = None) -> None:
        if sender is None:
            self._max_consecutive_auto_reply = value
            for key in self._max_consecutive_auto_reply_dict:
                self._max_consecutive_auto_reply_dict[key] = value
        else:
            self._max_consecutive_auto_reply_dict[sender] = value

    def reset_consecutive_auto_reply_counter(self, sender: Agent | None = None) -> None:
        if sender is None:
            self._consecutive_auto_reply_counter.clear()
        else:
            self._consecutive_auto_reply_counter[sender] = 0

    def stop_reply_at_receive(self, sender: Agent | None = None) -> None:
        if sender is None:
            self.reply_at_receive.clear()
        else:
            self.reply_at_receive[sender] = False

    def clear_history(self, recipient: Agent | None = None, nr_messages_to_preserve: int | None = None) -> None:
        """Clear one history or all; optionally keep the last n messages (never splitting a tool call)."""
        keys = list(self._oai_messages) if recipient is None else [recipient]
        if not nr_messages_to_preserve:
            if recipient is None:
                self._oai_messages.clear()
            else:
                self._oai_messages[recipient].clear()
            return
        for key in keys:
            history = self._oai_messages[key]
            keep = min(nr_messages_to_preserve, len(history))
            # Keeping a tool result without its call would be rejected by the model: keep one more.
            if keep and keep < len(history) and "tool_responses" in history[-keep]:
                keep += 1
            history[:] = history[-keep:] if keep else []

    def reset(self) -> None:
        self.clear_history()
        self.reset_consecutive_auto_reply_counter()
        self.stop_reply_at_receive()
        if self.client is not None and hasattr(self.client, "clear_usage_summary"):
            self.client.clear_usage_summary()
        for entry in self._reply_func_list:
            if entry["reset_config"] is not None:
                entry["reset_config"](entry["config"])
            else:
                entry["config"] = copy.copy(entry["init_config"])

    # ---- send and receive ----------------------------------------------------------------------

    @staticmethod
    def _is_silent(agent: Agent, silent: bool | None = False) -> bool:
        own = getattr(agent, "silent", None)
        return own if own is not None else bool(silent)

    def _append_oai_message(self, message: Any, role: str, conversation_id: Agent, is_sending: bool) -> bool:
        author = self.name if is_sending else conversation_id.name
        stored = normalize(message, role=role, author=author)
        if stored is None:
            return False
        self._oai_messages[conversation_id].append(stored)
        return True

    def _invalid_message(self, message: Any) -> ValueError:
        return ValueError(
            f"message {message!r} cannot be stored: it needs 'content', 'function_call' or 'tool_calls'"
        )

    def send(self, message: dict | str, recipient: Agent, request_reply: bool | None = None, silent: bool | None = False) -> None:
        message = self._process_message_before_send(message, recipient, self._is_silent(self, silent))
        if not self._append_oai_message(message, "assistant", recipient, is_sending=True):
            raise self._invalid_message(message)
        recipient.receive(message, self, request_reply, silent)

    async def a_send(
        self, message: dict | str, recipient: Agent, request_reply: bool | None = None, silent: bool | None = False
    ) -> None:
        message = self._process_message_before_send(message, recipient, self._is_silent(self, silent))
        if not self._append_oai_message(message, "assistant", recipient, is_sending=True):
            raise self._invalid_message(message)
        await recipient.a_receive(message, self, request_reply, silent)

    def _process_received_message(self, message: Any, sender: Agent, silent: bool | None) -> None:
        if not self._append_oai_message(message, "user", sender, is_sending=False):
            raise self._invalid_message(message)
        if not self._is_silent(sender, silent):
            self._print_received_message(message, sender)

    def _wants_reply(self, sender: Agent, request_reply: bool | None) -> bool:
        return not (request_reply is False or (request_reply is None and self.reply_at_receive[sender] is False))

    def receive(self, message: dict | str, sender: Agent, request_reply: bool | None = None, silent: bool | None = False) -> None:
        self._process_received_message(message, sender, silent)
        if not self._wants_reply(sender, request_reply):
            return
        reply = self.generate_reply(messages=self.chat_messages[sender], sender=sender)
        if reply is not None:
            self.send(reply, sender, silent=silent)

    async def a_receive(
        self, message: dict | str, sender: Agent, request_reply: bool | None = None, silent: bool | None = False
    ) -> None:
        self._process_received_message(message, sender, silent)
        if not self._wants_reply(sender, request_reply):
            return
        reply = await self.a_generate_reply(messages=self.chat_messages[sender], sender=sender)
        if reply is not None:
            await self.a_send(reply, sender, silent=silent)

    def _print_received_message(self, message: Any, sender: Agent) -> None:
        from .chat import format_message  # printing only; kept next to the other chat helpers

        print(format_message(message, sender.name, self.name), flush=True)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self._name!r})"
