"""The choices of crew, agent and model fields (kept apart so models.py stays about the models)."""

from __future__ import annotations

from django.db import models

# Names the engine gives its own agents; a crew member must not take them.
RESERVED_AGENT_NAMES = frozenset({"chat_manager", "checking_agent", "speaker_selection_agent"})
HUMAN_CAPABLE_MODES = ("ALWAYS", "TERMINATE")


class Provider(models.TextChoices):
    OPENAI = "openai", "OpenAI"
    ANTHROPIC = "anthropic", "Anthropic"
    OPENAI_COMPATIBLE = "openai_compatible", "OpenAI-compatible (base URL)"
    REPLAY = "replay", "Replay (scripted, for demos)"


PROVIDERS_NEEDING_KEY = (Provider.OPENAI, Provider.ANTHROPIC)


class AgentKind(models.TextChoices):
    ASSISTANT = "assistant", "Assistant"
    USER_PROXY = "user_proxy", "User proxy"
    CONVERSABLE = "conversable", "Conversable"


class HumanInputMode(models.TextChoices):
    ALWAYS = "ALWAYS", "Always: a person answers every message"
    TERMINATE = "TERMINATE", "Terminate: a person is asked at the end or at the auto-reply limit"
    NEVER = "NEVER", "Never: the agent always replies by itself"


# The engine's defaults per agent kind, applied when a new agent does not say otherwise.
KIND_DEFAULT_MODE = {
    AgentKind.ASSISTANT: HumanInputMode.NEVER,
    AgentKind.USER_PROXY: HumanInputMode.ALWAYS,
    AgentKind.CONVERSABLE: HumanInputMode.TERMINATE,
}


class TerminationRule(models.TextChoices):
    DEFAULT = "default", 'Default: the message is exactly "TERMINATE"'
    CONTAINS = "contains", "The message contains the keyword"
    ENDS_WITH = "ends_with", "The message ends with the keyword"
    NONE = "none", "Never"


class CodeExecution(models.TextChoices):
    OFF = "off", "Off"
    DOCKER = "docker", "Docker sandbox"
    LOCAL = "local", "Local (runs code on the worker host)"


class CrewKind(models.TextChoices):
    TWO_AGENT = "two_agent", "Two-agent chat"
    GROUP = "group", "Group chat"


class SpeakerSelection(models.TextChoices):
    AUTO = "auto", "Auto (the manager's model picks)"
    ROUND_ROBIN = "round_robin", "Round robin"
    RANDOM = "random", "Random"
    MANUAL = "manual", "Manual (a person picks)"
