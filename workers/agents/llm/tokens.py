"""A deterministic token count for the replay client, identical to the fake LLM server's (tests/fakellm).

It is not a tokenizer: it counts whitespace-separated words, which is stable, cheap and easy to assert.
"""

from __future__ import annotations

import json
from typing import Any


def count_tokens(text: str) -> int:
    return len(text.split())


def content_text(content: Any) -> str:
    """Text view of OpenAI-shaped content: a str as-is, None as "", text parts joined with newlines."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    return str(content)


def prompt_tokens(messages: list[dict]) -> int:
    """Words in every message's text plus its tool-call arguments."""
    total = 0
    for message in messages:
        total += count_tokens(content_text(message.get("content")))
        for call in message.get("tool_calls") or []:
            total += count_tokens(str((call.get("function") or {}).get("arguments", "")))
    return total


def completion_tokens(text: str | None, tool_calls: list[dict] | None) -> int:
    total = count_tokens(text or "")
    for call in tool_calls or []:
        arguments = (call.get("function") or {}).get("arguments", "")
        total += count_tokens(arguments if isinstance(arguments, str) else json.dumps(arguments))
    return total
