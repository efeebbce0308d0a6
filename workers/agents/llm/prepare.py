"""Request and reply shaping shared by all providers: context templating (§1.4) and name sanitising."""

from __future__ import annotations

import re
from typing import Any

_BAD_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")


def instantiate(template: Any, context: dict | None, allow_format_str_template: bool = False) -> Any:
    """Fill message content: a callable is called with the context; a str is formatted with it only when
    `allow_format_str_template` is on (otherwise it is sent verbatim, braces and all)."""
    if callable(template):
        return template(context if context is not None else {})
    if isinstance(template, str) and allow_format_str_template and context:
        return template.format(**context)
    return template


def prepare_messages(messages: list[Any], context: dict | None, allow_format_str_template: bool) -> list[dict]:
    """Copies of `messages` as dicts with content filled in; the caller's list is left untouched."""
    if not isinstance(messages, list):
        raise ValueError(f"messages must be a list of message dicts, got {type(messages).__name__}")
    prepared = []
    for index, message in enumerate(messages):
        if isinstance(message, str):
            message = {"role": "user", "content": message}
        if not isinstance(message, dict):
            raise ValueError(f"messages[{index}] must be a dict, got {type(message).__name__}")
        message = dict(message)
        message.pop("context", None)  # never sent: it only feeds templating
        if message.get("content") is not None:
            message["content"] = instantiate(message["content"], context, allow_format_str_template)
        prepared.append(message)
    return prepared


def sanitize_name(name: str) -> str:
    """Tool/function names as the engine stores them: [A-Za-z0-9_-] only, at most 64 characters."""
    return _BAD_NAME_CHARS.sub("_", name)[:64]


def clean_reply(message: dict) -> dict:
    """Sanitise tool and function names and drop tool-call `id`/`type` keys that are None."""
    message = dict(message)
    calls = message.get("tool_calls")
    if calls:
        cleaned = []
        for call in calls:
            call = {k: v for k, v in call.items() if not (k in ("id", "type") and v is None)}
            function = dict(call.get("function") or {})
            if isinstance(function.get("name"), str):
                function["name"] = sanitize_name(function["name"])
            call["function"] = function
            cleaned.append(call)
        message["tool_calls"] = cleaned
    else:
        message.pop("tool_calls", None)
    function_call = message.get("function_call")
    if isinstance(function_call, dict) and isinstance(function_call.get("name"), str):
        message["function_call"] = {**function_call, "name": sanitize_name(function_call["name"])}
    elif "function_call" in message and not function_call:
        message.pop("function_call")
    return message
