"""Restoring a crew or an agent to one of its versions (see versions.restore_version).

Agents and models are found again by the ids the snapshot recorded, then by name; whatever no
longer exists is re-created. A crew restore brings back the crew's own settings and membership;
the agents keep their current definitions (they have versions of their own), and the notes say
which of them differ from the snapshot.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.db import transaction

from studio.accounts.models import User, Workspace
from studio.crews import services
from studio.crews.exchange import (
    ImportResult,
    agent_fields,
    create_agent_from_doc,
    create_model_from_doc,
    crew_fields,
    group_links,
    load_document,
)
from studio.crews.models import AgentDef, Crew, ModelEndpoint
from studio.crews.snapshots import AGENT_FORMAT, agent_doc


def _by_source(model: type, workspace: Workspace, source_ids: dict[str, str], name: str) -> Any:
    public_id = source_ids.get(name)
    if public_id:
        try:
            found = model.objects.filter(workspace=workspace, public_id=UUID(public_id)).first()
        except ValueError:
            found = None
        if found is not None:
            return found
    return model.objects.filter(workspace=workspace, name=name).first()


@transaction.atomic
def restore_crew(crew: Crew, snapshot: dict[str, Any], *, user: User | None, summary: str) -> tuple[Crew, list[str]]:
    document = load_document(snapshot)
    source, workspace, notes = document["source"], crew.workspace, []
    result = ImportResult(crew=crew)
    models: dict[str, ModelEndpoint] = {}
    for doc in document["models"]:
        found = _by_source(ModelEndpoint, workspace, source.get("models", {}), doc["name"])
        models[doc["name"]] = found or create_model_from_doc(workspace, user, doc, result)
    agents: dict[str, AgentDef] = {}
    for doc in document["agents"]:
        found = _by_source(AgentDef, workspace, source.get("agents", {}), doc["name"])
        if found is None:
            found = create_agent_from_doc(workspace, user, doc, models, result)
            notes.append(f"Agent {doc['name']} no longer existed and was re-created as {found.name}.")
        elif agent_doc(found) != {**doc, "name": found.name, "model": found.model.name if found.model else None} or (
                doc["model"] and found.model_id != models[doc["model"]].id):
            notes.append(f"Agent {found.name} keeps its current settings; restore one of its own versions to roll it back.")
        agents[doc["name"]] = found
    notes += result.renamed + [f"Model “{name}” needs an API key before the crew can run." for name in result.needs_key]
    crew_doc = document["crew"]
    for key, value in crew_fields(crew_doc, agents, models).items():
        setattr(crew, key, value)
    crew.name = crew_doc["name"]
    members, edges = group_links(crew_doc, agents)
    services.save_crew(crew, user=user, members=members, transitions=edges, summary=summary)
    return crew, notes


@transaction.atomic
def restore_agent(agent: AgentDef, snapshot: dict[str, Any], *, user: User | None, summary: str) -> tuple[AgentDef, list[str]]:
    document = load_document(snapshot, expected=AGENT_FORMAT)
    doc, notes = document["agent"], []
    model = None
    if doc["model"]:
        model = _by_source(ModelEndpoint, agent.workspace, document["source"].get("models", {}), doc["model"])
        if model is None:
            notes.append(f"The model “{doc['model']}” no longer exists; the agent has no model now.")
    for key, value in agent_fields(doc, model).items():
        setattr(agent, key, value)
    agent.name = doc["name"]
    services.save_agent(agent, user=user, summary=summary)
    return agent, notes
