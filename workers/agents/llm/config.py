"""llm_config normalisation and validation (spec §9), and AutoGen's config-list helpers.

An llm_config is `False` (no client), a single entry dict, or `{"config_list": [entry, ...], <top-level keys>}`.
Top-level keys apply to every entry and entry keys win. Validation follows AG2-classic: a non-empty
config_list, a non-empty `model` per entry, `temperature` in [0, 1]. Errors are ValueErrors naming the key.
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any, Iterable, Mapping

from .pricing import validate_price

DEFAULT_API_TYPE = "openai"
DEFAULT_MAX_RETRIES = 3
DEFAULT_RETRY_BACKOFF = 1.0  # seconds; doubled per retry, plus jitter
DEFAULT_RETRY_MAX_DELAY = 30.0  # seconds; caps both the backoff and a provider's Retry-After


def _as_plain_dict(llm_config: Any) -> dict:
    """Accept a mapping or a validated config object (anything with model_dump()/to_dict())."""
    if isinstance(llm_config, Mapping):
        return copy.deepcopy(dict(llm_config))
    for method in ("model_dump", "to_dict", "dict"):
        dump = getattr(llm_config, method, None)
        if callable(dump):
            value = dump()
            if isinstance(value, Mapping):
                return copy.deepcopy(dict(value))
    raise ValueError(f"llm_config must be False, a dict or a config object, got {type(llm_config).__name__}")


def normalise_llm_config(llm_config: Any) -> list[dict] | None:
    """The validated entries of `llm_config`, each with the top-level keys merged in; None for False/None."""
    if llm_config is None or llm_config is False:
        return None
    config = _as_plain_dict(llm_config)
    if "config_list" in config:
        config_list = config.pop("config_list")
        if not isinstance(config_list, list) or not config_list:
            raise ValueError("llm_config: config_list must be a non-empty list of entries")
        entries = []
        for index, entry in enumerate(config_list):
            if not isinstance(entry, Mapping):
                raise ValueError(f"llm_config: config_list[{index}] must be a dict, got {type(entry).__name__}")
            entries.append({**config, **copy.deepcopy(dict(entry))})
    else:
        if "model" not in config and config.get("api_type") != "replay":
            raise ValueError("llm_config needs a non-empty config_list or a model")
        entries = [config]
    for index, entry in enumerate(entries):
        validate_entry(entry, where=f"config_list[{index}]")
    return entries


def _number(entry: dict, key: str, where: str, *, low: float, high: float | None = None,
            integer: bool = False, allow_zero: bool = True) -> None:
    value = entry.get(key)
    if value is None:
        return
    kinds = (int,) if integer else (int, float)
    ok = isinstance(value, kinds) and not isinstance(value, bool) and value >= low
    ok = ok and (high is None or value <= high) and (allow_zero or value > 0)
    if not ok:
        bounds = f"in [{low}, {high}]" if high is not None else (f"> {low}" if not allow_zero else f">= {low}")
        kind = "an integer" if integer else "a number"
        raise ValueError(f"llm_config {where}: {key} must be {kind} {bounds}, got {value!r}")


def validate_entry(entry: dict, where: str = "entry") -> dict:
    """Check one merged entry in place (and fill defaults); returns it."""
    entry.setdefault("api_type", DEFAULT_API_TYPE)
    api_type = entry["api_type"]
    if not isinstance(api_type, str) or not api_type:
        raise ValueError(f"llm_config {where}: api_type must be a non-empty string, got {api_type!r}")
    if api_type == "replay":
        entry.setdefault("model", "replay")
    model = entry.get("model")
    if not isinstance(model, str) or not model.strip():
        raise ValueError(f"llm_config {where}: model must be a non-empty string, got {model!r}")
    _number(entry, "temperature", where, low=0, high=1)
    _number(entry, "top_p", where, low=0, high=1)
    _number(entry, "timeout", where, low=0, allow_zero=False)
    _number(entry, "max_tokens", where, low=1, integer=True)
    _number(entry, "max_retries", where, low=0, integer=True)
    _number(entry, "retry_backoff", where, low=0)
    _number(entry, "retry_max_delay", where, low=0)
    if entry.get("price") is not None:
        try:
            validate_price(entry["price"])
        except ValueError as exc:
            raise ValueError(f"llm_config {where}: {exc}") from None
    base_url = entry.get("base_url")
    if base_url is not None and (not isinstance(base_url, str) or not base_url.startswith(("http://", "https://"))):
        raise ValueError(f"llm_config {where}: base_url must be an http(s) URL, got {base_url!r}")
    headers = entry.get("default_headers")
    if headers is not None and not isinstance(headers, Mapping):
        raise ValueError(f"llm_config {where}: default_headers must be a dict, got {type(headers).__name__}")
    return entry


# -- AutoGen's config-list helpers (users' scripts call them as autogen.config_list_from_json) ---------

def _accepts(value: Any, accepted: Any) -> bool:
    if not isinstance(accepted, (list, tuple, set, frozenset)):
        accepted = [accepted]
    if isinstance(value, (list, tuple, set)):  # e.g. tags: any overlap matches
        return any(v in accepted for v in value)
    return value in accepted


def filter_config(config_list: Iterable[dict], filter_dict: Mapping[str, Any] | None,
                  exclude: bool = False) -> list[dict]:
    """Entries whose every `filter_dict` key has an accepted value (a list of values per key).

    A list-valued entry field (such as `tags`) matches when any of its items is accepted; an entry without
    the key matches only if None is accepted. `exclude=True` returns the entries that do not match.
    """
    entries = list(config_list)
    if not filter_dict:
        return entries
    def matches(entry: dict) -> bool:
        return all(_accepts(entry.get(key), accepted) for key, accepted in filter_dict.items())
    return [e for e in entries if matches(e) != exclude]


def config_list_from_json(env_or_file: str, file_location: str | None = "",
                          filter_dict: Mapping[str, Any] | None = None) -> list[dict]:
    """Load a config list from the environment variable `env_or_file` (JSON text or a file path), else
    from the file `env_or_file` (inside `file_location` when given), then apply `filter_config`."""
    raw = os.environ.get(env_or_file)
    if raw:
        if os.path.isfile(raw):
            with open(raw, encoding="utf-8") as handle:
                text, source = handle.read(), raw
        else:
            text, source = raw, f"environment variable {env_or_file}"
    else:
        path = os.path.join(file_location or "", env_or_file)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"config_list_from_json: {env_or_file!r} is neither a set environment "
                                    f"variable nor a file (looked for {path!r})")
        with open(path, encoding="utf-8") as handle:
            text, source = handle.read(), path
    try:
        config_list = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"config_list_from_json: {source} is not valid JSON ({exc})") from None
    if not isinstance(config_list, list) or not all(isinstance(e, dict) for e in config_list):
        raise ValueError(f"config_list_from_json: {source} must hold a JSON list of objects")
    return filter_config(config_list, filter_dict)


def get_config_list(api_keys: list[str], base_urls: list[str] | None = None, api_type: str | None = None,
                    api_version: str | None = None) -> list[dict]:
    """One entry per API key (paired with `base_urls` when given); blank keys are skipped."""
    if base_urls is not None and len(base_urls) != len(api_keys):
        raise ValueError("get_config_list: base_urls must have one item per api key")
    entries = []
    for i, key in enumerate(api_keys):
        if not key or not key.strip():
            continue
        entry: dict[str, Any] = {"api_key": key}
        if base_urls:
            entry["base_url"] = base_urls[i]
        if api_type:
            entry["api_type"] = api_type
        if api_version:
            entry["api_version"] = api_version
        entries.append(entry)
    return entries
