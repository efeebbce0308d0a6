"""`AssistantAgent`: a ConversableAgent with the coding-assistant defaults (spec §2.2)."""

from __future__ import annotations

from typing import Any, Callable, Literal

from . import prompts
from .agent import ConversableAgent


class AssistantAgent(ConversableAgent):
    """An LLM-backed assistant that writes code for a user proxy to run; never asks a human."""

    DEFAULT_SYSTEM_MESSAGE = prompts.ASSISTANT_SYSTEM_MESSAGE
    DEFAULT_DESCRIPTION = prompts.ASSISTANT_DESCRIPTION

    def __init__(
        self,
        name: str,
        system_message: str | None = DEFAULT_SYSTEM_MESSAGE,
        llm_config: dict | Literal[False] | None = None,
        is_termination_msg: Callable[[dict], bool] | None = None,
        max_consecutive_auto_reply: int | None = None,
        human_input_mode: str = "NEVER",
        description: str | None = None,
        **kwargs: Any,
    ):
        super().__init__(
            name,
            system_message,
            is_termination_msg,
            max_consecutive_auto_reply,
            human_input_mode,
            llm_config=llm_config,
            description=description,
            **kwargs,
        )
        # The fixed one-liner only describes the stock assistant; a custom prompt describes itself.
        if description is None and system_message == self.DEFAULT_SYSTEM_MESSAGE:
            self.description = self.DEFAULT_DESCRIPTION
