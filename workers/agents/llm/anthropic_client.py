"""Anthropic messages through the official `anthropic` SDK (`api_type: "anthropic"`), spec §9.

`base_url` is honoured (design option §10 #18); a trailing "/v1" is dropped because the SDK adds it.
The key comes from the entry, else ANTHROPIC_API_KEY; a custom base_url without either gets a placeholder.
"""

from __future__ import annotations

import os
from typing import Any

import anthropic
import httpx2  # the SDKs' HTTP library: a stream can raise its errors unwrapped

from .anthropic_convert import from_anthropic_content, to_anthropic_messages, to_anthropic_tool_choice, to_anthropic_tools
from .base import PLACEHOLDER_API_KEY, ProviderReply, TokenCallback, sdk_options, status_error, wants_stream
from .errors import LLMAuthenticationError, LLMConnectionError, LLMError, LLMTimeoutError
from .sdk_clients import shared_clients

DEFAULT_MAX_TOKENS = 4096
_DIRECT_KEYS = ("thinking", "metadata", "service_tier")
# Sampling keys the installed SDK no longer lists as parameters; the API still takes them in the body.
_BODY_KEYS = ("temperature", "top_p", "top_k")


class AnthropicProvider:
    api_type = "anthropic"

    def __init__(self, entry: dict) -> None:
        self.entry = entry
        self.model = entry["model"]
        base_url = entry.get("base_url")
        if base_url:
            base_url = base_url.rstrip("/")
            base_url = base_url[:-3] if base_url.endswith("/v1") else base_url
        self.base_url: str | None = base_url or None
        self._sdk: anthropic.Anthropic | None = None

    @property
    def provider_name(self) -> str:
        return "anthropic" if self.base_url is None else f"anthropic at {self.base_url}"

    def _api_key(self) -> str:
        key = self.entry.get("api_key") or os.environ.get("ANTHROPIC_API_KEY")
        if key:
            return key
        if self.base_url:
            return PLACEHOLDER_API_KEY
        raise LLMAuthenticationError(
            f"no API key for anthropic model {self.model}: set api_key in its config entry "
            "or the ANTHROPIC_API_KEY environment variable", provider="anthropic", model=self.model)

    def sdk(self) -> anthropic.Anthropic:
        if self._sdk is None:
            options = sdk_options(self.entry, self._api_key(), self.base_url)
            self._sdk = shared_clients.get("anthropic", options, anthropic.Anthropic)
        return self._sdk

    def build_request(self, messages: list[dict], params: dict) -> dict:
        tools = to_anthropic_tools(params.get("tools"), params.get("functions"))
        system, wire_messages = to_anthropic_messages(messages, with_tools=bool(tools))
        request: dict[str, Any] = {
            "model": params.get("model", self.model),
            "max_tokens": params.get("max_tokens") or DEFAULT_MAX_TOKENS,
            "messages": wire_messages,
        }
        if system:
            request["system"] = system
        if tools:
            request["tools"] = tools
            choice = to_anthropic_tool_choice(params.get("tool_choice"))
            if choice:
                request["tool_choice"] = choice
        stop = params.get("stop_sequences") or params.get("stop")
        if stop:
            request["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
        request.update({k: params[k] for k in _DIRECT_KEYS if params.get(k) is not None})
        body = {k: params[k] for k in _BODY_KEYS if params.get(k) is not None}
        body.update(params.get("extra_body") or {})
        if body:
            request["extra_body"] = body
        if params.get("extra_headers"):
            request["extra_headers"] = dict(params["extra_headers"])
        return request

    def create(self, messages: list[dict], params: dict, on_token: TokenCallback | None) -> ProviderReply:
        request = self.build_request(messages, params)
        try:
            if wants_stream(params, on_token):
                with self.sdk().messages.stream(**request) as stream:
                    for text in stream.text_stream:
                        if on_token is not None and text:
                            on_token(text)
                    response = stream.get_final_message()
            else:
                response = self.sdk().messages.create(**request)
        except anthropic.APIError as exc:
            raise self.map_error(exc, request["model"]) from exc
        except httpx2.TimeoutException as exc:
            raise self.timeout_error(request["model"]) from exc
        except httpx2.RequestError as exc:
            raise self.connection_error(request["model"], exc) from exc
        usage = response.usage
        return ProviderReply(
            message=from_anthropic_content(list(response.content)),
            prompt_tokens=_prompt_tokens(usage),
            completion_tokens=int(usage.output_tokens or 0) if usage else 0,
            model=response.model or request["model"], id=response.id, finish_reason=response.stop_reason,
        )

    def map_error(self, exc: anthropic.APIError, model: str) -> LLMError:
        where = self.provider_name
        common = {"provider": "anthropic", "model": model}
        if isinstance(exc, anthropic.APITimeoutError):
            return self.timeout_error(model)
        if isinstance(exc, anthropic.APIConnectionError):
            return self.connection_error(model, exc)
        if not isinstance(exc, anthropic.APIStatusError):
            return LLMError(f"{where} failed for model {model}: {exc}", **common)
        return status_error(status=exc.status_code, body=exc.body, headers=exc.response.headers, fallback=str(exc),
                            where=where, api_type="anthropic", model=model)

    def timeout_error(self, model: str) -> LLMTimeoutError:
        timeout = self.entry.get("timeout")
        return LLMTimeoutError(f"{self.provider_name} did not answer for model {model} within "
                               f"{timeout if timeout is not None else 'the default'} seconds",
                               provider=self.api_type, model=model)

    def connection_error(self, model: str, exc: Exception) -> LLMConnectionError:
        return LLMConnectionError(f"could not connect to {self.provider_name} for model {model}: {exc}",
                                  provider=self.api_type, model=model)


def _prompt_tokens(usage: Any) -> int:
    """Input tokens, including any read from or written to Anthropic's prompt cache."""
    if usage is None:
        return 0
    parts = (usage.input_tokens, getattr(usage, "cache_read_input_tokens", None),
             getattr(usage, "cache_creation_input_tokens", None))
    return sum(int(p or 0) for p in parts)
