"""Reading Parley's configuration from environment variables.

Every reader either returns a clean value or raises `SettingsError` with one line naming the
variable. This module imports nothing from Django so that manage.py and asgi.py can catch the
error class even when importing the settings module itself failed.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

START_FAILURE_PREFIX = "Parley cannot start: "

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class SettingsError(Exception):
    """A configuration variable is missing or malformed; the message names it."""

    def start_failure_line(self) -> str:
        return START_FAILURE_PREFIX + str(self)


def redact_url(url: str) -> str:
    """The URL with any password replaced, safe to print in an error line."""
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)


class Env:
    """Typed access to a mapping of environment variables (os.environ by default)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ

    def str(self, name: str, default: str = "") -> str:
        return self.environ.get(name, "").strip() or default

    def is_set(self, name: str) -> bool:
        return bool(self.environ.get(name, "").strip())

    def bool(self, name: str, default: bool) -> bool:
        raw = self.str(name).lower()
        if not raw:
            return default
        if raw in _TRUE:
            return True
        if raw in _FALSE:
            return False
        raise SettingsError(f"{name} must be one of 1/0, true/false, yes/no, on/off (got {raw!r})")

    def int(self, name: str, default: int, minimum: int = 1) -> int:
        raw = self.str(name)
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a whole number (got {raw!r})") from None
        if value < minimum:
            raise SettingsError(f"{name} must be at least {minimum} (got {value})")
        return value

    def list(self, name: str, default: list[str] | None = None) -> list[str]:
        raw = self.str(name)
        if not raw:
            return list(default or [])
        return [item.strip() for item in raw.split(",") if item.strip()]


def parse_database_url(name: str, url: str) -> dict[str, Any]:
    """A Django DATABASES entry from a postgres:// or sqlite:// URL; anything else is an error."""
    import dj_database_url

    shown = redact_url(url)
    try:
        config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=0, conn_health_checks=True))
    except ValueError:
        raise SettingsError(f"{name} is not a valid database URL (got {shown!r})") from None
    engine = config.get("ENGINE", "")
    if engine == "django.db.backends.postgresql":
        if not config.get("NAME"):
            raise SettingsError(f"{name} must name a database, e.g. postgres://user:pass@host:5432/parley (got {shown!r})")
        if not config.get("HOST"):
            raise SettingsError(f"{name} must name a host (got {shown!r})")
    elif engine == "django.db.backends.sqlite3":
        if not config.get("NAME"):
            raise SettingsError(f"{name} must name a SQLite file, e.g. sqlite:////srv/parley/db.sqlite3 (got {shown!r})")
    else:
        raise SettingsError(f"{name} must be a postgres:// or sqlite:// URL (got {shown!r})")
    return config


def validate_redis_url(name: str, url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in {"redis", "rediss", "unix"} or (parts.scheme != "unix" and not parts.hostname):
        raise SettingsError(f"{name} must be a redis://host:port/db URL (got {redact_url(url)!r})")
    try:
        parts.port  # noqa: B018 - raises ValueError on a non-numeric port
    except ValueError:
        raise SettingsError(f"{name} has an invalid port (got {redact_url(url)!r})") from None
    return url


def validate_fernet_keys(name: str, keys: list[str]) -> list[str]:
    """Each key must be a Fernet key; the first one encrypts, all of them decrypt."""
    from cryptography.fernet import Fernet

    if not keys:
        raise SettingsError(f"{name} must hold at least one Fernet key")
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            # Never echo the value: it is a secret even when malformed.
            raise SettingsError(
                f"{name} entry {position} is not a Fernet key (32 url-safe base64-encoded bytes, "
                "as made by cryptography.fernet.Fernet.generate_key())"
            ) from None
    return keys


def read_or_create_secret(path: Path, make: Callable[[], str], what: str) -> str:
    """Read a generated secret from `path`, creating it (mode 0600) on first use.

    The value is written to a private temporary file and hard-linked into place, so concurrent
    first starts (web and worker) agree on one complete value.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(make() + "\n")
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process won the race; use its value
        finally:
            temporary.unlink()
    value = path.read_text().strip()
    if not value:
        raise SettingsError(f"{what}: the file {path} is empty; delete it to generate a new one")
    return value


def new_secret_key() -> str:
    return secrets.token_urlsafe(50)


def new_fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()
