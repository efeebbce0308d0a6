"""OpenAI-shaped messages and tools -> Anthropic's, per spec §9 (Anthropic bullets), and replies back.

Steps, in order: system-role messages are merged (newline-joined) into `system`; names are removed and
empty messages dropped; tool calls/results become tool_use/tool_result blocks when the request offers
tools (plain text otherwise); a tool_use nobody answered is replaced by an assistant "Please continue.";
roles are forced to alternate by inserting "Please continue." of the other role; a final user
"Please continue." is appended when the last message is not the user's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .base import arguments_json
from .tokens import content_text

PLEASE_CONTINUE = "Please continue."


@dataclass
class _Turn:
    role: str  # "user" | "assistant"
    blocks: list[dict]
    tool_use_ids: list[str] = field(default_factory=list)
    tool_result_id: str | None = None  # set on a converted tool/function result


def _image_block(url: str) -> dict:
    if url.startswith("data:") and ";base64," in url:
        media_type, data = url[5:].split(";base64,", 1)
        return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}
    return {"type": "image", "source": {"type": "url", "url": url}}


def _content_blocks(content: Any) -> list[dict]:
    """Text and image blocks for OpenAI-shaped content; blank text is left out."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content.strip() else []
    blocks = []
    if isinstance(content, list):
        for part in content:
            if not isinstance(part, dict):
                continue
            if part.get("type") == "text" and str(part.get("text", "")).strip():
                blocks.append({"type": "text", "text": str(part["text"])})
            elif part.get("type") == "image_url":
                image = part.get("image_url")
                url = image.get("url") if isinstance(image, dict) else image
                if isinstance(url, str):
                    blocks.append(_image_block(url))
    return blocks


def _calls_of(message: dict, fallback_id: str) -> list[tuple[str, str, str]]:
    """(id, name, arguments JSON) for each tool call (or the legacy function_call) of an assistant message."""
    calls = []
    for i, call in enumerate(message.get("tool_calls") or []):
        function = call.get("function") or {}
        calls.append((call.get("id") or f"{fallback_id}_{i}", str(function.get("name", "")),
                      arguments_json(function.get("arguments"))))
    function_call = message.get("function_call")
    if isinstance(function_call, dict) and function_call.get("name"):
        calls.append((fallback_id, str(function_call["name"]), arguments_json(function_call.get("arguments"))))
    return calls


def _tool_input(arguments: str) -> dict:
    try:
        value = json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        return {"arguments": arguments}  # the model produced invalid JSON; keep it visible
    return value if isinstance(value, dict) else {"value": value}


def _convert(messages: list[dict], with_tools: bool) -> tuple[list[str], list[_Turn]]:
    system: list[str] = []
    turns: list[_Turn] = []
    last_function_id: str | None = None  # legacy function results carry no id: pair them with the call
    for index, message in enumerate(messages):
        role = message.get("role", "user")
        content = message.get("content")
        if role == "system":
            text = content_text(content)
            if text.strip():
                system.append(text)
            continue
        if role == "assistant" and (message.get("tool_calls") or message.get("function_call")):
            calls = _calls_of(message, f"call_p{index}")
            if message.get("function_call"):
                last_function_id = calls[-1][0]
            text = content_text(content).strip()
            if with_tools:
                blocks = [{"type": "text", "text": text}] if text else []
                blocks += [{"type": "tool_use", "id": i, "name": n, "input": _tool_input(a)} for i, n, a in calls]
                turns.append(_Turn("assistant", blocks, tool_use_ids=[c[0] for c in calls]))
            else:
                lines = [text] if text else []
                lines += [f"[tool call {i}] {n}({a})" for i, n, a in calls]
                turns.append(_Turn("assistant", [{"type": "text", "text": "\n".join(lines)}]))
            continue
        if role in ("tool", "function"):
            call_id = message.get("tool_call_id") or (last_function_id if role == "function" else None)
            text = content_text(content)
            if with_tools and call_id:
                block = {"type": "tool_result", "tool_use_id": call_id, "content": text}
                turns.append(_Turn("user", [block], tool_result_id=call_id))
            else:
                label = call_id or message.get("name") or "tool"
                turns.append(_Turn("user", [{"type": "text", "text": f"[tool result {label}] {text}"}]))
            continue
        blocks = _content_blocks(content)
        if blocks:  # empty content is dropped; `name` is never carried over
            turns.append(_Turn("assistant" if role == "assistant" else "user", blocks))
    return system, turns


def _pair_tool_blocks(turns: list[_Turn]) -> list[_Turn]:
    """Merge each tool_use turn's results into one user turn; replace unanswered tool_use; orphans -> text."""
    paired: list[_Turn] = []
    i = 0
    while i < len(turns):
        turn = turns[i]
        if turn.tool_result_id is not None:  # a result with no tool_use right before it
            paired.append(_Turn("user", [{"type": "text", "text": f"[tool result {turn.tool_result_id}] "
                                          f"{turn.blocks[0]['content']}"}]))
            i += 1
            continue
        if not turn.tool_use_ids:
            paired.append(turn)
            i += 1
            continue
        results: list[dict] = []
        j = i + 1
        while j < len(turns) and turns[j].tool_result_id in turn.tool_use_ids:
            results.extend(turns[j].blocks)
            j += 1
        answered = {b["tool_use_id"] for b in results}
        kept = [b for b in turn.blocks if b["type"] != "tool_use" or b["id"] in answered]
        if answered:
            paired.append(_Turn("assistant", kept))
            paired.append(_Turn("user", results))
        else:  # dangling: nobody answered this tool_use
            text_blocks = [b for b in kept if b["type"] == "text"]
            paired.append(_Turn("assistant", text_blocks or [{"type": "text", "text": PLEASE_CONTINUE}]))
        i = j
    return paired


def _wire(turn: _Turn) -> dict:
    blocks = turn.blocks
    if len(blocks) == 1 and blocks[0]["type"] == "text":
        return {"role": turn.role, "content": blocks[0]["text"]}
    return {"role": turn.role, "content": blocks}


def to_anthropic_messages(messages: list[dict], with_tools: bool) -> tuple[str | None, list[dict]]:
    """(system, messages) for the Messages API."""
    system, turns = _convert(messages, with_tools)
    alternating: list[dict] = []
    for turn in _pair_tool_blocks(turns):
        if alternating and alternating[-1]["role"] == turn.role:
            other = "assistant" if turn.role == "user" else "user"
            alternating.append({"role": other, "content": PLEASE_CONTINUE})
        alternating.append(_wire(turn))
    if not alternating or alternating[-1]["role"] != "user":
        alternating.append({"role": "user", "content": PLEASE_CONTINUE})
    return ("\n".join(system) if system else None), alternating


def to_anthropic_tools(tools: list[dict] | None, functions: list[dict] | None = None) -> list[dict]:
    """OpenAI tool (or legacy function) schemas -> Anthropic tool schemas."""
    result = []
    specs = [t.get("function", t) for t in tools or [] if isinstance(t, dict)] + list(functions or [])
    for spec in specs:
        tool = {"name": spec["name"], "input_schema": spec.get("parameters") or {"type": "object", "properties": {}}}
        if spec.get("description"):
            tool["description"] = spec["description"]
        result.append(tool)
    return result


def to_anthropic_tool_choice(choice: Any) -> dict | None:
    """OpenAI's tool_choice ("auto" / "none" / "required" / a named function) -> Anthropic's."""
    if choice is None:
        return None
    if isinstance(choice, str):
        return {"auto": {"type": "auto"}, "none": {"type": "none"}, "required": {"type": "any"},
                "any": {"type": "any"}}.get(choice)
    if isinstance(choice, dict):
        if choice.get("type") == "function":
            return {"type": "tool", "name": (choice.get("function") or {}).get("name")}
        return choice  # already Anthropic-shaped
    return None


def from_anthropic_content(blocks: list[Any]) -> dict:
    """The OpenAI-shaped assistant message for Anthropic content blocks (SDK objects or dicts)."""
    texts, calls = [], []
    for block in blocks:
        data = block if isinstance(block, dict) else block.model_dump()
        if data.get("type") == "text":
            texts.append(data.get("text", ""))
        elif data.get("type") == "tool_use":
            calls.append({"id": data.get("id"), "type": "function",
                          "function": {"name": data.get("name"), "arguments": json.dumps(data.get("input") or {})}})
    text = "".join(texts)
    message: dict[str, Any] = {"role": "assistant", "content": text if (text or not calls) else None}
    if calls:
        message["tool_calls"] = calls
    return message
