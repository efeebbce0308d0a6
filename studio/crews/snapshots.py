"""Parley's crew document: the export format (docs/crew-format.md), built from the database.

The same dict is what a version stores, what a Run freezes at start, and what workers/bridge.py
turns into engine objects. API keys are never part of it: a model says only which provider it
uses; the bridge fetches the key itself (by the ids under "source") when a run starts.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from studio.crews.models import AgentDef, Crew, CrewKind, ModelEndpoint

CREW_FORMAT = "parley.crew"
AGENT_FORMAT = "parley.agent"
FORMAT_VERSION = 1


def model_doc(model: ModelEndpoint) -> dict[str, Any]:
    price = None
    if model.price_prompt_per_million is not None or model.price_completion_per_million is not None:
        price = {
            "prompt_per_million": float(model.price_prompt_per_million or 0),
            "completion_per_million": float(model.price_completion_per_million or 0),
        }
    return {
        "name": model.name,
        "provider": model.provider,
        "model": model.model,
        "base_url": model.base_url or None,
        "temperature": model.temperature,
        "max_tokens": model.max_tokens,
        "price": price,
        "replay_script": model.replay_script or None,
    }


def agent_doc(agent: AgentDef) -> dict[str, Any]:
    return {
        "name": agent.name,
        "kind": agent.kind,
        "description": agent.description,
        "system_message": agent.system_message,
        "model": agent.model.name if agent.model_id is not None else None,
        "human_input_mode": agent.human_input_mode,
        "max_consecutive_auto_reply": agent.max_consecutive_auto_reply,
        "termination": {"rule": agent.termination_rule, "keyword": agent.termination_keyword},
        "default_auto_reply": agent.default_auto_reply,
        "code_execution": {
            "mode": agent.code_execution,
            "timeout": agent.code_timeout,
            "local_fallback": agent.local_fallback,
        },
        "tools": [{"source": source} for source in agent.tools or []],
    }


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _models_of(agents: list[AgentDef], extra: list[ModelEndpoint | None] = ()) -> list[ModelEndpoint]:
    seen: dict[int, ModelEndpoint] = {}
    for model in [a.model for a in agents if a.model_id is not None] + [m for m in extra if m is not None]:
        seen.setdefault(model.id, model)
    return list(seen.values())


def participants(crew: Crew) -> tuple[list[AgentDef], list[AgentDef]]:
    """(members in order, every agent the crew uses: members plus initiator/recipient)."""
    if crew.kind == CrewKind.TWO_AGENT:
        agents = [a for a in (crew.initiator, crew.recipient) if a is not None]
        return [], agents
    members = crew.ordered_members()
    agents = list(members)
    if crew.initiator is not None and crew.initiator.id not in {m.id for m in members}:
        agents.append(crew.initiator)
    return members, agents


def export_crew(crew: Crew) -> dict[str, Any]:
    """The crew, its agents and their models (minus keys) as one JSON-ready dict."""
    crew = Crew.objects.select_related(
        "initiator", "initiator__model", "recipient", "recipient__model", "manager_model", "workspace"
    ).get(pk=crew.pk)
    members, agents = participants(crew)
    crew_part: dict[str, Any] = {
        "name": crew.name,
        "description": crew.description,
        "tags": list(crew.tags or []),
        "kind": crew.kind,
        "task": crew.task,
        "two_agent": None,
        "group": None,
    }
    if crew.kind == CrewKind.TWO_AGENT:
        crew_part["two_agent"] = {
            "initiator": crew.initiator.name if crew.initiator else None,
            "recipient": crew.recipient.name if crew.recipient else None,
            "max_turns": crew.max_turns,
        }
        models = _models_of(agents)
    else:
        names = {m.id: m.name for m in agents}
        transitions: dict[str, list[str]] = {}
        for source_id, target_id in crew.transitions.order_by("id").values_list("source_id", "target_id"):
            if source_id in names and target_id in names:
                transitions.setdefault(names[source_id], []).append(names[target_id])
        crew_part["group"] = {
            "members": [m.name for m in members],
            "initiator": crew.initiator.name if crew.initiator else None,
            "max_round": crew.max_round,
            "speaker_selection": crew.speaker_selection,
            "allow_repeat_speaker": crew.allow_repeat_speaker,
            "send_introductions": crew.send_introductions,
            "manager_model": crew.manager_model.name if crew.manager_model else None,
            "termination": {"rule": crew.termination_rule, "keyword": crew.termination_keyword},
            "transitions": {source: sorted(targets) for source, targets in sorted(transitions.items())} or None,
        }
        models = _models_of(agents, [crew.manager_model])
    return {
        "format": CREW_FORMAT,
        "version": FORMAT_VERSION,
        "crew": crew_part,
        "agents": [agent_doc(a) for a in agents],
        "models": [model_doc(m) for m in models],
        "source": {
            "workspace": str(crew.workspace.public_id),
            "crew": str(crew.public_id),
            "agents": {a.name: str(a.public_id) for a in agents},
            "models": {m.name: str(m.public_id) for m in models},
            "exported_at": _now(),
        },
    }


def export_agent(agent: AgentDef) -> dict[str, Any]:
    """One agent (and its model, minus the key): what an agent version stores."""
    agent = AgentDef.objects.select_related("model", "workspace").get(pk=agent.pk)
    models = _models_of([agent])
    return {
        "format": AGENT_FORMAT,
        "version": FORMAT_VERSION,
        "agent": agent_doc(agent),
        "models": [model_doc(m) for m in models],
        "source": {
            "workspace": str(agent.workspace.public_id),
            "agents": {agent.name: str(agent.public_id)},
            "models": {m.name: str(m.public_id) for m in models},
            "exported_at": _now(),
        },
    }


def content(document: dict[str, Any]) -> dict[str, Any]:
    """The document without "source" (ids and time): what round trips and diffs compare."""
    return {key: value for key, value in document.items() if key != "source"}
