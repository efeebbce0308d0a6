"""The knobs of live runs. Each is read from Django settings if set there, else from the
environment variable of the same name, else the default below.

  PARLEY_RUN_HEARTBEAT_SECONDS  how often a worker marks the runs it holds as alive (default 10)
  PARLEY_RUN_STALE_SECONDS      a running run whose heartbeat is older than this is recovered
                                (default 60; must be at least three heartbeats)
  PARLEY_RUN_SWEEP_SECONDS      how often each worker looks for stale runs (default 30)
  PARLEY_RUN_MAX_RECOVERIES     recoveries of one run before it is failed instead (default 3)
  PARLEY_RUN_TOKEN_BATCH_MS     token deltas are relayed at most this often per run (default 50)
  PARLEY_RUNS_QUEUE             the Celery queue run tasks go to (default: Celery's default queue)
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from studio.env import Env, SettingsError

DEFAULTS: dict[str, float] = {
    "PARLEY_RUN_HEARTBEAT_SECONDS": 10.0,
    "PARLEY_RUN_STALE_SECONDS": 60.0,
    "PARLEY_RUN_SWEEP_SECONDS": 30.0,
    "PARLEY_RUN_MAX_RECOVERIES": 3,
    "PARLEY_RUN_TOKEN_BATCH_MS": 50.0,
}


def _number(name: str) -> float:
    value = getattr(settings, name, None)
    if value is None:
        raw = Env().str(name)
        if not raw:
            return DEFAULTS[name]
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a number (got {raw!r})") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ImproperlyConfigured(f"{name} must be a non-negative number (got {value!r})")
    return float(value)


def heartbeat_seconds() -> float:
    return max(0.05, _number("PARLEY_RUN_HEARTBEAT_SECONDS"))


def stale_seconds() -> float:
    stale = _number("PARLEY_RUN_STALE_SECONDS")
    if stale < 3 * heartbeat_seconds():
        # A live worker could look dead between two heartbeats: refuse rather than steal runs.
        raise ImproperlyConfigured(
            f"PARLEY_RUN_STALE_SECONDS ({stale:g}) must be at least three heartbeats "
            f"(PARLEY_RUN_HEARTBEAT_SECONDS is {heartbeat_seconds():g})"
        )
    return stale


def sweep_seconds() -> float:
    return max(0.05, _number("PARLEY_RUN_SWEEP_SECONDS"))


def max_recoveries() -> int:
    return int(_number("PARLEY_RUN_MAX_RECOVERIES"))


def token_batch_seconds() -> float:
    return _number("PARLEY_RUN_TOKEN_BATCH_MS") / 1000.0


def runs_queue() -> str | None:
    """The queue for start_run/continue_run; None means Celery's default routing."""
    value = getattr(settings, "PARLEY_RUNS_QUEUE", None)
    if value is None:
        value = Env().str("PARLEY_RUNS_QUEUE")
    return str(value) or None
