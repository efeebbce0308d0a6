"""`UserProxyAgent`: stands in for a human; runs code by default (spec §2.2)."""

from __future__ import annotations

from typing import Any, Callable, Literal

from . import prompts
from .agent import ConversableAgent


class UserProxyAgent(ConversableAgent):
    """A human's proxy: asks its human every turn by default and executes code blocks it receives."""

    DEFAULT_USER_PROXY_AGENT_DESCRIPTIONS = prompts.USER_PROXY_DESCRIPTIONS

    def __init__(
        self,
        name: str,
        is_termination_msg: Callable[[dict], bool] | None = None,
        max_consecutive_auto_reply: int | None = None,
        human_input_mode: str = "ALWAYS",
        function_map: dict[str, Callable] | None = None,
        code_execution_config: dict | Literal[False] | None = {},  # noqa: B006 - copied by the base class
        default_auto_reply: str | dict = "",
        llm_config: dict | Literal[False] | None = False,
        system_message: str | list = "",
        description: str | None = None,
        **kwargs: Any,
    ):
        if description is None:
            # Unknown modes act as TERMINATE (spec §2.1), so they get its description.
            description = self.DEFAULT_USER_PROXY_AGENT_DESCRIPTIONS.get(
                human_input_mode, self.DEFAULT_USER_PROXY_AGENT_DESCRIPTIONS["TERMINATE"]
            )
        super().__init__(
            name=name,
            system_message=system_message,
            is_termination_msg=is_termination_msg,
            max_consecutive_auto_reply=max_consecutive_auto_reply,
            human_input_mode=human_input_mode,
            function_map=function_map,
            code_execution_config=code_execution_config,
            llm_config=llm_config,
            default_auto_reply=default_auto_reply,
            description=description,
            **kwargs,
        )
