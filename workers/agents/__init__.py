"""Parley's conversation engine: its own implementation of the AutoGen 0.2 / AG2-classic agent API.

`import workers.agents as autogen` runs AutoGen scripts unchanged. Names owned by modules that
may be loaded lazily (group chat, LLM clients, code executors) resolve on first use, so this
package imports even where an optional part is unavailable.
"""

from __future__ import annotations

import importlib
from typing import Any

from .agent import Agent, ConversableAgent, LLMAgent, default_is_termination_msg
from .assistant import AssistantAgent
from .chat import ChatResult, a_initiate_chats, gather_usage_summary, initiate_chats
from .conversation import Conversation
from .events import EventLog
from .human import (
    ConsoleInput,
    HumanInputNeeded,
    HumanInputRequest,
    ScriptedInput,
    ScriptedInputExhausted,
    SuspendingInput,
)
from .messages import content_str, ends_with_terminate
from .tools import get_function_schema, register_function
from .user_proxy import UserProxyAgent

# name -> submodule that defines it; imported on first attribute access (PEP 562).
_LAZY = {
    "GroupChat": ".groupchat",
    "GroupChatManager": ".groupchat",
    "GroupChatStepper": ".groupchat",
    "LLMClient": ".llm",
    "OpenAIWrapper": ".llm",
    "config_list_from_json": ".llm",
    "config_list_from_models": ".llm",
    "config_list_from_dotenv": ".llm",
    "config_list_openai_aoai": ".llm",
    "filter_config": ".llm",
    "get_config_list": ".llm",
    "ModelClient": ".llm",
    "LocalCommandLineCodeExecutor": ".execution",
    "DockerCommandLineCodeExecutor": ".execution",
    "CodeExecutor": ".execution",
    "CodeBlock": ".execution",
    "extract_code": ".execution",
    "execute_code": ".execution",
    "infer_lang": ".execution",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name, __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "Agent",
    "AssistantAgent",
    "ChatResult",
    "ConsoleInput",
    "Conversation",
    "ConversableAgent",
    "EventLog",
    "HumanInputNeeded",
    "HumanInputRequest",
    "LLMAgent",
    "ScriptedInput",
    "ScriptedInputExhausted",
    "SuspendingInput",
    "UserProxyAgent",
    "a_initiate_chats",
    "content_str",
    "default_is_termination_msg",
    "ends_with_terminate",
    "gather_usage_summary",
    "get_function_schema",
    "initiate_chats",
    "register_function",
    *_LAZY,
]
