"""OpenAI chat-completions wire shapes for the fake server: responses, stream chunks, errors."""

from __future__ import annotations

import re
import time
from typing import Any, Iterator

from .rules import ToolCall, count_tokens

_ERROR_KINDS = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_denied", None),
    404: ("invalid_request_error", "model_not_found"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
}


def error_body(status: int, message: str, code: str | None = None) -> dict:
    kind, default_code = _ERROR_KINDS.get(status, ("server_error", None))
    code = code or default_code
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def default_error_message(status: int, model: str | None, api_key: str | None) -> str:
    if status == 401:
        return f"Incorrect API key provided: {api_key or '(none)'}. Check the key and try again."
    if status == 404:
        return f"The model `{model}` does not exist or you do not have access to it."
    if status == 429:
        return f"Rate limit reached for {model}. Please try again later."
    return f"The fake server answered {status} as scripted."


def completion_tokens(text: str, calls: list[ToolCall]) -> int:
    return count_tokens(text) + sum(count_tokens(c.arguments_json()) for c in calls)


def _usage(prompt: int, completion: int) -> dict:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _wire_calls(calls: list[ToolCall], ids: list[str]) -> list[dict]:
    return [
        {"id": call_id, "type": "function", "function": {"name": c.name, "arguments": c.arguments_json()}}
        for c, call_id in zip(calls, ids)
    ]


def completion(
    *, response_id: str, model: str, text: str, calls: list[ToolCall], ids: list[str], prompt: int,
    finish_reason: str | None,
) -> dict:
    message: dict[str, Any] = {"role": "assistant", "content": text if (text or not calls) else None}
    if calls:
        message["tool_calls"] = _wire_calls(calls, ids)
    return {
        "id": response_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish_reason or ("tool_calls" if calls else "stop"),
            }
        ],
        "usage": _usage(prompt, completion_tokens(text, calls)),
        "system_fingerprint": "fp_parley_fake",
    }


def split_words(text: str) -> list[str]:
    """Word-sized pieces whose concatenation is exactly `text`."""
    return re.findall(r"\S+\s*|\s+", text)


def chunks(
    *, response_id: str, model: str, text: str, calls: list[ToolCall], ids: list[str], prompt: int,
    finish_reason: str | None, include_usage: bool,
) -> Iterator[dict]:
    created = int(time.time())

    def chunk(delta: dict, finish: str | None = None) -> dict:
        body = {
            "id": response_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_parley_fake",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if include_usage:
            body["usage"] = None  # as the real API does: only the final usage chunk carries it
        return body

    yield chunk({"role": "assistant", "content": ""})
    for piece in split_words(text):
        yield chunk({"content": piece})
    for index, (call, call_id) in enumerate(zip(calls, ids)):
        yield chunk({"tool_calls": [{
            "index": index, "id": call_id, "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }]})
        arguments = call.arguments_json()
        middle = len(arguments) // 2  # two pieces, so clients must concatenate argument deltas
        for piece in (arguments[:middle], arguments[middle:]):
            if piece:
                yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    yield chunk({}, finish_reason or ("tool_calls" if calls else "stop"))
    if include_usage:
        final = chunk({})
        final["choices"] = []
        final["usage"] = _usage(prompt, completion_tokens(text, calls))
        yield final


def check_request(body: dict) -> str | None:
    """The request errors the real API reports with 400; None when the request is acceptable."""
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "you must provide a model parameter"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty array"
    open_ids: set[str] = set()
    for i, message in enumerate(messages):
        roles = ("system", "developer", "user", "assistant", "tool", "function")
        if not isinstance(message, dict) or message.get("role") not in roles:
            return f"messages[{i}]: invalid role"
        role = message["role"]
        if role != "tool" and open_ids:
            return (f"messages[{i}]: an assistant message with 'tool_calls' must be followed by tool messages "
                    f"responding to each 'tool_call_id'; missing {sorted(open_ids)}")
        if role == "assistant" and message.get("tool_calls"):
            open_ids = {c.get("id") for c in message["tool_calls"]}
        elif role == "tool":
            call_id = message.get("tool_call_id")
            if call_id not in open_ids:
                return (f"messages[{i}]: messages with role 'tool' must respond to a preceding message with "
                        f"'tool_calls' (unknown id {call_id!r})")
            open_ids.discard(call_id)
    if open_ids:
        return f"tool calls without tool messages: {sorted(open_ids)}"
    return None
