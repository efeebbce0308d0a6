"""Anthropic messages wire shapes for the fake server: responses, stream events, errors."""

from __future__ import annotations

from typing import Any, Iterator

from .rules import ToolCall, count_tokens
from .wire_openai import split_words

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def error_body(status: int, message: str, code: str | None = None) -> dict:
    return {"type": "error", "error": {"type": code or _ERROR_TYPES.get(status, "api_error"), "message": message}}


def default_error_message(status: int, model: str | None, api_key: str | None) -> str:
    if status == 401:
        return "invalid x-api-key"
    if status == 404:
        return f"model: {model}"
    if status == 429:
        return "Number of request tokens has exceeded your per-minute rate limit."
    return f"The fake server answered {status} as scripted."


def completion_tokens(text: str, calls: list[ToolCall]) -> int:
    return count_tokens(text) + sum(count_tokens(c.arguments_json()) for c in calls)


def _stop_reason(calls: list[ToolCall], finish_reason: str | None) -> str:
    return finish_reason or ("tool_use" if calls else "end_turn")


def message(
    *, response_id: str, model: str, text: str, calls: list[ToolCall], ids: list[str], prompt: int,
    finish_reason: str | None,
) -> dict:
    content: list[dict[str, Any]] = []
    if text or not calls:
        content.append({"type": "text", "text": text})
    for call, call_id in zip(calls, ids):
        content.append({"type": "tool_use", "id": call_id, "name": call.name, "input": call.arguments_object()})
    return {
        "id": response_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": _stop_reason(calls, finish_reason),
        "stop_sequence": None,
        "usage": {"input_tokens": prompt, "output_tokens": completion_tokens(text, calls)},
    }


def events(
    *, response_id: str, model: str, text: str, calls: list[ToolCall], ids: list[str], prompt: int,
    finish_reason: str | None,
) -> Iterator[tuple[str, dict]]:
    """(event name, data) pairs in the order the real API streams them."""
    yield "message_start", {"type": "message_start", "message": {
        "id": response_id, "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": prompt, "output_tokens": 1},
    }}
    index = 0
    if text or not calls:
        yield "content_block_start", {"type": "content_block_start", "index": index,
                                      "content_block": {"type": "text", "text": ""}}
        yield "ping", {"type": "ping"}
        for piece in split_words(text):
            yield "content_block_delta", {"type": "content_block_delta", "index": index,
                                          "delta": {"type": "text_delta", "text": piece}}
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
        index += 1
    for call, call_id in zip(calls, ids):
        yield "content_block_start", {"type": "content_block_start", "index": index, "content_block": {
            "type": "tool_use", "id": call_id, "name": call.name, "input": {}}}
        arguments = call.arguments_json()
        middle = len(arguments) // 2  # two pieces, so clients must concatenate partial JSON
        for piece in (arguments[:middle], arguments[middle:]):
            if piece:
                yield "content_block_delta", {"type": "content_block_delta", "index": index,
                                              "delta": {"type": "input_json_delta", "partial_json": piece}}
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
        index += 1
    yield "message_delta", {"type": "message_delta",
                            "delta": {"stop_reason": _stop_reason(calls, finish_reason), "stop_sequence": None},
                            "usage": {"output_tokens": completion_tokens(text, calls)}}
    yield "message_stop", {"type": "message_stop"}


def _blocks(content: Any) -> list[dict]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def check_request(body: dict) -> str | None:
    """The request errors the real API reports with 400; None when the request is acceptable."""
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model: Field required"
    if not isinstance(body.get("max_tokens"), int):
        return "max_tokens: Field required"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    pending: set[str] = set()  # tool_use ids the next message must answer
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict) or msg.get("role") not in ("user", "assistant"):
            return f"messages.{i}.role: Input should be 'user' or 'assistant'"
        blocks = _blocks(msg.get("content"))
        if not blocks:
            return f"messages.{i}: all messages must have non-empty content"
        for block in blocks:
            if block.get("type") == "text" and not str(block.get("text", "")).strip():
                return f"messages.{i}: text content blocks must contain non-whitespace text"
        results = {b.get("tool_use_id") for b in blocks if b.get("type") == "tool_result"}
        if msg["role"] == "assistant" and results:
            return f"messages.{i}: tool_result blocks are only allowed in user messages"
        if results - pending:
            return (f"messages.{i}: unexpected `tool_use_id` found in `tool_result` blocks: "
                    f"{sorted(results - pending)}. Each `tool_result` block must have a corresponding "
                    "`tool_use` block in the previous message.")
        if pending - results:
            return (f"messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after: "
                    f"{sorted(pending - results)}")
        pending = {b.get("id") for b in blocks if b.get("type") == "tool_use"} if msg["role"] == "assistant" else set()
    if pending:
        return f"tool_use ids without tool_result blocks: {sorted(pending)}"
    return None
