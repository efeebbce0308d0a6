"""Message shapes: the text view of content, normalisation into a history, unrolling for the LLM.

Spec §1. A message is a str or a dict; each history stores its own normalised copy.
"""

from __future__ import annotations

import copy
from typing import Any

# Keys a stored message may carry (§1.2 step 1); `tool_calls` is kept only when truthy.
_KEPT_KEYS = ("content", "function_call", "tool_responses", "tool_call_id", "name", "context")


def content_str(content: Any) -> str:
    """The text view of message content: str as-is, None → "", list of parts → text parts joined by newlines."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for part in content:
            if not isinstance(part, dict) or "type" not in part:
                raise TypeError(f"content part must be a dict with a 'type' key, got {part!r}")
            if part["type"] == "text":
                parts.append(part.get("text", ""))
            elif part["type"] in ("image_url", "image"):
                parts.append("<image>")
            else:
                raise ValueError(f"unknown content part type {part['type']!r}")
        return "\n".join(parts)
    raise TypeError(f"content must be a str, None or a list of parts, got {type(content).__name__}")


def message_to_dict(message: Any) -> dict:
    """A str `s` means {"content": s}; a dict is shallow-copied; anything else becomes its content."""
    if isinstance(message, dict):
        return dict(message)
    if isinstance(message, str):
        return {"content": message}
    return {"content": message}


def normalize(message: Any, *, role: str, author: str) -> dict | None:
    """The copy of `message` one history stores, or None when the message is invalid (§1.2).

    `role` is the perspective role ("assistant" in the author's own history, "user" in the
    receiver's); `author` is the name of the agent that wrote the message.
    """
    source = message_to_dict(message)
    stored: dict[str, Any] = {k: source[k] for k in _KEPT_KEYS if source.get(k) is not None}
    if source.get("tool_calls"):
        stored["tool_calls"] = source["tool_calls"]
    if "content" not in stored:
        if "function_call" in stored or "tool_calls" in stored:
            stored["content"] = None
        else:
            return None
    incoming_role = source.get("role")
    if incoming_role in ("function", "tool"):
        stored["role"] = incoming_role
        if "tool_responses" in stored:
            # A copy, so stringifying never edits the caller's (or the other history's) dicts.
            stored["tool_responses"] = [
                {**resp, "content": str(resp.get("content"))} for resp in stored["tool_responses"]
            ]
        content = stored.get("content")
        if content is not None and not isinstance(content, (str, list)):
            # Tool/function values stay raw in the reply dict; the history keeps text (§7).
            stored["content"] = str(content)
    elif "override_role" in source:
        stored["role"] = source["override_role"]
    else:
        stored["role"] = role
    if stored.get("function_call") or stored.get("tool_calls"):
        stored["role"] = "assistant"
    elif "name" not in stored:
        stored["name"] = author
    return stored


def unroll_tool_responses(messages: list[dict]) -> list[dict]:
    """What the LLM receives for a history: one tool message per tool response (§1.4)."""
    unrolled: list[dict] = []
    for message in messages:
        responses = message.get("tool_responses")
        if not responses:
            unrolled.append(message)
            continue
        for resp in responses:
            item: dict[str, Any] = {}
            if resp.get("tool_call_id") is not None:
                item["tool_call_id"] = resp["tool_call_id"]
            item["role"] = resp.get("role", "tool")
            if resp.get("name") is not None and item["role"] == "function":
                item["name"] = resp["name"]
            item["content"] = resp.get("content")
            unrolled.append(item)
        # A "tool" parent only concatenates its responses; anything else is a real message too.
        if message.get("role") != "tool":
            unrolled.append({k: v for k, v in message.items() if k != "tool_responses"})
    return unrolled


def sanitize_name(name: str) -> str:
    """Tool and function names the LLM may use: [A-Za-z0-9_-], at most 64 characters."""
    cleaned = "".join(ch if (ch.isascii() and (ch.isalnum() or ch in "_-")) else "_" for ch in name)
    return cleaned[:64]


def copy_messages(messages: list[dict]) -> list[dict]:
    """A deep copy where possible (hooks work on copies); a per-message shallow copy otherwise."""
    try:
        return copy.deepcopy(messages)
    except Exception:  # content with uncopyable objects (e.g. open handles) still gets fresh dicts
        return [dict(m) for m in messages]


def ends_with_terminate(message: dict | str | None) -> bool:
    """None-safe predicate: the right-stripped text of the content ends with "TERMINATE".

    The reference default only matches content that *is* "TERMINATE" (spec §10 #1); this is the
    predicate most crews actually want, safe on tool-call messages whose content is None.
    """
    if message is None:
        return False
    if isinstance(message, str):
        return message.rstrip().endswith("TERMINATE")
    try:
        text = content_str(message.get("content"))
    except (TypeError, ValueError):
        return False
    return text.rstrip().endswith("TERMINATE")
