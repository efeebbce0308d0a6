"""OpenAI chat completions through the official `openai` SDK; also any OpenAI-compatible server via base_url."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlparse

import openai
import httpx2  # the SDKs' HTTP library: a stream can raise its errors unwrapped

from .base import PLACEHOLDER_API_KEY, ProviderReply, TokenCallback, sdk_options, status_error, wants_stream
from .errors import LLMAuthenticationError, LLMConnectionError, LLMError, LLMTimeoutError
from .sdk_clients import shared_clients
from .tokens import completion_tokens, prompt_tokens

# Chat-completions request parameters taken from an entry (or per-call overrides); other keys stay local.
REQUEST_KEYS = (
    "temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "seed", "n", "presence_penalty",
    "frequency_penalty", "logit_bias", "logprobs", "top_logprobs", "response_format", "tools", "tool_choice",
    "parallel_tool_calls", "functions", "function_call", "user", "reasoning_effort", "service_tier", "store",
    "metadata", "modalities", "prediction", "audio", "verbosity", "web_search_options", "extra_body",
    "extra_headers", "extra_query",
)
_WIRE_MESSAGE_KEYS = ("role", "content", "name", "tool_calls", "tool_call_id", "function_call")


def _is_openai_host(base_url: str | None) -> bool:
    return base_url is None or (urlparse(base_url).hostname or "").endswith("openai.com")


def wire_messages(messages: list[dict]) -> list[dict]:
    """Only the keys the API accepts; an empty tool_calls list is dropped (the API rejects it)."""
    wire = []
    for message in messages:
        item = {k: message[k] for k in _WIRE_MESSAGE_KEYS if k in message}
        if not item.get("tool_calls"):
            item.pop("tool_calls", None)
        if item.get("function_call") is None:
            item.pop("function_call", None)
        item.setdefault("role", "user")
        wire.append(item)
    return wire


class OpenAIProvider:
    def __init__(self, entry: dict) -> None:
        self.entry = entry
        self.api_type = entry.get("api_type", "openai")
        self.model = entry["model"]
        self.base_url: str | None = entry.get("base_url")
        self._sdk: openai.OpenAI | None = None

    @property
    def provider_name(self) -> str:
        return self.api_type if self.base_url is None else f"{self.api_type} at {self.base_url}"

    def _api_key(self) -> str:
        key = self.entry.get("api_key")
        if key:
            return key
        if not _is_openai_host(self.base_url):
            return PLACEHOLDER_API_KEY
        key = os.environ.get("OPENAI_API_KEY")
        if not key:
            raise LLMAuthenticationError(
                f"no API key for {self.api_type} model {self.model}: set api_key in its config entry "
                "or the OPENAI_API_KEY environment variable", provider=self.api_type, model=self.model)
        return key

    def sdk(self) -> openai.OpenAI:
        """The process's SDK client for this entry's options, looked up on first use so a missing key
        surfaces as a call error (and falls back)."""
        if self._sdk is None:
            options = sdk_options(self.entry, self._api_key(), self.base_url)
            if self.entry.get("organization"):
                options["organization"] = self.entry["organization"]
            self._sdk = shared_clients.get("openai", options, openai.OpenAI)
        return self._sdk

    def create(self, messages: list[dict], params: dict, on_token: TokenCallback | None) -> ProviderReply:
        request: dict[str, Any] = {k: params[k] for k in REQUEST_KEYS if params.get(k) is not None}
        if not request.get("tools"):
            request.pop("tools", None)
            request.pop("tool_choice", None)
        request["model"] = params.get("model", self.model)
        request["messages"] = wire_messages(messages)
        try:
            if wants_stream(params, on_token):
                return self._stream(request, on_token)
            return self._complete(request)
        except openai.APIError as exc:
            raise self.map_error(exc, request["model"]) from exc
        except httpx2.TimeoutException as exc:
            raise self.timeout_error(request["model"]) from exc
        except httpx2.RequestError as exc:
            raise self.connection_error(request["model"], exc) from exc

    def _complete(self, request: dict) -> ProviderReply:
        response = self.sdk().chat.completions.create(**request)
        choice = response.choices[0]
        raw = choice.message.model_dump(exclude_none=True)
        message: dict[str, Any] = {"role": "assistant", "content": raw.get("content")}
        if raw.get("tool_calls"):
            message["tool_calls"] = [
                {"id": c.get("id"), "type": c.get("type", "function"), "function": c.get("function", {})}
                for c in raw["tool_calls"]
            ]
        if raw.get("function_call"):
            message["function_call"] = raw["function_call"]
        usage = response.usage
        return ProviderReply(
            message=message,
            prompt_tokens=usage.prompt_tokens if usage else prompt_tokens(request["messages"]),
            completion_tokens=usage.completion_tokens if usage else completion_tokens(
                message["content"], message.get("tool_calls")),
            model=response.model or request["model"], id=response.id, finish_reason=choice.finish_reason,
        )

    def _stream(self, request: dict, on_token: TokenCallback | None) -> ProviderReply:
        request["stream"] = True
        request["stream_options"] = {"include_usage": True}
        text: list[str] = []
        calls: dict[int, dict] = {}
        function_call: dict[str, str] | None = None
        usage = None
        model, response_id, finish_reason = request["model"], None, None
        with self.sdk().chat.completions.create(**request) as stream:
            for chunk in stream:
                model = chunk.model or model
                response_id = chunk.id or response_id
                if chunk.usage is not None:
                    usage = chunk.usage
                if not chunk.choices:
                    continue
                choice = chunk.choices[0]
                finish_reason = choice.finish_reason or finish_reason
                delta = choice.delta
                if delta.content:
                    text.append(delta.content)
                    if on_token is not None:
                        on_token(delta.content)
                for part in delta.tool_calls or []:
                    call = calls.setdefault(part.index, {"id": None, "type": "function",
                                                         "function": {"name": "", "arguments": ""}})
                    call["id"] = part.id or call["id"]
                    if part.function is not None:
                        call["function"]["name"] += part.function.name or ""
                        call["function"]["arguments"] += part.function.arguments or ""
                if delta.function_call is not None:  # the legacy functions API
                    function_call = function_call or {"name": "", "arguments": ""}
                    function_call["name"] += delta.function_call.name or ""
                    function_call["arguments"] += delta.function_call.arguments or ""
        content = "".join(text) if text or not (calls or function_call) else None
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if calls:
            message["tool_calls"] = [calls[i] for i in sorted(calls)]
        if function_call:
            message["function_call"] = function_call
        # Some compatible servers ignore include_usage: fall back to the deterministic word count.
        return ProviderReply(
            message=message,
            prompt_tokens=usage.prompt_tokens if usage else prompt_tokens(request["messages"]),
            completion_tokens=usage.completion_tokens if usage else completion_tokens(content, message.get("tool_calls")),
            model=model, id=response_id, finish_reason=finish_reason,
        )

    def map_error(self, exc: openai.APIError, model: str) -> LLMError:
        """One of our errors for an SDK error, with the provider's own message."""
        where = self.provider_name
        common = {"provider": self.api_type, "model": model}
        if isinstance(exc, openai.APITimeoutError):
            return self.timeout_error(model)
        if isinstance(exc, openai.APIConnectionError):
            return self.connection_error(model, exc)
        if not isinstance(exc, openai.APIStatusError):
            return LLMError(f"{where} failed for model {model}: {exc}", **common)
        return status_error(status=exc.status_code, body=exc.body, headers=exc.response.headers, fallback=str(exc),
                            where=where, api_type=self.api_type, model=model)

    def timeout_error(self, model: str) -> LLMTimeoutError:
        timeout = self.entry.get("timeout")
        return LLMTimeoutError(f"{self.provider_name} did not answer for model {model} within "
                               f"{timeout if timeout is not None else 'the default'} seconds",
                               provider=self.api_type, model=model)

    def connection_error(self, model: str, exc: Exception) -> LLMConnectionError:
        return LLMConnectionError(f"could not connect to {self.provider_name} for model {model}: {exc}",
                                  provider=self.api_type, model=model)
