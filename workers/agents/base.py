"""The agent protocols: what any participant of a conversation offers (the reference's `Agent`/`LLMAgent`)."""

from __future__ import annotations

from typing import Any


class Agent:
    """Anything that can take part in a conversation (the reference's `Agent` protocol)."""

    @property
    def name(self) -> str:
        raise NotImplementedError

    @property
    def description(self) -> str:
        raise NotImplementedError

    def send(self, message: dict | str, recipient: "Agent", request_reply: bool | None = None) -> None:
        raise NotImplementedError

    def receive(self, message: dict | str, sender: "Agent", request_reply: bool | None = None) -> None:
        raise NotImplementedError

    def generate_reply(self, messages: list[dict] | None = None, sender: "Agent | None" = None, **kwargs: Any):
        raise NotImplementedError


class LLMAgent(Agent):
    """An agent with a system message (the reference's `LLMAgent` protocol)."""

    @property
    def system_message(self) -> str:
        raise NotImplementedError

    def update_system_message(self, system_message: str) -> None:
        raise NotImplementedError
