"""The termination and human-input reply function (spec §4) and how agents ask their human.

Tables 4.1 (get a human answer) and 4.2 (act on it) are implemented once, as a coroutine; the
sync reply function drives it without an event loop (see asyncutil.drive).
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
from typing import Any, Awaitable, Callable

from . import prompts
from .asyncutil import drive, resolve
from .human import HumanInputNeeded, HumanInputRequest, make_request

# Stop reasons an agent records when it ends a chat (spec §4.4); Conversation reports them.
STOP_EXIT = "user_exit"
STOP_TERMINATION = "termination"
STOP_TERMINATION_NO_INPUT = "termination_no_input"
STOP_MAX_AUTO_REPLY = "max_auto_reply"


class AnswerReplay:
    """Answers recorded before a suspension, fed back in order when the step runs again."""

    def __init__(self, answers: list[str] | None = None):
        self.answers = list(answers or [])
        self.used = 0
        self.log: list[str] = []  # every answer consumed in this attempt: replayed, then fresh

    def take(self) -> str | None:
        if self.used >= len(self.answers):
            return None
        answer = self.answers[self.used]
        self.used += 1
        self.log.append(answer)
        return answer


_replay: contextvars.ContextVar[AnswerReplay | None] = contextvars.ContextVar("parley_answer_replay", default=None)
_current_request: contextvars.ContextVar[HumanInputRequest | None] = contextvars.ContextVar(
    "parley_human_request", default=None
)


def current_replay() -> AnswerReplay | None:
    return _replay.get()


def install_replay(replay: AnswerReplay | None) -> contextvars.Token:
    return _replay.set(replay)


def uninstall_replay(token: contextvars.Token) -> None:
    _replay.reset(token)


def _stop(agent: Any, code: str, detail: str) -> None:
    agent._stop_reason = {"code": code, "agent": agent.name, "reason": detail}


class TerminationMixin:
    """check_termination_and_human_reply, get_human_input and the `_ask_human` entry point."""

    # ---- the reply function --------------------------------------------------------------------

    def check_termination_and_human_reply(
        self, messages: list[dict] | None = None, sender: Any = None, config: Any = None
    ) -> tuple[bool, Any]:
        async def ask(kind: str, prompt: str) -> str:
            return self._ask_human(kind, sender, prompt)

        return drive(self._termination_and_human(messages, sender, ask))

    async def a_check_termination_and_human_reply(
        self, messages: list[dict] | None = None, sender: Any = None, config: Any = None
    ) -> tuple[bool, Any]:
        async def ask(kind: str, prompt: str) -> str:
            return await self._a_ask_human(kind, sender, prompt)

        return await self._termination_and_human(messages, sender, ask)

    async def _termination_and_human(
        self, messages: list[dict] | None, sender: Any, ask: Callable[[str, str], Awaitable[str]]
    ) -> tuple[bool, Any]:
        if messages is None:
            messages = self._oai_messages[sender] if sender is not None else []
        if not messages:
            return False, None  # AG2-classic: nothing received yet, nothing to decide
        message = messages[-1]
        counter = self._consecutive_auto_reply_counter[sender]
        limit = self._max_consecutive_auto_reply_dict[sender]
        sender_name = sender.name if sender is not None else "the sender"
        mode = self.human_input_mode
        reply = ""
        asked = False
        stop: tuple[str, str] | None = None  # (code, detail) when this reply ends the chat

        if mode == "ALWAYS":
            reply = await ask("always", prompts.prompt_always(self.name, sender_name))
            asked = True
            if not reply and self._is_termination_msg(message):
                reply = "exit"
                stop = (STOP_TERMINATION_NO_INPUT, f"termination condition met on agent {self.name!r} and no human input")
        elif counter >= limit:
            if mode == "NEVER":
                reply = "exit"
                stop = (STOP_MAX_AUTO_REPLY, f"maximum consecutive auto-replies reached on agent {self.name!r}")
            else:
                terminate = self._is_termination_msg(message)
                if terminate:
                    reply = await ask("termination", prompts.prompt_termination(sender_name))
                else:
                    reply = await ask("limit", prompts.prompt_limit(sender_name))
                asked = True
                if not reply and terminate:
                    reply = "exit"
                    stop = (STOP_TERMINATION_NO_INPUT, f"termination condition met on agent {self.name!r} and no human input")
        elif self._is_termination_msg(message):
            if mode == "NEVER":
                reply = "exit"
                stop = (STOP_TERMINATION, f"termination condition met on agent {self.name!r}")
            else:
                reply = await ask("termination", prompts.prompt_termination(sender_name))
                asked = True
                if not reply:
                    reply = "exit"
                    stop = (STOP_TERMINATION_NO_INPUT, f"termination condition met on agent {self.name!r} and no human input")

        if asked and not reply:
            print(prompts.NO_HUMAN_INPUT_NOTICE, flush=True)

        if reply == "exit":
            code, detail = stop or (STOP_EXIT, f"the human of agent {self.name!r} ended the chat")
            _stop(self, code, detail)
            self._consecutive_auto_reply_counter[sender] = 0
            return True, None

        if reply or limit == 0:
            self._consecutive_auto_reply_counter[sender] = 0
            return True, _human_reply(reply, message)

        self._consecutive_auto_reply_counter[sender] += 1
        if mode != "NEVER":
            print(prompts.AUTO_REPLY_NOTICE, flush=True)
        return False, None

    # ---- asking the human ----------------------------------------------------------------------

    def _get_human_input_overridden(self) -> bool:
        from .agent import ConversableAgent

        return type(self).get_human_input is not ConversableAgent.get_human_input

    def _ask_human(self, kind: str, sender: Any, prompt: str, choices: list[str] | None = None) -> str:
        """Ask this agent's human; the one path every prompt of the engine takes.

        Order: an answer recorded before a suspension (replay), else a subclass's
        `get_human_input` override (AutoGen users write these), else the provider. The answer
        is appended to `human_input` exactly once (manual speaker selection is not recorded,
        as in the reference).
        """
        request = self._make_request(kind, sender, prompt, choices)
        replay = _replay.get()
        replayed = replay.take() if replay is not None else None
        if replayed is not None:
            answer = self._finish_answer(replayed, kind)
        elif kind == "manual_selection":
            answer = self._finish_answer(self._call_provider(request), kind)
        else:
            before = len(self._human_input)
            token = _current_request.set(request)
            try:
                answer = self.get_human_input(prompt)
            except HumanInputNeeded as exc:
                exc.request = exc.request or request
                raise
            finally:
                _current_request.reset(token)
            if len(self._human_input) == before:
                self._human_input.append(answer)
        if replay is not None and replayed is None:
            replay.log.append(answer)
        return answer

    async def _a_ask_human(self, kind: str, sender: Any, prompt: str, choices: list[str] | None = None) -> str:
        request = self._make_request(kind, sender, prompt, choices)
        replay = _replay.get()
        replayed = replay.take() if replay is not None else None
        if replayed is not None:
            answer = self._finish_answer(replayed, kind)
        elif kind == "manual_selection":
            answer = self._finish_answer(await self._a_call_provider(request), kind)
        else:
            before = len(self._human_input)
            token = _current_request.set(request)
            try:
                answer = await self.a_get_human_input(prompt)
            except HumanInputNeeded as exc:
                exc.request = exc.request or request
                raise
            finally:
                _current_request.reset(token)
            if len(self._human_input) == before:
                self._human_input.append(answer)
        if replay is not None and replayed is None:
            replay.log.append(answer)
        return answer

    def _make_request(self, kind: str, sender: Any, prompt: str, choices: list[str] | None) -> HumanInputRequest:
        sender_name = sender if (sender is None or isinstance(sender, str)) else sender.name
        return make_request(self.name, sender_name, prompt, kind, choices)

    def _finish_answer(self, raw: str, kind: str) -> str:
        answer = self._run_safeguards("safeguard_human_inputs", raw)
        if kind != "manual_selection":
            self._human_input.append(answer)
        return answer

    def _request_for(self, prompt: str) -> HumanInputRequest:
        request = _current_request.get()
        if request is None or request["agent"] != self.name:
            return make_request(self.name, None, prompt, "always")
        return {**request, "prompt": prompt} if request["prompt"] != prompt else request

    def _call_provider(self, request: HumanInputRequest) -> str:
        answer = resolve(self.human_input_provider(request))
        if not isinstance(answer, str):
            raise TypeError(f"human_input_provider of {self.name!r} must return a str, got {type(answer).__name__}")
        return answer

    async def _a_call_provider(self, request: HumanInputRequest) -> str:
        from .human import ConsoleInput

        provider = self.human_input_provider
        if isinstance(provider, ConsoleInput):
            answer = await asyncio.to_thread(provider, request)  # input() must not block the loop
        else:
            answer = provider(request)
            if inspect.isawaitable(answer):
                answer = await answer
        if not isinstance(answer, str):
            raise TypeError(f"human_input_provider of {self.name!r} must return a str, got {type(answer).__name__}")
        return answer

    def get_human_input(self, prompt: str) -> str:
        """One answer from this agent's human, recorded in `human_input`. The override point."""
        answer = self._run_safeguards("safeguard_human_inputs", self._call_provider(self._request_for(prompt)))
        self._human_input.append(answer)
        return answer

    async def a_get_human_input(self, prompt: str) -> str:
        if self._get_human_input_overridden():
            # A subclass that only overrides the sync method keeps working in async chats.
            return await asyncio.to_thread(self.get_human_input, prompt)
        answer = await self._a_call_provider(self._request_for(prompt))
        answer = self._run_safeguards("safeguard_human_inputs", answer)
        self._human_input.append(answer)
        return answer


def _human_reply(text: str, message: dict) -> dict:
    """The reply carrying human text; pending tool calls get "USER INTERRUPTED" results (§4.2)."""
    tool_returns: list[dict] = []
    if message.get("function_call"):
        tool_returns.append(
            {"role": "function", "name": message["function_call"].get("name", ""), "content": "USER INTERRUPTED"}
        )
    if message.get("tool_calls"):
        tool_returns.extend(
            {"role": "tool", "tool_call_id": call.get("id", ""), "content": "USER INTERRUPTED"}
            for call in message["tool_calls"]
        )
    reply: dict[str, Any] = {"role": "user", "content": text}
    if tool_returns:
        reply["tool_responses"] = tool_returns
    return reply
