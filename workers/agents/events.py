"""Event sinks: where a running conversation reports what happens.

A sink is any callable taking one event dict. `Conversation` installs its sink in a context
variable for the duration of each step, so deep code (the LLM client's token callback, code
execution, the group stepper) can report through `emit` without being handed the sink.
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Any, Callable, Iterator

Sink = Callable[[dict], None]

EVENT_TYPES = (
    "message",
    "token",
    "speaker_selected",
    "code_output",
    "usage",
    "human_input_needed",
    "finished",
)

_active: contextvars.ContextVar[tuple[Sink, str] | None] = contextvars.ContextVar(
    "parley_event_sink", default=None
)


def active() -> bool:
    """True while a sink is installed (i.e. inside a conversation step)."""
    return _active.get() is not None


def current_conversation_id() -> str | None:
    installed = _active.get()
    return installed[1] if installed else None


def emit(type: str, **fields: Any) -> None:  # noqa: A002 - "type" is the event field name
    """Send one event to the installed sink; a no-op outside a conversation step."""
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}; expected one of {EVENT_TYPES}")
    installed = _active.get()
    if installed is None:
        return
    sink, conversation_id = installed
    sink({"type": type, "conversation_id": conversation_id, **fields})


@contextlib.contextmanager
def installed(sink: Sink | None, conversation_id: str) -> Iterator[None]:
    """Make `sink` the target of `emit` inside the block (a None sink disables events)."""
    token = _active.set((sink, conversation_id) if sink is not None else None)
    try:
        yield
    finally:
        _active.reset(token)


class EventLog(list):
    """A sink that keeps every event, in order (handy for tests and offline replays)."""

    def __call__(self, event: dict) -> None:
        self.append(event)

    def of_type(self, type: str) -> list[dict]:  # noqa: A002
        return [e for e in self if e["type"] == type]
