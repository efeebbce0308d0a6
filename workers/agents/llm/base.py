"""What every provider returns, and the helpers providers share."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from .errors import (
    LLMAuthenticationError, LLMBadRequest, LLMContentFilterError, LLMError, LLMModelNotFound, LLMRateLimitError,
    LLMServerError,
)

TokenCallback = Callable[[str], None]

# Local OpenAI-compatible servers (Ollama, vLLM, LM Studio) ignore the key, but the SDKs insist on one.
PLACEHOLDER_API_KEY = "parley-no-key"

# Entry keys that configure the client or Parley itself; they never go into a request body.
CLIENT_KEYS = frozenset({
    "model", "api_key", "base_url", "api_type", "api_version", "price", "tags", "default_headers", "timeout",
    "max_retries", "retry_backoff", "retry_max_delay", "cache_seed", "cache", "model_client_cls",
    "allow_format_str_template", "organization", "stream", "replies", "rules", "when_exhausted",
    "config_list", "filter_func", "agent",
})


@dataclass
class ProviderReply:
    message: dict  # OpenAI shape: {"role": "assistant", "content": str | None, "tool_calls": [...]}
    prompt_tokens: int
    completion_tokens: int
    model: str
    id: str | None = None
    finish_reason: str | None = None
    cost: float | None = None  # set only by providers that price their own calls (custom clients)


class Provider(Protocol):
    api_type: str
    model: str

    def create(self, messages: list[dict], params: dict, on_token: TokenCallback | None) -> ProviderReply:
        """Send one request (no retries: the caller owns the policy) and return the reply."""
        ...


def wants_stream(params: dict, on_token: TokenCallback | None) -> bool:
    return on_token is not None or bool(params.get("stream"))


def arguments_json(arguments: Any) -> str:
    """Tool-call arguments as the JSON string OpenAI shapes carry."""
    if arguments is None:
        return "{}"
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


def provider_message(body: Any, fallback: str) -> str:
    """The human-readable message inside a provider's JSON error body."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return inner["message"]
        if isinstance(body.get("message"), str):
            return body["message"]
    if isinstance(body, str) and body:
        return body
    return fallback


def retry_after_seconds(headers: Any) -> float | None:
    """Seconds from Retry-After / retry-after-ms headers, when present and numeric."""
    if headers is None:
        return None
    try:
        millis = headers.get("retry-after-ms")
        if millis is not None:
            return max(0.0, float(millis) / 1000)
        seconds = headers.get("retry-after")
        if seconds is not None:
            return max(0.0, float(seconds))
    except (TypeError, ValueError):
        return None  # an HTTP date: ignore it and use our own backoff
    return None


def status_error(*, status: int, body: Any, headers: Any, fallback: str, where: str, api_type: str,
                 model: str) -> LLMError:
    """Our error for an HTTP error status from a provider, carrying the provider's own message."""
    message = provider_message(body, fallback)
    detail: dict[str, Any] = {"provider": api_type, "model": model, "status": status, "provider_message": message}
    if status in (401, 403):
        return LLMAuthenticationError(f"the API key was rejected by {where} for model {model}: {message}", **detail)
    if status == 404:
        return LLMModelNotFound(f"model {model} was not found at {where}: {message}", **detail)
    if status == 429:
        return LLMRateLimitError(f"{where} is rate limiting model {model}: {message}",
                                 retry_after=retry_after_seconds(headers), **detail)
    if status >= 500:
        return LLMServerError(f"{where} failed with {status} for model {model}: {message}",
                              retry_after=retry_after_seconds(headers), **detail)
    inner = body.get("error", body) if isinstance(body, dict) else None
    if isinstance(inner, dict) and inner.get("code") == "content_filter":
        return LLMContentFilterError(f"the content filter of {where} refused the request for model {model}: "
                                     f"{message}", **detail)
    if status in (400, 422):
        return LLMBadRequest(f"{where} rejected the request for model {model}: {message}", **detail)
    return LLMError(f"{where} answered {status} for model {model}: {message}", **detail)


def sdk_options(entry: dict, api_key: str, base_url: str | None) -> dict[str, Any]:
    """Constructor options both SDK clients take; retries are off because ours is the only policy."""
    options: dict[str, Any] = {"api_key": api_key, "max_retries": 0}
    if base_url:
        options["base_url"] = base_url
    if entry.get("timeout") is not None:
        options["timeout"] = float(entry["timeout"])
    if entry.get("default_headers"):
        options["default_headers"] = dict(entry["default_headers"])
    return options
