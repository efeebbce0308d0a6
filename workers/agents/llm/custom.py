"""Custom model clients (`model_client_cls` entries, spec §9), AutoGen's ModelClient protocol.

An entry naming `model_client_cls` is a slot: calls through it raise RuntimeError until the class is
registered with `register_model_client`. The class is built as `cls(config=entry, **kwargs)` and must offer
`create(params)`, `message_retrieval(response)`, `cost(response)` and `get_usage(response)`.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from .base import ProviderReply, TokenCallback


@runtime_checkable
class ModelClient(Protocol):
    """What a custom client class must offer (AutoGen's ModelClient protocol)."""

    RESPONSE_USAGE_KEYS = ["prompt_tokens", "completion_tokens", "total_tokens", "cost", "model"]

    def create(self, params: dict) -> Any:
        """Answer one request; `params` holds the entry keys plus `messages`. The response needs an `id`."""
        ...

    def message_retrieval(self, response: Any) -> list[Any]:
        """The reply texts (str) or messages (with `content` / `tool_calls`) of `response`."""
        ...

    def cost(self, response: Any) -> float:
        ...

    @staticmethod
    def get_usage(response: Any) -> dict:
        """A dict with RESPONSE_USAGE_KEYS."""
        ...


class UnregisteredClient:
    def __init__(self, entry: dict) -> None:
        self.entry = entry
        self.model = entry["model"]
        self.api_type = entry.get("api_type", "openai")
        self.class_name = entry["model_client_cls"]

    def create(self, messages: list[dict], params: dict, on_token: TokenCallback | None) -> ProviderReply:
        raise RuntimeError(f"model client {self.class_name!r} (model {self.model}) is not registered: "
                           f"call register_model_client({self.class_name}) on the agent or client first")


def _as_dict(value: Any) -> dict:
    if isinstance(value, dict):
        return value
    dump = getattr(value, "model_dump", None)
    return dump() if callable(dump) else dict(vars(value))


class CustomClient:
    def __init__(self, entry: dict, instance: Any) -> None:
        self.entry = entry
        self.model = entry["model"]
        self.api_type = entry.get("api_type", "openai")
        self.instance = instance

    def create(self, messages: list[dict], params: dict, on_token: TokenCallback | None) -> ProviderReply:
        response = self.instance.create({**params, "messages": messages})
        if not getattr(response, "id", None):  # AG2-classic reads a response without an id as ""
            message: dict[str, Any] = {"role": "assistant", "content": ""}
        else:
            first = (self.instance.message_retrieval(response) or [""])[0]
            if isinstance(first, str) or first is None:
                message = {"role": "assistant", "content": first}
            else:
                data = _as_dict(first)
                message = {"role": "assistant", "content": data.get("content")}
                if data.get("tool_calls"):
                    message["tool_calls"] = [_as_dict(c) for c in data["tool_calls"]]
                    for call in message["tool_calls"]:
                        call["function"] = _as_dict(call.get("function") or {})
        usage = self.instance.get_usage(response) or {}
        return ProviderReply(
            message=message,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            model=usage.get("model") or getattr(response, "model", None) or self.model,
            id=getattr(response, "id", None),
            cost=float(self.instance.cost(response) or 0.0),
        )
