"""More of AutoGen's config-list builders: from key files and the environment, and from a .env file.

They only gather entries; validation happens when a client is built from them. Azure entries are gathered
as `api_type: "azure"`, which Parley does not serve, so using one fails with a clear error at that point.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Mapping

from .config import filter_config

logger = logging.getLogger(__name__)


def _values(env_var: str, directory: str, file_name: str | None) -> list[str]:
    """Newline-separated values from an environment variable, else from a file in `directory`."""
    raw = os.environ.get(env_var)
    if raw is None and file_name:
        path = Path(directory) / file_name
        if path.is_file():
            raw = path.read_text(encoding="utf-8")
    return [line.strip() for line in (raw or "").splitlines() if line.strip()]


def config_list_openai_aoai(key_file_path: str | None = ".", openai_api_key_file: str | None = "key_openai.txt",
                            aoai_api_key_file: str | None = "key_aoai.txt",
                            openai_api_base_file: str | None = "base_openai.txt",
                            aoai_api_base_file: str | None = "base_aoai.txt",
                            exclude: str | None = None) -> list[dict]:
    """Entries for every OpenAI key (OPENAI_API_KEY / key file, with OPENAI_API_BASE / base file when given)
    and every Azure key/base pair (AZURE_OPENAI_API_KEY / AZURE_OPENAI_API_BASE); `exclude` is "openai" or "aoai"."""
    directory = key_file_path or "."
    entries: list[dict] = []
    if exclude != "openai":
        keys = _values("OPENAI_API_KEY", directory, openai_api_key_file)
        bases = _values("OPENAI_API_BASE", directory, openai_api_base_file)
        for i, key in enumerate(keys):
            entry: dict[str, Any] = {"api_key": key}
            if i < len(bases):
                entry["base_url"] = bases[i]
            entries.append(entry)
    if exclude != "aoai":
        keys = _values("AZURE_OPENAI_API_KEY", directory, aoai_api_key_file)
        bases = _values("AZURE_OPENAI_API_BASE", directory, aoai_api_base_file)
        for key, base in zip(keys, bases):
            entries.append({"api_key": key, "base_url": base, "api_type": "azure",
                            "api_version": os.environ.get("AZURE_OPENAI_API_VERSION", "2024-02-01")})
    return entries


def config_list_from_models(key_file_path: str | None = ".", openai_api_key_file: str | None = "key_openai.txt",
                            aoai_api_key_file: str | None = "key_aoai.txt",
                            aoai_api_base_file: str | None = "base_aoai.txt", exclude: str | None = None,
                            model_list: list[str] | None = None) -> list[dict]:
    """`config_list_openai_aoai`, repeated for each model of `model_list` (unchanged when it is empty)."""
    entries = config_list_openai_aoai(key_file_path, openai_api_key_file, aoai_api_key_file,
                                      aoai_api_base_file=aoai_api_base_file, exclude=exclude)
    if not model_list:
        return entries
    return [{**entry, "model": model} for model in model_list for entry in entries]


def _read_dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines; `#` comments, `export ` prefixes and surrounding quotes are handled."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        key = key.removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key] = value
    return values


def config_list_from_dotenv(dotenv_file_path: str | None = None,
                            model_api_key_map: Mapping[str, Any] | None = None,
                            filter_dict: Mapping[str, Any] | None = None) -> list[dict]:
    """Entries built from environment variables, after loading `dotenv_file_path` (default ./.env) without
    overriding variables already set. `model_api_key_map` maps a model to the name of its key's variable,
    or to `{"api_key_env_var": NAME, **other entry keys}`; a model whose key is unset is skipped."""
    path = Path(dotenv_file_path) if dotenv_file_path else Path(".env")
    if path.is_file():
        for key, value in _read_dotenv(path).items():
            os.environ.setdefault(key, value)
    elif dotenv_file_path:
        raise FileNotFoundError(f"config_list_from_dotenv: no file at {str(path)!r}")
    mapping = model_api_key_map or {"gpt-4o": "OPENAI_API_KEY", "gpt-4o-mini": "OPENAI_API_KEY"}
    entries = []
    for model, spec in mapping.items():
        extra = dict(spec) if isinstance(spec, Mapping) else {"api_key_env_var": spec}
        env_var = extra.pop("api_key_env_var", None)
        if not isinstance(env_var, str):
            raise ValueError(f"config_list_from_dotenv: model {model!r} needs the name of its key's variable")
        key = os.environ.get(env_var)
        if not key:
            logger.warning("config_list_from_dotenv: %s is not set; model %r skipped", env_var, model)
            continue
        entries.append({"model": model, "api_key": key, **extra})
    return filter_config(entries, filter_dict)
