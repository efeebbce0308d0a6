"""The reply pipeline (spec §3.1-§3.2), the LLM reply (§1.4) and the code execution reply (§6)."""

from __future__ import annotations

import asyncio
import copy
import inspect
import time
import warnings
from typing import Any, Callable, Iterable

from . import events
from .base import Agent
from .messages import sanitize_name, unroll_tool_responses


def _validate_trigger(trigger: Any) -> None:
    if trigger is None or isinstance(trigger, (type, str, Agent)):
        return
    if isinstance(trigger, list):
        for item in trigger:
            _validate_trigger(item)
        return
    if callable(trigger):
        return
    raise ValueError(
        f"trigger must be None, a str, a class, an agent, a callable or a list of these; got {trigger!r}"
    )


class PipelineMixin:
    """Registering reply functions and running them in order (§3.1, §3.2)."""

    def register_reply(
        self,
        trigger: Any,
        reply_func: Callable,
        position: int = 0,
        config: Any = None,
        reset_config: Callable | None = None,
        *,
        ignore_async_in_sync_chat: bool = False,
        remove_other_reply_funcs: bool = False,
    ) -> None:
        _validate_trigger(trigger)
        if not callable(reply_func):
            raise ValueError(f"reply_func must be callable, got {reply_func!r}")
        if reset_config is not None and not callable(reset_config):
            raise ValueError(f"reset_config must be callable or None, got {reset_config!r}")
        if ignore_async_in_sync_chat and inspect.iscoroutinefunction(reply_func):
            self._ignore_async_func_in_sync_chat_list.append(reply_func)
        if remove_other_reply_funcs:
            self._reply_func_list.clear()
        self._reply_func_list.insert(
            position,
            {
                "trigger": trigger,
                "reply_func": reply_func,
                "config": copy.copy(config),
                "init_config": config,
                "reset_config": reset_config,
                "ignore_async_in_sync_chat": ignore_async_in_sync_chat and inspect.iscoroutinefunction(reply_func),
            },
        )

    def replace_reply_func(self, old_reply_func: Callable, new_reply_func: Callable) -> None:
        for entry in self._reply_func_list:
            if entry["reply_func"] == old_reply_func:
                entry["reply_func"] = new_reply_func

    def _match_trigger(self, trigger: Any, sender: Agent | None) -> bool:
        if trigger is None:
            return sender is None
        if isinstance(trigger, str):
            return trigger == sender.name  # a None sender raises, as in the reference
        if isinstance(trigger, type):
            return isinstance(sender, trigger)
        if isinstance(trigger, Agent):
            return trigger is sender
        if isinstance(trigger, list):
            return any(self._match_trigger(t, sender) for t in trigger)
        if callable(trigger):
            result = trigger(sender)
            if result not in (True, False):
                raise AssertionError(f"trigger {trigger!r} must return a bool, got {result!r}")
            return bool(result)
        raise ValueError(f"unsupported trigger type: {type(trigger).__name__}")

    def _raise_exception_on_async_reply_functions(self) -> None:
        ignored = set(self._ignore_async_func_in_sync_chat_list)
        offending = [
            e["reply_func"]
            for e in self._reply_func_list
            if inspect.iscoroutinefunction(e["reply_func"]) and e["reply_func"] not in ignored
        ]
        if offending:
            names = ", ".join(getattr(f, "__qualname__", repr(f)) for f in offending)
            raise RuntimeError(
                f"agent {self.name!r} has async reply functions ({names}); use a_initiate_chat() for async chats"
            )

    def _prepare_messages(self, messages: list[dict] | None, sender: Agent | None) -> list[dict]:
        if messages is None and sender is None:
            raise AssertionError("generate_reply needs messages or sender (both are None)")
        if messages is None:
            messages = self._oai_messages[sender]
        self.update_agent_state_before_reply(messages)
        messages = self.process_last_received_message(messages)
        return self.process_all_messages_before_reply(messages)

    def generate_reply(
        self,
        messages: list[dict] | None = None,
        sender: Agent | None = None,
        exclude: Iterable[Callable] = (),
        **kwargs: Any,
    ) -> str | dict | None:
        """Run the reply functions in order; the first final one wins, else `default_auto_reply`."""
        messages = self._prepare_messages(messages, sender)
        excluded = list(exclude or ()) + list(kwargs.get("exclude_funcs", ()))
        for entry in list(self._reply_func_list):
            func = entry["reply_func"]
            if func in excluded or inspect.iscoroutinefunction(func):
                continue
            if self._match_trigger(entry["trigger"], sender):
                final, reply = func(self, messages=messages, sender=sender, config=entry["config"])
                if final:
                    return reply
        return self._default_auto_reply

    async def a_generate_reply(
        self,
        messages: list[dict] | None = None,
        sender: Agent | None = None,
        exclude: Iterable[Callable] = (),
        **kwargs: Any,
    ) -> str | dict | None:
        """Async twin: coroutine reply functions run; a sync one is skipped when its async twin is registered."""
        messages = self._prepare_messages(messages, sender)
        excluded = list(exclude or ()) + list(kwargs.get("exclude_funcs", ()))
        twinned = {
            f.__name__[2:]
            for f in self._ignore_async_func_in_sync_chat_list
            if getattr(f, "__name__", "").startswith("a_") and any(e["reply_func"] is f for e in self._reply_func_list)
        }
        for entry in list(self._reply_func_list):
            func = entry["reply_func"]
            if func in excluded:
                continue
            is_async = inspect.iscoroutinefunction(func)
            if not is_async and getattr(func, "__name__", None) in twinned:
                continue
            if self._match_trigger(entry["trigger"], sender):
                if is_async:
                    final, reply = await func(self, messages=messages, sender=sender, config=entry["config"])
                else:
                    final, reply = func(self, messages=messages, sender=sender, config=entry["config"])
                if final:
                    return reply
        return self._default_auto_reply



class ReplyMixin:
    """generate_oai_reply / generate_code_execution_reply and their helpers."""

    def generate_oai_reply(self, messages: list[dict] | None = None, sender: Any = None, config: Any = None):
        """Ask the LLM; a text answer is a str reply, tool calls an assistant dict."""
        client = self.client if config is None else config
        if client is None:
            return False, None
        if messages is None:
            messages = self._oai_messages[sender]
        reply = self._generate_oai_reply_from_client(client, self._oai_system_message + messages, self.client_cache)
        return (False, None) if reply is None else (True, reply)

    async def a_generate_oai_reply(self, messages: list[dict] | None = None, sender: Any = None, config: Any = None):
        # The client is synchronous; a worker thread keeps the event loop free (context is copied,
        # so token events still reach the conversation's sink).
        return await asyncio.to_thread(self.generate_oai_reply, messages, sender, config)

    def _llm_tools(self) -> list[dict] | None:
        if not self.llm_config:
            return None
        return self.llm_config.get("tools") or None

    def _generate_oai_reply_from_client(self, llm_client: Any, messages: list[dict], cache: Any = None) -> str | dict | None:
        # `context` is taken off the stored last message (it mutates the history, as the reference does).
        context = messages[-1].pop("context", None) if messages else None
        request = self._run_safeguards("safeguard_llm_inputs", unroll_tool_responses(messages))
        agent_name = self.name

        def on_token(delta: str) -> None:
            events.emit("token", agent=agent_name, delta=delta)

        started = time.monotonic()
        response = llm_client.create(
            messages=request,
            tools=self._llm_tools(),
            on_token=on_token if events.active() else None,
            context=context,
        )
        latency_ms = getattr(response, "latency_ms", None)
        if latency_ms is None:
            latency_ms = (time.monotonic() - started) * 1000
        usage = getattr(response, "usage", None) or {}
        events.emit(
            "usage",
            agent=agent_name,
            model=getattr(response, "model", None),
            prompt_tokens=usage.get("prompt_tokens", 0),
            completion_tokens=usage.get("completion_tokens", 0),
            cost=getattr(response, "cost", 0.0),
            latency_ms=latency_ms,
        )
        reply = self._extract_reply(getattr(response, "message", None) or {})
        return self._run_safeguards("safeguard_llm_outputs", reply) if reply is not None else None

    def _extract_reply(self, message: dict) -> str | dict | None:
        tool_calls = message.get("tool_calls")
        function_call = message.get("function_call")
        if tool_calls or function_call:
            reply: dict[str, Any] = {"role": "assistant", "content": message.get("content")}
            if function_call:
                reply["function_call"] = {**function_call, "name": sanitize_name(function_call.get("name", ""))}
            if tool_calls:
                cleaned = []
                for call in tool_calls:
                    call = dict(call)
                    function = dict(call.get("function") or {})
                    function["name"] = sanitize_name(function.get("name", ""))
                    call["function"] = function
                    for key in ("id", "type"):
                        if key in call and call[key] is None:
                            del call[key]
                    cleaned.append(call)
                reply["tool_calls"] = cleaned
            return reply
        content = message.get("content")
        if content is None:
            warnings.warn(f"the LLM of {self.name!r} returned neither text nor tool calls", UserWarning, stacklevel=2)
            return None
        return content

    def generate_code_execution_reply(self, messages: list[dict] | None = None, sender: Any = None, config: Any = None):
        """Run the code found in the scanned window (§6.2) and report its output."""
        runner = self._code_runner
        if runner is None:
            return False, None
        if messages is None:
            messages = self._oai_messages[sender]
        final, reply = runner.reply(messages)
        if final:
            result = getattr(runner, "last_result", None)
            events.emit(
                "code_output",
                agent=self.name,
                exit_code=_field(result, "exit_code"),
                output=_field(result, "output"),
            )
        return final, reply

    def _close_runners(self) -> None:
        """Stop code containers at a pause or the end of a chat; runners restart lazily."""
        if self._code_runner is not None:
            self._code_runner.close()

    @property
    def code_executor(self) -> Any:
        """The CodeExecutor behind an `executor` code_execution_config (None for legacy or no code)."""
        return getattr(self._code_runner, "executor", None)

    def execute_code_blocks(self, code_blocks: list[tuple[str, str]]) -> tuple[int, str]:
        """Legacy API: run (language, code) blocks with this agent's legacy runner."""
        if self._code_runner is None or not hasattr(self._code_runner, "execute_code_blocks"):
            raise RuntimeError(f"agent {self.name!r} has no legacy code execution (code_execution_config with work_dir/use_docker)")
        return self._code_runner.execute_code_blocks(code_blocks)

    def run_code(self, code: str, **kwargs: Any) -> tuple[int, str]:
        """Legacy API: run one piece of code with this agent's legacy runner."""
        if self._code_runner is None or not hasattr(self._code_runner, "run_code"):
            raise RuntimeError(f"agent {self.name!r} has no legacy code execution (code_execution_config with work_dir/use_docker)")
        return self._code_runner.run_code(code, **kwargs)

    def print_usage_summary(self, mode: str | list[str] = ("actual", "total")) -> None:
        if self.client is None:
            print(f"Agent {self.name!r} has no LLM, so no cost was incurred.")
        else:
            print(f"Agent {self.name!r}:")
            self.client.print_usage_summary(mode)

    def get_actual_usage(self) -> dict | None:
        return None if self.client is None else self.client.actual_usage_summary

    def get_total_usage(self) -> dict | None:
        return None if self.client is None else self.client.total_usage_summary

    def register_model_client(self, model_client_cls: type, **kwargs: Any) -> None:
        if self.client is None:
            raise ValueError(f"agent {self.name!r} has no llm_config, so there is no client to register {model_client_cls!r} with")
        self.client.register_model_client(model_client_cls, **kwargs)


def _field(result: Any, name: str) -> Any:
    if result is None:
        return None
    if isinstance(result, dict):
        return result.get(name)
    return getattr(result, name, None)
