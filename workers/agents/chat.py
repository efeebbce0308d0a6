"""Chats between two agents: preparation, the first message, ChatResult and summaries (spec §5)."""

from __future__ import annotations

import asyncio
import uuid
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

from .messages import content_str

SUMMARY_METHODS = ("last_msg", "reflection_with_llm")


@dataclass
class ChatResult:
    chat_id: int = field(default_factory=lambda: uuid.uuid4().int)
    chat_history: list[dict] = field(default_factory=list)  # the initiator's live history, not a copy
    summary: str = ""
    cost: dict = field(
        default_factory=lambda: {
            "usage_including_cached_inference": {"total_cost": 0},
            "usage_excluding_cached_inference": {"total_cost": 0},
        }
    )
    human_input: list[str] = field(default_factory=list)

    def chat_history_copy(self) -> list[dict]:
        """A detached copy of the history (design option §10 #10; `chat_history` stays live)."""
        return [dict(m) for m in self.chat_history]


def gather_usage_summary(agents: list[Any]) -> dict:
    """Usage and cost of the given agents' clients, in AutoGen's two-section shape."""

    def add(total: dict, summary: dict | None) -> None:
        if not summary:
            return
        total["total_cost"] += summary.get("total_cost", 0)
        for model, data in summary.items():
            if model == "total_cost":
                continue
            if model not in total:
                total[model] = dict(data)
            else:
                for key in ("cost", "prompt_tokens", "completion_tokens", "total_tokens"):
                    total[model][key] = total[model].get(key, 0) + data.get(key, 0)

    including: dict = {"total_cost": 0}
    excluding: dict = {"total_cost": 0}
    for agent in agents:
        client = getattr(agent, "client", None)
        if client is not None:
            add(including, getattr(client, "total_usage_summary", None))
            add(excluding, getattr(client, "actual_usage_summary", None))
    return {"usage_including_cached_inference": including, "usage_excluding_cached_inference": excluding}


def validate_summary_method(summary_method: Any) -> None:
    if summary_method is None or callable(summary_method) or summary_method in SUMMARY_METHODS:
        return
    raise ValueError(f"summary_method must be one of {SUMMARY_METHODS}, a callable or None; got {summary_method!r}")


def process_carryover(content: str, carryover: Any) -> str:
    if isinstance(carryover, str):
        text = carryover
    elif isinstance(carryover, list):
        text = "\n".join(_carryover_item(item) for item in carryover)
    else:
        raise TypeError(f"carryover must be a str or a list of str, got {type(carryover).__name__}")
    return content + "\nContext: \n" + text


def _carryover_item(item: Any) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, dict) and "content" in item:
        return content_str(item["content"])
    return str(item)


def _coerce_summary(value: Any) -> str:
    while isinstance(value, dict):
        value = value.get("content")
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def format_message(message: Any, sender: str, recipient: str) -> str:
    """The console view of one delivered message."""
    msg = message if isinstance(message, dict) else {"content": message}
    lines = [f"{sender} (to {recipient}):", ""]
    if msg.get("tool_responses"):
        for resp in msg["tool_responses"]:
            lines.append(f"***** Tool result ({resp.get('tool_call_id', '')}) *****")
            lines.append(str(resp.get("content")))
    elif msg.get("role") in ("function", "tool"):
        lines.append(f"***** Result of {msg.get('name', 'the call')} *****")
        lines.append(str(msg.get("content")))
    elif msg.get("content") is not None:
        try:
            lines.append(content_str(msg["content"]))
        except (TypeError, ValueError):
            lines.append(str(msg["content"]))
    if msg.get("function_call"):
        call = msg["function_call"]
        lines.append(f"***** Function call: {call.get('name')} *****\nArguments:\n{call.get('arguments')}")
    for call in msg.get("tool_calls") or []:
        fn = call.get("function", {})
        lines.append(f"***** Tool call ({call.get('id', '')}): {fn.get('name')} *****\nArguments:\n{fn.get('arguments')}")
    lines.append("")
    lines.append("-" * 80)
    return "\n".join(lines)


class ChatMixin:
    """initiate_chat and friends; the chat itself is driven by conversation.Conversation."""

    def _prepare_chat(self, recipient: Any, clear_history: bool, prepare_recipient: bool = True, reply_at_receive: bool = True) -> None:
        """Reset counters and reply flags for this pair (and clear its history) before a chat."""
        self.reset_consecutive_auto_reply_counter(recipient)
        self.reply_at_receive[recipient] = reply_at_receive
        if clear_history:
            self.clear_history(recipient)
            if prepare_recipient:
                # The initiator's answers only (spec §5.1); a new list keeps earlier ChatResults intact.
                self._human_input = []
        if prepare_recipient:
            recipient._prepare_chat(self, clear_history, False, reply_at_receive)

    def generate_init_message(self, message: Any, **kwargs: Any) -> str | dict:
        """The first message: `message` (or the human's answer to ">") plus any carryover."""
        if message is None:
            message = self._ask_human("first_message", None, ">")
        return self._handle_carryover(message, kwargs)

    async def a_generate_init_message(self, message: Any, **kwargs: Any) -> str | dict:
        if message is None:
            message = await self._a_ask_human("first_message", None, ">")
        return self._handle_carryover(message, kwargs)

    def _handle_carryover(self, message: Any, kwargs: dict) -> Any:
        carryover = kwargs.get("carryover")
        if not carryover:
            return message
        if isinstance(message, str):
            return process_carryover(message, carryover)
        if isinstance(message, dict):
            message = dict(message)
            content = message.get("content")
            if isinstance(content, str):
                message["content"] = process_carryover(content, carryover)
            elif isinstance(content, list):
                message["content"] = content + [{"type": "text", "text": process_carryover("", carryover)}]
            return message
        raise TypeError(f"message must be a str or a dict, got {type(message).__name__}")

    def initiate_chat(
        self,
        recipient: Any,
        clear_history: bool = True,
        silent: bool | None = False,
        cache: Any = None,
        max_turns: int | None = None,
        summary_method: str | Callable | None = "last_msg",
        summary_args: dict | None = None,
        message: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        """Chat with `recipient` until it ends; the chat runs through Conversation, one step at a time."""
        from .conversation import Conversation

        sink = kwargs.pop("sink", None)
        conversation = Conversation.start(
            self, recipient, message, max_turns=max_turns, clear_history=clear_history, silent=silent,
            cache=cache, summary_method=summary_method, summary_args=summary_args, sink=sink, **kwargs,
        )
        return conversation.run()

    async def a_initiate_chat(
        self,
        recipient: Any,
        clear_history: bool = True,
        silent: bool | None = False,
        cache: Any = None,
        max_turns: int | None = None,
        summary_method: str | Callable | None = "last_msg",
        summary_args: dict | None = None,
        message: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        from .conversation import Conversation

        sink = kwargs.pop("sink", None)
        conversation = Conversation.start(
            self, recipient, message, max_turns=max_turns, clear_history=clear_history, silent=silent,
            cache=cache, summary_method=summary_method, summary_args=summary_args, sink=sink, is_async=True, **kwargs,
        )
        return await conversation.a_run()

    def initiate_chats(self, chat_queue: list[dict]) -> list[ChatResult]:
        """Sequential chats started by this agent; each one's summary is carried over to the next."""
        return initiate_chats([{**chat, "sender": self} for chat in chat_queue])

    async def a_initiate_chats(self, chat_queue: list[dict]) -> list[ChatResult]:
        return await a_initiate_chats([{**chat, "sender": self} for chat in chat_queue])

    # ---- summaries ---------------------------------------------------------------------------

    def _summarize_chat(self, summary_method: Any, summary_args: dict | None, recipient: Any = None, cache: Any = None) -> str:
        summary_args = dict(summary_args or {})
        validate_summary_method(summary_method)
        if summary_method is None:
            return ""
        if summary_method == "last_msg":
            return self._last_msg_as_summary(self, recipient, summary_args)
        if summary_method == "reflection_with_llm":
            summary_args.setdefault("cache", cache)
            return self._reflection_with_llm_as_summary(self, recipient, summary_args)
        return _coerce_summary(summary_method(self, recipient, summary_args))

    @staticmethod
    def _last_msg_as_summary(sender: Any, recipient: Any, summary_args: dict) -> str:
        try:
            content = recipient.last_message(sender)["content"]
            while isinstance(content, dict):  # dict content is unwrapped (§5.4)
                content = content.get("content")
            if isinstance(content, str):
                return content.replace("TERMINATE", "")
            if isinstance(content, list):
                return "\n".join(
                    part["text"].replace("TERMINATE", "")
                    for part in content
                    if isinstance(part, dict) and "text" in part
                )
            return "" if content is None else str(content)
        except (IndexError, AttributeError, KeyError, TypeError) as exc:
            warnings.warn(f"cannot use the last message as summary ({exc}); the summary is empty", UserWarning, stacklevel=2)
            return ""

    @staticmethod
    def _reflection_with_llm_as_summary(sender: Any, recipient: Any, summary_args: dict) -> str:
        prompt = summary_args.get("summary_prompt")
        if prompt is None:
            prompt = type(sender).DEFAULT_SUMMARY_PROMPT
        if not isinstance(prompt, str):
            raise ValueError(f"summary_args['summary_prompt'] must be a str, got {type(prompt).__name__}")
        role = summary_args.get("summary_role") or "system"
        if not isinstance(role, str):
            raise ValueError(f"summary_args['summary_role'] must be a str, got {type(role).__name__}")
        messages = recipient.chat_messages_for_summary(sender)
        llm_agent = recipient if getattr(recipient, "client", None) is not None else sender
        try:
            return sender._reflection_with_llm(prompt, messages, llm_agent=llm_agent, role=role)
        except Exception as exc:  # any LLM failure degrades to an empty summary (§5.4)
            warnings.warn(f"cannot summarise with the LLM ({exc}); the summary is empty", UserWarning, stacklevel=2)
            return ""

    def _reflection_with_llm(self, prompt: str, messages: list[dict], llm_agent: Any = None, cache: Any = None, role: str = "system") -> str:
        client = llm_agent.client if llm_agent is not None and llm_agent.client is not None else self.client
        if client is None:
            raise ValueError("no LLM client to summarise with")
        request = [dict(m) for m in messages] + [{"role": role, "content": prompt}]
        reply = self._generate_oai_reply_from_client(client, request, cache)
        return _coerce_summary(reply)


def _prepare_queue(chat_queue: list[dict]) -> None:
    for i, chat in enumerate(chat_queue):
        for key in ("sender", "recipient"):
            if key not in chat:
                raise ValueError(f"chat_queue[{i}] has no {key!r}")


def _chat_kwargs(chat: dict, finished: list[ChatResult]) -> dict:
    kwargs = {k: v for k, v in chat.items() if k not in ("sender", "recipient", "finished_chat_indexes_to_exclude_from_carryover")}
    excluded = set(chat.get("finished_chat_indexes_to_exclude_from_carryover", []))
    carryover = kwargs.get("carryover", [])
    carryover = [carryover] if isinstance(carryover, str) else list(carryover)
    carryover += [r.summary for i, r in enumerate(finished) if i not in excluded]
    if carryover:
        kwargs["carryover"] = carryover
    return kwargs


def initiate_chats(chat_queue: list[dict]) -> list[ChatResult]:
    """Run chats one after another; summaries of finished chats are carried over to later ones."""
    _prepare_queue(chat_queue)
    finished: list[ChatResult] = []
    for chat in chat_queue:
        finished.append(chat["sender"].initiate_chat(chat["recipient"], **_chat_kwargs(chat, finished)))
    return finished


async def a_initiate_chats(chat_queue: list[dict]) -> list[ChatResult]:
    """Async twin of initiate_chats (still sequential: each chat depends on the previous summaries)."""
    _prepare_queue(chat_queue)
    finished: list[ChatResult] = []
    for chat in chat_queue:
        finished.append(await chat["sender"].a_initiate_chat(chat["recipient"], **_chat_kwargs(chat, finished)))
    await asyncio.sleep(0)
    return finished
