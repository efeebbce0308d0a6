"""Rules, the request log and the token count of the fake LLM server (see server.py for the guide)."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

APIS = ("openai", "anthropic")


def count_tokens(text: str) -> int:
    """The fake's deterministic token count: whitespace-separated words.

    workers/agents/llm/tokens.py uses the same rule for the replay client; a test keeps them equal.
    """
    return len(text.split())


def _parts_text(content: Any) -> list[str]:
    """Text pieces of an OpenAI or Anthropic `content` value (str, None, or a list of parts/blocks)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [content]
    pieces: list[str] = []
    if isinstance(content, list):
        for part in content:
            if not isinstance(part, dict):
                continue
            kind = part.get("type")
            if kind == "text":
                pieces.append(str(part.get("text", "")))
            elif kind == "tool_result":
                pieces.extend(_parts_text(part.get("content")))
            elif kind == "tool_use":
                pieces.append(json.dumps(part.get("input", {})))
    return pieces


def message_text(message: Any) -> str:
    """The text view of one request message: its text parts joined with newlines."""
    if not isinstance(message, dict):
        return ""
    return "\n".join(_parts_text(message.get("content")))


def prompt_tokens(api: str, body: dict) -> int:
    """Words in every message text, tool-call arguments, and (Anthropic) the system prompt."""
    total = 0
    for message in body.get("messages") or []:
        if not isinstance(message, dict):
            continue
        total += count_tokens(message_text(message))
        for call in message.get("tool_calls") or []:
            total += count_tokens(str((call.get("function") or {}).get("arguments", "")))
    if api == "anthropic":
        total += count_tokens("\n".join(_parts_text(body.get("system"))))
    return total


@dataclass
class ToolCall:
    """A tool call a rule answers with. `arguments` is sent as a JSON string (OpenAI) or object (Anthropic)."""

    name: str
    arguments: dict | str = field(default_factory=dict)
    id: str | None = None

    @classmethod
    def coerce(cls, value: Any) -> "ToolCall":
        if isinstance(value, ToolCall):
            return value
        if isinstance(value, dict):
            # Also accept the OpenAI wire shape {"id", "type", "function": {"name", "arguments"}}.
            function = value.get("function")
            if isinstance(function, dict):
                return cls(name=function["name"], arguments=function.get("arguments", {}), id=value.get("id"))
            if "name" in value:
                return cls(name=value["name"], arguments=value.get("arguments", {}), id=value.get("id"))
        raise ValueError(f"tool_calls: each item needs a 'name' (got {value!r})")

    def arguments_json(self) -> str:
        return self.arguments if isinstance(self.arguments, str) else json.dumps(self.arguments)

    def arguments_object(self) -> dict:
        if isinstance(self.arguments, str):
            return json.loads(self.arguments) if self.arguments.strip() else {}
        return dict(self.arguments)


@dataclass
class RecordedRequest:
    """One request the server received, as parsed. Attributes are plain data for assertions."""

    api: str  # "openai", "anthropic", or "other" for unknown paths
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: Any  # the parsed JSON body (None when absent or not JSON)
    received_at: float = field(default_factory=time.monotonic)
    rule: str | None = None  # name of the rule that answered; "default" for the default rule
    status: int | None = None  # the status answered with; 0 when a hang or delay ended unanswered
    client_port: int | None = None  # the caller's TCP port: equal ports mean a reused connection

    @property
    def model(self) -> str | None:
        return self.body.get("model") if isinstance(self.body, dict) else None

    @property
    def messages(self) -> list[dict]:
        return list(self.body.get("messages") or []) if isinstance(self.body, dict) else []

    @property
    def system(self) -> Any:
        """Anthropic's top-level `system` parameter (None for OpenAI requests)."""
        return self.body.get("system") if isinstance(self.body, dict) else None

    @property
    def stream(self) -> bool:
        return bool(isinstance(self.body, dict) and self.body.get("stream"))

    @property
    def tools(self) -> list[dict]:
        return list(self.body.get("tools") or []) if isinstance(self.body, dict) else []

    @property
    def tools_offered(self) -> bool:
        return bool(self.tools or (isinstance(self.body, dict) and self.body.get("functions")))

    @property
    def last_text(self) -> str:
        """Text of the last message (text parts and tool results joined with newlines)."""
        messages = self.messages
        return message_text(messages[-1]) if messages else ""

    @property
    def api_key(self) -> str | None:
        """The key the client presented: `x-api-key`, else the bearer token."""
        if "x-api-key" in self.headers:
            return self.headers["x-api-key"]
        auth = self.headers.get("authorization", "")
        return auth[7:] if auth.lower().startswith("bearer ") else None


TextSource = str | Callable[[RecordedRequest], str]


@dataclass
class Rule:
    """A scripted answer. All given conditions must hold; the first matching rule (in order added) answers.

    Conditions: api, model, contains (substring of the last message's text), regex (re.search on it),
    tools (True: tools were offered; False: none), api_key, call (an index or indexes among the requests
    that met this rule's other conditions, 0-based), times (answer at most N requests, then step aside).
    Answer: text (str or callable(request) -> str), tool_calls, or error (an HTTP status) with
    error_message, error_code (OpenAI `code` / Anthropic error `type`) and retry_after; delay (seconds
    before answering), hang (wait until the client gives up or the server is reset/stopped), chunk_delay
    (seconds between streamed chunks), finish_reason.
    """

    api: str | None = None
    model: str | None = None
    contains: str | None = None
    regex: str | None = None
    tools: bool | None = None
    api_key: str | None = None
    call: int | Sequence[int] | None = None
    times: int | None = None
    text: TextSource | None = None
    tool_calls: list[Any] | None = None
    error: int | None = None
    error_message: str | None = None
    error_code: str | None = None
    retry_after: float | None = None
    delay: float = 0.0
    hang: bool = False
    chunk_delay: float = 0.0
    finish_reason: str | None = None
    name: str | None = None
    seen: int = 0  # requests that met the conditions (the `call` index counts these)
    used: int = 0  # requests answered

    def __post_init__(self) -> None:
        if self.api is not None and self.api not in APIS:
            raise ValueError(f"api must be one of {APIS} or None, got {self.api!r}")
        if self.error is not None and not (400 <= int(self.error) <= 599):
            raise ValueError(f"error must be an HTTP error status (400-599), got {self.error!r}")
        if self.times is not None and self.times < 0:
            raise ValueError(f"times must be >= 0, got {self.times!r}")
        if self.regex is not None:
            re.compile(self.regex)
        if self.tool_calls is not None:
            self.tool_calls = [ToolCall.coerce(c) for c in self.tool_calls]
        if isinstance(self.call, int):
            self.call = [self.call]

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.used >= self.times

    def conditions_hold(self, request: RecordedRequest) -> bool:
        if self.api is not None and request.api != self.api:
            return False
        if self.model is not None and request.model != self.model:
            return False
        if self.contains is not None and self.contains not in request.last_text:
            return False
        if self.regex is not None and not re.search(self.regex, request.last_text):
            return False
        if self.tools is not None and request.tools_offered != self.tools:
            return False
        if self.api_key is not None and request.api_key != self.api_key:
            return False
        return True

    def claim(self, request: RecordedRequest) -> bool:
        """Decide whether this rule answers `request`, updating its counters. Call under the server lock."""
        if self.exhausted or not self.conditions_hold(request):
            return False
        index = self.seen
        self.seen += 1
        if self.call is not None and index not in self.call:
            return False
        self.used += 1
        return True

    def reply_text(self, request: RecordedRequest) -> str:
        if callable(self.text):
            return str(self.text(request))
        if self.text is not None:
            return self.text
        if self.tool_calls:
            return ""
        return f"echo: {request.last_text}"


def rule_from_dict(spec: dict) -> Rule:
    """Build a rule from a JSON script entry (the same keyword names as Rule)."""
    known = set(Rule.__dataclass_fields__) - {"seen", "used"}
    unknown = set(spec) - known
    if unknown:
        raise ValueError(f"unknown rule keys {sorted(unknown)}; allowed: {sorted(known)}")
    return Rule(**spec)
