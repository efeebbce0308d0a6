"""Shared fixtures and builders for the builder page tests (no tests here).

Objects are made through the same service functions the pages call (tests/studio/crews_support.py);
pages are driven through Django's test client, logged in as the cast from tests/factories.py.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from studio.accounts.models import User, Workspace
from studio.crews.models import AgentDef, Crew, ModelEndpoint
from tests.studio.crews_support import SECRET, group_crew, make_agent, make_model, replay_model, workspace_of

HTMX = {"HTTP_HX_REQUEST": "true"}


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def alice_client(alice) -> Client:
    return client_for(alice)


@pytest.fixture
def bob_client(bob) -> Client:
    return client_for(bob)


def url(name: str, *args: Any) -> str:
    return reverse(f"crews:{name}", args=args)


def errors_in(page: str) -> list[str]:
    """The texts (unescaped) of every error list item on a page (field and form errors)."""
    lists = re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', page, flags=re.S)
    items = [item for block in lists for item in re.findall(r"<li>(.*?)</li>", block, flags=re.S)]
    return [html.unescape(re.sub(r"<[^>]+>", "", item)).strip() for item in items]


def form_data(**fields: Any) -> dict[str, Any]:
    """POST data: None values are left out (like an empty select), lists stay lists."""
    return {key: value for key, value in fields.items() if value is not None}


class Studio:
    """A workspace (default: the user's personal one) with two models, three agents and a group crew
    of planner and coder, made through the services."""

    def __init__(self, user: User, workspace: Workspace | None = None, key: str = SECRET) -> None:
        self.user = user
        self.workspace = workspace or workspace_of(user)
        self.model: ModelEndpoint = make_model(self.workspace, user, name="GPT key model", api_key=key)
        self.replay: ModelEndpoint = replay_model(self.workspace, user, name="Replay", replies=["hello"])
        self.planner: AgentDef = make_agent(self.workspace, user, name="planner", model=self.replay)
        self.coder: AgentDef = make_agent(self.workspace, user, name="coder", model=self.model)
        self.runner: AgentDef = make_agent(self.workspace, user, name="runner", kind="user_proxy",
                                           human_input_mode="NEVER", code_execution="docker")
        self.crew: Crew = group_crew(self.workspace, user, [self.planner, self.coder], name="Builders")

    def member_names(self) -> list[str]:
        self.crew.refresh_from_db()
        return [agent.name for agent in self.crew.ordered_members()]


@pytest.fixture
def studio(alice) -> Studio:
    return Studio(alice)
