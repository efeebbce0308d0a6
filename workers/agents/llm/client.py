"""LLMClient (alias OpenAIWrapper): config-list fallback, retries with backoff, streaming, usage and cost.

    client = LLMClient({"config_list": [{"model": "gpt-4o-mini"}, {"model": "claude-haiku-4-5",
                                          "api_type": "anthropic"}], "temperature": 0})
    resp = client.create(messages=[{"role": "user", "content": "hi"}], on_token=print)
    resp.message, resp.usage, resp.cost, resp.model, resp.latency_ms

Policy. Entries are tried in order. Within an entry, 429, 5xx, timeouts and connection failures are retried
`max_retries` times (default 3) after `retry_backoff * 2**attempt` seconds plus up to 50% jitter, never less
than a provider's Retry-After, never more than `retry_max_delay`. When an entry still fails (any LLMError),
the next entry is tried and the last entry's error is raised. A content-filter refusal is raised at once.
The SDKs' own retries are off, so this is the only policy.
"""

from __future__ import annotations

import copy
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Callable

from . import pricing
from .base import Provider, ProviderReply, TokenCallback
from .config import DEFAULT_MAX_RETRIES, DEFAULT_RETRY_BACKOFF, DEFAULT_RETRY_MAX_DELAY, normalise_llm_config
from .custom import CustomClient, UnregisteredClient
from .errors import LLMContentFilterError, LLMError
from .prepare import clean_reply, instantiate, prepare_messages
from .replay import ReplayProvider

logger = logging.getLogger(__name__)

# Served through the openai SDK when the entry gives the server's base_url.
OPENAI_COMPATIBLE = frozenset({
    "ollama", "together", "groq", "deepseek", "cerebras", "mistral", "lmstudio", "vllm", "openrouter",
    "fireworks", "xai", "perplexity", "openai_compatible",
})
SUPPORTED_API_TYPES = ("openai", "anthropic", "replay", *sorted(OPENAI_COMPATIBLE))
_CALL_ONLY_KEYS = ("cache", "cache_seed", "agent")  # accepted for AutoGen compatibility; no effect here


def build_provider(entry: dict) -> Provider:
    """The provider for one validated entry; ValueError for an api_type Parley does not serve."""
    # The SDKs are imported only when an entry needs them: importing them takes seconds.
    if entry.get("model_client_cls"):
        return UnregisteredClient(entry)
    api_type = entry["api_type"]
    if api_type == "replay":
        return ReplayProvider(entry)
    if api_type == "anthropic":
        from .anthropic_client import AnthropicProvider

        return AnthropicProvider(entry)
    if api_type in OPENAI_COMPATIBLE and not entry.get("base_url"):
        raise ValueError(f"llm_config: api_type {api_type!r} (model {entry['model']}) is served as an "
                         "OpenAI-compatible endpoint and needs base_url, e.g. http://127.0.0.1:11434/v1")
    if api_type == "openai" or api_type in OPENAI_COMPATIBLE:
        from .openai_client import OpenAIProvider

        return OpenAIProvider(entry)
    raise ValueError(f"llm_config: api_type {api_type!r} (model {entry['model']}) is not supported; "
                     f"supported: {', '.join(SUPPORTED_API_TYPES)} (any OpenAI-compatible server works "
                     "as api_type 'openai' with its base_url)")


def backoff_delay(attempt: int, base: float, cap: float, retry_after: float | None = None) -> float:
    """Seconds before retry number `attempt` (0-based): exponential, jittered, at least Retry-After, capped."""
    delay = base * (2 ** attempt)
    delay += random.uniform(0, delay / 2)  # jitter: concurrent agents should not retry in lockstep
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, cap)


@dataclass
class Completion:
    """One model answer, OpenAI-shaped."""

    message: dict  # {"role": "assistant", "content": str | None, "tool_calls": [...]}
    usage: dict  # {"prompt_tokens", "completion_tokens", "total_tokens"}
    cost: float  # USD
    model: str  # the model that answered (after any fallback)
    latency_ms: float
    id: str | None = None
    finish_reason: str | None = None
    api_type: str = ""
    config_id: int = 0  # index of the config entry that answered
    extra: dict = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.message.get("content") or ""

    @property
    def choices(self) -> list[SimpleNamespace]:
        """Read-only view in the SDK's shape, for scripts that use `response.choices[0].message.content`."""
        message = SimpleNamespace(role="assistant", content=self.message.get("content"),
                                  tool_calls=self.message.get("tool_calls"),
                                  function_call=self.message.get("function_call"))
        return [SimpleNamespace(index=0, message=message, finish_reason=self.finish_reason)]


class _UsageTotals:
    """AutoGen's usage summary: None until a call, then {"total_cost": x, model: {cost, *_tokens}}."""

    def __init__(self) -> None:
        self.summary: dict | None = None

    def add(self, model: str, prompt: int, completion: int, cost: float) -> None:
        summary = self.summary if self.summary is not None else {"total_cost": 0.0}
        summary["total_cost"] = summary.get("total_cost", 0.0) + cost
        row = summary.setdefault(model, {"cost": 0.0, "prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0})
        row["cost"] += cost
        row["prompt_tokens"] += prompt
        row["completion_tokens"] += completion
        row["total_tokens"] += prompt + completion
        self.summary = summary


class LLMClient:
    """Talks to the models of one llm_config. See the module docstring for the fallback/retry policy."""

    def __init__(self, llm_config: Any = None, *, config_list: list[dict] | None = None, **base_config: Any) -> None:
        if llm_config is None:  # AutoGen's OpenAIWrapper(config_list=[...], **base_config) form
            llm_config = {**base_config, "config_list": config_list} if config_list is not None else base_config
        elif config_list is not None or base_config:
            raise TypeError("LLMClient: pass llm_config, or config_list=/keywords, not both")
        entries = normalise_llm_config(llm_config)
        if entries is None:
            raise ValueError("llm_config is False: there is no model to call")
        self._entries = entries
        self._providers: list[Provider] = [build_provider(e) for e in entries]
        self._total = _UsageTotals()
        self._actual = _UsageTotals()  # no cache in Parley, so actual == total; both kept for AutoGen code
        self._lock = threading.Lock()

    # -- configuration ----------------------------------------------------------------------------
    @property
    def config_list(self) -> list[dict]:
        return copy.deepcopy(self._entries)

    def __repr__(self) -> str:
        models = ", ".join(f"{e['api_type']}:{e['model']}" for e in self._entries)
        return f"LLMClient({models})"

    def register_model_client(self, model_client_cls: type, **kwargs: Any) -> None:
        """Bind the custom client class named by entries' `model_client_cls` (spec §9)."""
        matched = False
        for index, entry in enumerate(self._entries):
            if entry.get("model_client_cls") == model_client_cls.__name__:
                self._providers[index] = CustomClient(entry, model_client_cls(config=entry, **kwargs))
                matched = True
        if not matched:
            raise ValueError(f"register_model_client: no config entry has model_client_cls "
                             f"{model_client_cls.__name__!r}")

    # -- calls ------------------------------------------------------------------------------------
    instantiate = staticmethod(instantiate)

    def create(self, messages: list[dict] | None = None, tools: list[dict] | None = None,
               on_token: TokenCallback | None = None, context: dict | None = None, **overrides: Any) -> Completion:
        """Ask the models: `tools` (None: the config's), `on_token` streams text deltas, `context` fills
        templated content; other keywords override entry keys for this call (temperature, max_tokens...)."""
        if messages is None:
            raise ValueError("create: messages is required")
        filter_func: Callable[..., bool] | None = overrides.pop("filter_func", None)
        allow_format = overrides.pop("allow_format_str_template", None)
        for key in _CALL_ONLY_KEYS:
            overrides.pop(key, None)
        last_error: LLMError | None = None
        last_index = len(self._entries) - 1
        for index, (entry, provider) in enumerate(zip(self._entries, self._providers)):
            allow = allow_format if allow_format is not None else bool(entry.get("allow_format_str_template"))
            prepared = prepare_messages(messages, context, allow)
            params = {**entry, **overrides}
            if tools is not None:
                params["tools"] = tools
            try:
                reply, latency = self._call_with_retries(provider, params, prepared, on_token)
            except LLMContentFilterError:
                raise
            except LLMError as exc:
                last_error = exc
                if index < last_index:
                    logger.warning("config entry %d (%s) failed: %s; trying the next entry", index, entry["model"], exc)
                continue
            completion = self._record(reply, entry, provider, index, latency)
            if filter_func is not None and index < last_index and not filter_func(context=context, response=completion):
                continue  # as in AutoGen: a rejected answer moves on; the last entry's answer is kept
            return completion
        assert last_error is not None
        raise last_error

    def _call_with_retries(self, provider: Provider, params: dict, messages: list[dict],
                           on_token: TokenCallback | None) -> tuple[ProviderReply, float]:
        max_retries = params.get("max_retries")
        max_retries = DEFAULT_MAX_RETRIES if max_retries is None else int(max_retries)
        base = params.get("retry_backoff")
        base = DEFAULT_RETRY_BACKOFF if base is None else float(base)
        cap = params.get("retry_max_delay")
        cap = DEFAULT_RETRY_MAX_DELAY if cap is None else float(cap)
        attempt = 0
        while True:
            started = time.monotonic()
            try:
                reply = provider.create(messages, params, on_token)
                return reply, (time.monotonic() - started) * 1000
            except LLMError as exc:
                if not exc.retryable or attempt >= max_retries:
                    raise
                delay = backoff_delay(attempt, base, cap, exc.retry_after)
                logger.info("%s; retry %d of %d in %.2fs", exc, attempt + 1, max_retries, delay)
                time.sleep(delay)
                attempt += 1

    def _record(self, reply: ProviderReply, entry: dict, provider: Provider, index: int, latency: float) -> Completion:
        model = reply.model or entry["model"]
        if reply.cost is not None:
            cost = reply.cost
        else:
            priced_model = model if pricing.table_price(model) else entry["model"]
            cost = pricing.cost(priced_model, reply.prompt_tokens, reply.completion_tokens, entry.get("price"),
                                warn=entry["api_type"] != "replay")
        with self._lock:
            for totals in (self._total, self._actual):
                totals.add(model, reply.prompt_tokens, reply.completion_tokens, cost)
        usage = {"prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens,
                 "total_tokens": reply.prompt_tokens + reply.completion_tokens}
        return Completion(message=clean_reply(reply.message), usage=usage, cost=cost, model=model,
                          latency_ms=round(latency, 3), id=reply.id, finish_reason=reply.finish_reason,
                          api_type=entry["api_type"], config_id=index)

    @staticmethod
    def extract_text_or_completion_object(response: Completion) -> list[Any]:
        """AutoGen's view of a response: [text], or [message dict] when it carries tool/function calls."""
        message = response.message
        if message.get("tool_calls") or message.get("function_call"):
            return [copy.deepcopy(message)]
        return [message.get("content")]

    # -- usage ------------------------------------------------------------------------------------
    @property
    def total_usage_summary(self) -> dict | None:
        """None before the first call, as in AutoGen; then {"total_cost": x, model: {...}}."""
        return copy.deepcopy(self._total.summary)

    @property
    def actual_usage_summary(self) -> dict | None:
        return copy.deepcopy(self._actual.summary)

    def clear_usage_summary(self) -> None:
        with self._lock:
            self._total.summary = None
            self._actual.summary = None

    def print_usage_summary(self, mode: str | list[str] = ("actual", "total")) -> None:
        modes = [mode] if isinstance(mode, str) else list(mode)
        for which in modes:
            summary = self.actual_usage_summary if which == "actual" else self.total_usage_summary
            label = "Usage summary excluding cached usage" if which == "actual" else "Usage summary including cached usage"
            if not summary:
                print(f"{label}: no usage recorded.")
                continue
            print(f"{label}: total cost {round(summary['total_cost'], 5)} USD")
            for model, row in summary.items():
                if model == "total_cost":
                    continue
                print(f"  {model}: cost {round(row['cost'], 5)}, prompt tokens {row['prompt_tokens']}, "
                      f"completion tokens {row['completion_tokens']}, total tokens {row['total_tokens']}")

    def get_state(self) -> dict:
        """Usage totals as plain JSON, for conversation snapshots."""
        return {"total_usage_summary": self.total_usage_summary, "actual_usage_summary": self.actual_usage_summary}

    def set_state(self, state: dict) -> None:
        if not isinstance(state, dict):
            raise ValueError(f"set_state: state must be a dict from get_state(), got {type(state).__name__}")
        with self._lock:
            self._total.summary = copy.deepcopy(state.get("total_usage_summary"))
            self._actual.summary = copy.deepcopy(state.get("actual_usage_summary"))


OpenAIWrapper = LLMClient
