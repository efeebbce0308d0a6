"""Tools and function calling (spec §7): schemas from type hints, registration, execution."""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import re
import typing
import warnings
from typing import Any, Callable

from .asyncutil import run_coroutine_in_thread

_VALID_NAME = re.compile(r"^[a-zA-Z0-9_-]+$")


# ---- schemas -------------------------------------------------------------------------------------


def _unwrap_annotated(hint: Any) -> tuple[Any, str | None]:
    """(the real type, the description) of `Annotated[T, "text"]`; other hints pass through."""
    if typing.get_origin(hint) is typing.Annotated:
        base, *extras = typing.get_args(hint)
        description = next((x for x in extras if isinstance(x, str)), None)
        return base, description
    return hint, None


def type_schema(hint: Any) -> dict:
    """JSON schema of one Python type (pydantic does the heavy lifting)."""
    if hint is None or hint is type(None):
        return {"type": "null"}
    from pydantic import TypeAdapter

    return TypeAdapter(hint).json_schema()


def get_function_schema(func: Callable, *, name: str | None = None, description: str) -> dict:
    """The OpenAI tool schema of `func`: parameters from its signature and type hints."""
    name = name or func.__name__
    signature = inspect.signature(func)
    try:
        hints = typing.get_type_hints(func, include_extras=True)
    except Exception:  # unresolvable forward references: fall back to the raw annotations
        hints = {k: p.annotation for k, p in signature.parameters.items() if p.annotation is not inspect.Parameter.empty}
    params = [
        p
        for p in signature.parameters.values()
        if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    missing = [p.name for p in params if p.name not in hints]
    if missing:
        raise TypeError(
            f"every parameter of function {name!r} needs a type hint for its tool schema; "
            f"missing for: {', '.join(missing)}"
        )
    properties: dict[str, dict] = {}
    required: list[str] = []
    for p in params:
        base, text = _unwrap_annotated(hints[p.name])
        schema = dict(type_schema(base))
        if p.default is not inspect.Parameter.empty:
            schema["default"] = p.default
        else:
            required.append(p.name)
        schema["description"] = text if text is not None else p.name
        properties[p.name] = schema
    return {
        "type": "function",
        "function": {
            "description": description,
            "name": name,
            "parameters": {"type": "object", "properties": properties, "required": required},
        },
    }


# ---- result conversion ---------------------------------------------------------------------------


def serialize_to_str(value: Any) -> str:
    """How a function registered for execution reports its value (AG2-classic: Python str())."""
    if isinstance(value, str):
        return value
    try:
        from pydantic import BaseModel

        if isinstance(value, BaseModel):
            return value.model_dump_json()
    except ImportError:  # pragma: no cover - pydantic ships with the LLM SDKs
        pass
    return str(value)


def _load_models(func: Callable, kwargs: dict) -> dict:
    """Turn dict arguments into the pydantic models the function's hints ask for."""
    try:
        from pydantic import BaseModel

        hints = typing.get_type_hints(func, include_extras=True)
    except Exception:
        return kwargs
    loaded = dict(kwargs)
    for key, value in kwargs.items():
        base, _ = _unwrap_annotated(hints.get(key))
        if isinstance(base, type) and issubclass(base, BaseModel) and isinstance(value, dict):
            loaded[key] = base.model_validate(value)
    return loaded


def wrap_for_execution(func: Callable) -> Callable:
    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> str:
            return serialize_to_str(await func(*args, **_load_models(func, kwargs)))

        async_wrapper._origin = func  # type: ignore[attr-defined]
        return async_wrapper

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> str:
        return serialize_to_str(func(*args, **_load_models(func, kwargs)))

    wrapper._origin = func  # type: ignore[attr-defined]
    return wrapper


def format_json_str(text: str) -> str:
    """Make model-written JSON parseable: drop newlines between tokens, escape them inside strings."""
    out: list[str] = []
    in_string = False
    previous = " "
    for ch in text:
        if ch == '"' and previous != "\\":
            in_string = not in_string
        previous = ch
        if ch == "\n" and not in_string:
            continue
        if in_string and ch == "\n":
            ch = "\\n"
        elif in_string and ch == "\t":
            ch = "\\t"
        out.append(ch)
    return "".join(out)


def assert_valid_name(name: str) -> str:
    if not isinstance(name, str) or not _VALID_NAME.match(name):
        raise ValueError(f"function name {name!r} must match [a-zA-Z0-9_-]+")
    if len(name) > 64:
        raise ValueError(f"function name {name!r} is longer than 64 characters")
    return name


# ---- the agent side ------------------------------------------------------------------------------


class ToolMixin:
    """register_for_llm / register_for_execution, function_map, and the tool reply functions."""

    @property
    def function_map(self) -> dict[str, Callable]:
        return self._function_map

    def register_function(self, function_map: dict[str, Callable | None]) -> None:
        """Add functions the agent can execute (a None value removes the name)."""
        for name in function_map:
            assert_valid_name(name)
        self._function_map.update(function_map)
        self._function_map = {k: v for k, v in self._function_map.items() if v is not None}

    def can_execute_function(self, name: str | list[str]) -> bool:
        names = name if isinstance(name, list) else [name]
        return all(n in self._function_map for n in names)

    def _wrap_function(self, func: Callable) -> Callable:
        return wrap_for_execution(func)

    def _rebuild_client(self) -> None:
        from .llm import LLMClient

        self.client = LLMClient(self.llm_config)

    def update_tool_signature(self, tool_sig: dict | str, is_remove: bool) -> None:
        if not self.llm_config:
            raise AssertionError(f"agent {self.name!r} has no llm_config; tools are offered to an LLM")
        tools = list(self.llm_config.get("tools") or [])
        if is_remove:
            if not tools:
                raise AssertionError(f"agent {self.name!r} has no tools to remove {tool_sig!r} from")
            tools = [t for t in tools if t["function"]["name"] != tool_sig]
        else:
            if not isinstance(tool_sig, dict):
                raise ValueError(f"tool_sig must be a dict when adding a tool, got {type(tool_sig).__name__}")
            name = tool_sig["function"]["name"]
            if any(t["function"]["name"] == name for t in tools):
                warnings.warn(f"tool {name!r} of agent {self.name!r} is being replaced", UserWarning, stacklevel=3)
            tools = [t for t in tools if t["function"]["name"] != name] + [tool_sig]
        if tools:
            self.llm_config["tools"] = tools
        else:
            self.llm_config.pop("tools", None)
        self._rebuild_client()

    def update_function_signature(self, func_sig: dict | str, is_remove: bool) -> None:
        if not self.llm_config:
            raise AssertionError(f"agent {self.name!r} has no llm_config; functions are offered to an LLM")
        functions = list(self.llm_config.get("functions") or [])
        if is_remove:
            functions = [f for f in functions if f["name"] != func_sig]
        else:
            if not isinstance(func_sig, dict):
                raise ValueError(f"func_sig must be a dict when adding a function, got {type(func_sig).__name__}")
            if any(f["name"] == func_sig["name"] for f in functions):
                warnings.warn(f"function {func_sig['name']!r} of agent {self.name!r} is being replaced", UserWarning, stacklevel=3)
            functions = [f for f in functions if f["name"] != func_sig["name"]] + [func_sig]
        if functions:
            self.llm_config["functions"] = functions
        else:
            self.llm_config.pop("functions", None)
        self._rebuild_client()

    def register_for_llm(
        self, name: str | None = None, description: str | None = None, api_style: str = "tool"
    ) -> Callable[[Callable], Callable]:
        """Decorator: offer the function to this agent's LLM, with a schema built from its hints."""
        if not self.llm_config:
            raise AssertionError(f"agent {self.name!r} needs an llm_config before functions can be registered for its LLM")
        if api_style not in ("tool", "function"):
            raise ValueError(f"api_style must be 'tool' or 'function', got {api_style!r}")

        def decorator(func: Callable) -> Callable:
            # Tags left by an earlier registration are not read here: the same function may be
            # registered again under its own name (they only serve a stacked register_for_execution).
            fname = name or func.__name__
            assert_valid_name(fname)
            desc = description or inspect.getdoc(func)
            if not desc:
                raise ValueError(f"function {fname!r} needs a description: pass description= or give it a docstring")
            schema = get_function_schema(func, name=fname, description=desc)
            if api_style == "function":
                self.update_function_signature(schema["function"], is_remove=False)
            else:
                self.update_tool_signature(schema, is_remove=False)
            try:  # lets a stacked register_for_execution reuse the name
                func._name = fname  # type: ignore[attr-defined]
                func._description = desc  # type: ignore[attr-defined]
            except (AttributeError, TypeError):
                pass
            return func

        return decorator

    def register_for_execution(self, name: str | None = None) -> Callable[[Callable], Callable]:
        """Decorator: let this agent execute the function when an LLM calls it."""

        def decorator(func: Callable) -> Callable:
            fname = name or getattr(func, "_name", None) or func.__name__
            self.register_function({fname: self._wrap_function(func)})
            return func

        return decorator

    # ---- execution ---------------------------------------------------------------------------

    def _parse_call(self, func_call: dict) -> tuple[str, Callable | None, dict | None, str | None]:
        func_call = self._run_safeguards("safeguard_tool_inputs", func_call)
        name = func_call.get("name", "")
        func = self._function_map.get(name)
        if func is None:
            return name, None, None, f"Error: Function {name} not found."
        try:
            arguments = json.loads(format_json_str(func_call.get("arguments") or "{}"))
        except json.JSONDecodeError as exc:
            return name, func, None, f"Error: {exc}\n The argument must be in JSON format."
        return name, func, arguments, None

    def _function_result(self, name: str, ok: bool, content: Any) -> tuple[bool, dict]:
        result = {"name": name, "role": "function", "content": content}
        return ok, self._run_safeguards("safeguard_tool_outputs", result)

    def execute_function(self, func_call: dict, call_id: str | None = None, verbose: bool = False) -> tuple[bool, dict]:
        """Run one call; errors become content ("Error: ..."), never exceptions."""
        name, func, arguments, error = self._parse_call(func_call)
        if error is not None:
            return self._function_result(name, False, error)
        print(f"\n>>>>>>>> Running function {name}...", flush=True)
        try:
            if inspect.iscoroutinefunction(func):
                content = run_coroutine_in_thread(func(**arguments))
            else:
                content = func(**arguments)
            ok = True
        except Exception as exc:  # a failing tool is reported to the model, not raised
            content, ok = f"Error: {exc}", False
        if verbose:
            print(f"Arguments: {arguments}\nResult: {content}", flush=True)
        return self._function_result(name, ok, content)

    async def a_execute_function(self, func_call: dict, call_id: str | None = None, verbose: bool = False) -> tuple[bool, dict]:
        name, func, arguments, error = self._parse_call(func_call)
        if error is not None:
            return self._function_result(name, False, error)
        print(f"\n>>>>>>>> Running function {name}...", flush=True)
        try:
            content = await func(**arguments) if inspect.iscoroutinefunction(func) else func(**arguments)
            ok = True
        except Exception as exc:
            content, ok = f"Error: {exc}", False
        if verbose:
            print(f"Arguments: {arguments}\nResult: {content}", flush=True)
        return self._function_result(name, ok, content)

    def generate_function_call_reply(self, messages: list[dict] | None = None, sender: Any = None, config: Any = None):
        """Legacy `function_call`: run it, reply {"name", "role": "function", "content"}."""
        if messages is None:
            messages = self._oai_messages[sender]
        if not messages or not messages[-1].get("function_call"):
            return False, None
        _, result = self.execute_function(messages[-1]["function_call"])
        return True, result

    async def a_generate_function_call_reply(self, messages: list[dict] | None = None, sender: Any = None, config: Any = None):
        if messages is None:
            messages = self._oai_messages[sender]
        if not messages or not messages[-1].get("function_call"):
            return False, None
        _, result = await self.a_execute_function(messages[-1]["function_call"])
        return True, result

    def generate_tool_calls_reply(self, messages: list[dict] | None = None, sender: Any = None, config: Any = None):
        """Run the last message's tool calls in order; one tool response per call."""
        if messages is None:
            messages = self._oai_messages[sender]
        calls = messages[-1].get("tool_calls") if messages else None
        if not calls:
            return False, None
        responses = [_tool_response(call, self.execute_function(call.get("function", {}), call_id=call.get("id"))[1]) for call in calls]
        return True, _tool_reply(responses)

    async def a_generate_tool_calls_reply(self, messages: list[dict] | None = None, sender: Any = None, config: Any = None):
        if messages is None:
            messages = self._oai_messages[sender]
        calls = messages[-1].get("tool_calls") if messages else None
        if not calls:
            return False, None

        async def one(call: dict) -> dict:
            _, result = await self.a_execute_function(call.get("function", {}), call_id=call.get("id"))
            return _tool_response(call, result)

        responses = list(await asyncio.gather(*(one(call) for call in calls)))
        return True, _tool_reply(responses)


def _tool_response(call: dict, result: dict) -> dict:
    content = result.get("content", "")
    if content is None:
        content = ""
    if call.get("id") is not None:
        return {"tool_call_id": call["id"], "role": "tool", "content": content}
    return {"role": "tool", "content": content}


def _tool_reply(responses: list[dict]) -> dict:
    return {
        "role": "tool",
        "tool_responses": responses,
        "content": "\n\n".join(str(r.get("content", "")) for r in responses),
    }


def register_function(
    f: Callable, *, caller: Any, executor: Any, name: str | None = None, description: str
) -> None:
    """Offer `f` to `caller`'s LLM and let `executor` run it."""
    f = caller.register_for_llm(name=name, description=description)(f)
    executor.register_for_execution(name=name)(f)
