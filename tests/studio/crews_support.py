"""Shared builders for the crew tests (no tests here): models, agents and crews made through the
same service functions the pages use."""

from __future__ import annotations

from typing import Any

from studio.accounts.models import User, Workspace
from studio.crews import services
from studio.crews.models import AgentDef, Crew, ModelEndpoint

SECRET = "sk-test-0123456789-very-secret"

ADD_TOOL = '''def add(a: int, b: int = 2) -> int:
    """Add two whole numbers."""
    return a + b
'''


def workspace_of(user: User) -> Workspace:
    return Workspace.objects.get(personal_for=user)


def make_model(workspace: Workspace, user: User | None = None, **fields: Any) -> ModelEndpoint:
    fields.setdefault("name", "GPT test")
    fields.setdefault("provider", "openai")
    fields.setdefault("model", "gpt-test")
    if fields["provider"] in ("openai", "anthropic"):
        fields.setdefault("api_key", SECRET)
    return services.create_model(workspace, user=user, **fields)


def replay_model(workspace: Workspace, user: User | None = None, name: str = "Replay", **script: Any) -> ModelEndpoint:
    return services.create_model(workspace, user=user, name=name, provider="replay", model="replay",
                                 replay_script=script or None)


def make_agent(workspace: Workspace, user: User | None = None, name: str = "helper", **fields: Any) -> AgentDef:
    return services.create_agent(workspace, user=user, name=name, **fields)


def two_agent_crew(workspace: Workspace, user: User | None, initiator: AgentDef, recipient: AgentDef,
                   name: str = "Pair", **fields: Any) -> Crew:
    return services.create_crew(workspace, user=user, name=name, kind="two_agent", initiator=initiator,
                                recipient=recipient, **fields)


def group_crew(workspace: Workspace, user: User | None, members: list[AgentDef], name: str = "Group",
               **fields: Any) -> Crew:
    fields.setdefault("speaker_selection", "round_robin")
    return services.create_crew(workspace, user=user, name=name, kind="group", members=members, **fields)
