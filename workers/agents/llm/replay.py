"""The replay provider: scripted replies, in process, no HTTP (`api_type: "replay"`), for demos and tests.

    {"api_type": "replay", "model": "replay",
     "replies": ["first reply", {"tool_calls": [{"name": "add", "arguments": {"a": 1}}]}, "TERMINATE"],
     "rules": [{"when": "weather", "reply": "Sunny."}, {"when_regex": "^bye", "reply": "Goodbye."}],
     "when_exhausted": "repeat_last"}

STATELESS, so a resumed conversation gets exactly the replies an uninterrupted one would:
  * rules are tried first, in order: `when` is a substring and `when_regex` a regular expression, matched
    against the text of the request's last message;
  * otherwise the reply is `replies[n]`, where n = the number of assistant messages in the request
    (the replies this agent already gave in the conversation it is shown). Past the end of the list,
    "repeat_last" (the default) keeps answering the last reply; "cycle" starts over (n mod len).
  * with no replies and no matching rule, the reply echoes the last message: "echo: <text>".
A reply is a str, or a dict with `content` and/or `tool_calls` (items `{"name", "arguments"}` or the
OpenAI wire shape). Tool-call ids are derived from n, so they too are the same on every run.
Text is streamed to on_token word by word. Usage uses the fake server's word count; cost is 0 unless
the entry has a `price`.
"""

from __future__ import annotations

import re
from typing import Any

from .base import ProviderReply, TokenCallback, arguments_json
from .tokens import completion_tokens, content_text, prompt_tokens

EXHAUSTED_MODES = ("repeat_last", "cycle")


def _check_reply(reply: Any, where: str) -> Any:
    if isinstance(reply, str):
        return reply
    if isinstance(reply, dict) and ("content" in reply or "tool_calls" in reply):
        for i, call in enumerate(reply.get("tool_calls") or []):
            name = None
            if isinstance(call, dict):
                name = call.get("name") or (call.get("function") or {}).get("name")
            if not isinstance(name, str) or not name:
                raise ValueError(f"replay {where}.tool_calls[{i}] needs a name, got {call!r}")
        return reply
    raise ValueError(f"replay {where} must be a str or a dict with content and/or tool_calls, got {reply!r}")


class ReplayProvider:
    api_type = "replay"

    def __init__(self, entry: dict) -> None:
        self.model = entry.get("model") or "replay"
        replies = entry.get("replies", [])
        if not isinstance(replies, list):
            raise ValueError(f"replay: replies must be a list, got {type(replies).__name__}")
        self.replies = [_check_reply(r, f"replies[{i}]") for i, r in enumerate(replies)]
        rules = entry.get("rules", [])
        if not isinstance(rules, list):
            raise ValueError(f"replay: rules must be a list, got {type(rules).__name__}")
        self.rules: list[tuple[str | None, re.Pattern | None, Any]] = []
        for i, rule in enumerate(rules):
            if not isinstance(rule, dict) or "reply" not in rule or not (("when" in rule) ^ ("when_regex" in rule)):
                raise ValueError(f"replay: rules[{i}] must be {{'when' or 'when_regex': ..., 'reply': ...}}, got {rule!r}")
            pattern = re.compile(rule["when_regex"]) if "when_regex" in rule else None
            self.rules.append((rule.get("when"), pattern, _check_reply(rule["reply"], f"rules[{i}].reply")))
        self.when_exhausted = entry.get("when_exhausted", "repeat_last")
        if self.when_exhausted not in EXHAUSTED_MODES:
            raise ValueError(f"replay: when_exhausted must be one of {EXHAUSTED_MODES}, got {self.when_exhausted!r}")

    def choose(self, messages: list[dict]) -> tuple[int, Any]:
        """(n, reply) for a request: a pure function of the messages."""
        n = sum(1 for m in messages if m.get("role") == "assistant")
        last_text = content_text(messages[-1].get("content")) if messages else ""
        for substring, pattern, reply in self.rules:
            if (substring is not None and substring in last_text) or (pattern is not None and pattern.search(last_text)):
                return n, reply
        if not self.replies:
            return n, f"echo: {last_text}"
        if n < len(self.replies):
            return n, self.replies[n]
        index = n % len(self.replies) if self.when_exhausted == "cycle" else len(self.replies) - 1
        return n, self.replies[index]

    def create(self, messages: list[dict], params: dict, on_token: TokenCallback | None) -> ProviderReply:
        n, reply = self.choose(messages)
        if isinstance(reply, str):
            text, raw_calls = reply, []
        else:
            text, raw_calls = reply.get("content"), list(reply.get("tool_calls") or [])
        calls = []
        for j, call in enumerate(raw_calls):
            function = call.get("function") or {"name": call.get("name"), "arguments": call.get("arguments")}
            calls.append({"id": call.get("id") or f"call_replay_{n}_{j}", "type": "function",
                          "function": {"name": function["name"], "arguments": arguments_json(function.get("arguments"))}})
        if text is None and not calls:
            text = ""
        if on_token is not None and text:
            for piece in re.findall(r"\S+\s*|\s+", text):
                on_token(piece)
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if calls:
            message["tool_calls"] = calls
        return ProviderReply(
            message=message,
            prompt_tokens=prompt_tokens(messages),
            completion_tokens=completion_tokens(text, calls),
            model=params.get("model", self.model), id=f"replay-{n}",
            finish_reason="tool_calls" if calls else "stop",
        )
