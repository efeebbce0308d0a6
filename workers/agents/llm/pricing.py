"""Cost per call from a small price table, overridable per config entry.

The table holds LIST PRICES in USD per million tokens (prompt, completion) as published by the providers
when this file was written. Prices drift and new models appear: treat the figures as estimates, and set
an entry's `price: [prompt_per_1k, completion_per_1k]` (AutoGen's format, USD per 1,000 tokens) for
exact accounting. `PRICES` is a plain dict, so a deployment may also update it at start-up.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Sequence

logger = logging.getLogger(__name__)

# model id -> (USD per 1M prompt tokens, USD per 1M completion tokens). List prices; may drift.
PRICES: dict[str, tuple[float, float]] = {
    "gpt-5": (1.25, 10.00),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5-nano": (0.05, 0.40),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4-turbo": (10.00, 30.00),
    "gpt-3.5-turbo": (0.50, 1.50),
    "o3": (2.00, 8.00),
    "o4-mini": (1.10, 4.40),
    "claude-opus-4-5": (5.00, 25.00),
    "claude-opus-4-1": (15.00, 75.00),
    "claude-sonnet-4-5": (3.00, 15.00),
    "claude-sonnet-4-0": (3.00, 15.00),
    "claude-haiku-4-5": (1.00, 5.00),
    "claude-3-5-haiku": (0.80, 4.00),
}

_DATE_SUFFIX = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8}|latest)$")
_warned: set[str] = set()


def validate_price(price: Any) -> tuple[float, float]:
    """An entry's `price` must be two non-negative numbers: USD per 1K prompt and completion tokens."""
    if (not isinstance(price, Sequence) or isinstance(price, str) or len(price) != 2
            or not all(isinstance(p, (int, float)) and not isinstance(p, bool) and p >= 0 for p in price)):
        raise ValueError(f"price must be [prompt_per_1k, completion_per_1k] (two non-negative numbers), got {price!r}")
    return float(price[0]), float(price[1])


def table_price(model: str) -> tuple[float, float] | None:
    """Per-million prices for `model`, also for dated snapshots ("gpt-4o-2024-08-06" -> "gpt-4o")."""
    if model in PRICES:
        return PRICES[model]
    base = _DATE_SUFFIX.sub("", model)
    return PRICES.get(base)


def cost(model: str, prompt_tokens: int, completion_tokens: int, price: Any = None, *, warn: bool = True) -> float:
    """USD for one call. An entry `price` wins over the table; an unknown model costs 0 (warned once)."""
    if price is not None:
        per_1k_prompt, per_1k_completion = validate_price(price)
        return (prompt_tokens * per_1k_prompt + completion_tokens * per_1k_completion) / 1000
    per_million = table_price(model)
    if per_million is None:
        if warn and model not in _warned:
            _warned.add(model)
            logger.warning("no price is known for model %r: its cost is counted as 0 "
                           "(set `price: [prompt_per_1k, completion_per_1k]` in its config entry)", model)
        return 0.0
    return (prompt_tokens * per_million[0] + completion_tokens * per_million[1]) / 1_000_000
