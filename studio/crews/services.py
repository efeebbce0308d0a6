"""Every write to models, agents and crews goes through here: validate, save, record a version.

Views stay thin: build or change an instance (e.g. a ModelForm with commit=False), then call the
matching `save_*`. Problems come back as django ValidationError keyed by form field, in plain
words; `form.add_error(None, error)` puts each message next to its field. Nothing is written when
a check fails (each function is one transaction).
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q

from studio.accounts import audit
from studio.accounts.audit import Action
from studio.accounts.models import User, Workspace
from studio.crews.choices import KIND_DEFAULT_MODE
from studio.crews.models import (
    AgentDef,
    Crew,
    CrewKind,
    CrewMember,
    CrewTransition,
    ModelEndpoint,
)
from studio.crews.validation import crew_problems, raise_crew_problems
from studio.crews.versions import record_version

KEEP = object()  # "leave the stored API key as it is"


def _save_checked(instance: Any, what: str) -> None:
    """save(); a unique-name race that slipped past clean() still ends as a field error."""
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError:
        raise ValidationError({"name": f"There is already {what} named “{instance.name}” in this workspace."}) from None


# ---- models (LLM endpoints) --------------------------------------------------------------------------


@transaction.atomic
def save_model(endpoint: ModelEndpoint, *, user: User | None, api_key: Any = KEEP, clear_key: bool = False,
               require_key: bool = True) -> ModelEndpoint:
    """Validate and save. `api_key`: a new plain key to encrypt, or KEEP (also for ""), `clear_key`
    removes it. `require_key=False` lets imports create OpenAI/Anthropic models without a key."""
    is_new = endpoint.pk is None
    key_change = None
    if clear_key:
        endpoint.clear_key()
        key_change = "removed"
    elif isinstance(api_key, str) and api_key.strip():
        endpoint.set_key(api_key)
        key_change = "set"
    if endpoint.created_by_id is None and endpoint.pk is None:
        endpoint.created_by = user
    endpoint.full_clean(validate_constraints=False)
    if require_key and endpoint.needs_key and not endpoint.has_key:
        raise ValidationError({"api_key": f"{endpoint.get_provider_display()} needs an API key."})
    _save_checked(endpoint, "a model")
    # The audit line says that the key changed, never what it is.
    audit.record(endpoint.workspace, user, Action.MODEL_CREATED if is_new else Action.MODEL_CHANGED, endpoint,
                 **({"key": key_change} if key_change else {}))
    return endpoint


def create_model(workspace: Workspace, *, user: User | None, api_key: str | None = None,
                 require_key: bool = True, **fields: Any) -> ModelEndpoint:
    endpoint = ModelEndpoint(workspace=workspace, **fields)
    return save_model(endpoint, user=user, api_key=api_key if api_key else KEEP, require_key=require_key)


def agents_using_model(endpoint: ModelEndpoint) -> list[AgentDef]:
    return list(endpoint.agents.order_by("name"))


@transaction.atomic
def delete_model(endpoint: ModelEndpoint, *, user: User | None = None) -> None:
    """Agents and crews that used it are left without a model (a run then reports that)."""
    audit.record(endpoint.workspace, user, Action.MODEL_DELETED, endpoint)
    endpoint.delete()


def test_model(endpoint: ModelEndpoint) -> Any:
    """One tiny request through the engine's client (the model page's Test button): a ProbeResult
    with `ok` and `message` in plain words."""
    from workers.bridge import probe_model

    return probe_model(endpoint)


# ---- agents --------------------------------------------------------------------------------------------


def crews_using_agent(agent: AgentDef) -> list[Crew]:
    """Crews that would change if the agent went away (as member, initiator or recipient)."""
    return list(
        Crew.objects.filter(Q(members__agent=agent) | Q(initiator=agent) | Q(recipient=agent)).distinct().order_by("name")
    )


@transaction.atomic
def save_agent(agent: AgentDef, *, user: User | None, summary: str | None = None) -> AgentDef:
    is_new = agent.pk is None
    if is_new:
        agent.created_by = agent.created_by or user
    agent.full_clean(validate_constraints=False)
    _save_checked(agent, "an agent")
    # An agent change can break a crew (e.g. manual selection losing its only human): check them all.
    broken: list[str] = []
    for crew in crews_using_agent(agent):
        for messages in crew_problems(crew).values():
            broken += [f"Crew “{crew.name}”: {message}" for message in messages]
    if broken:
        raise ValidationError({"__all__": broken})
    version = record_version(agent, user, summary)
    audit.record(agent.workspace, user, Action.AGENT_CREATED if is_new else Action.AGENT_CHANGED, agent,
                 summary=version.summary)
    return agent


def create_agent(workspace: Workspace, *, user: User | None, **fields: Any) -> AgentDef:
    """A new agent; the human input mode defaults to the engine's default for its kind."""
    fields.setdefault("human_input_mode", KIND_DEFAULT_MODE.get(fields.get("kind", "assistant"), "NEVER"))
    return save_agent(AgentDef(workspace=workspace, **fields), user=user)


@transaction.atomic
def delete_agent(agent: AgentDef, *, user: User | None) -> list[Crew]:
    """Delete the agent; the crews that used it lose it (each gets a version saying so) and are returned.

    Pages ask for confirmation first, naming `crews_using_agent(agent)`.
    """
    crews = crews_using_agent(agent)
    name = agent.name
    audit.record(agent.workspace, user, Action.AGENT_DELETED, agent)
    agent.delete()
    for crew in crews:
        crew.refresh_from_db()
        record_version(crew, user, f"Agent {name} was deleted")
    return crews


# ---- crews ---------------------------------------------------------------------------------------------


def _check_members(crew: Crew, members: Sequence[AgentDef]) -> None:
    ids = [agent.id for agent in members]
    if len(set(ids)) != len(ids):
        raise ValidationError({"members": "An agent can be a member of a crew only once."})
    if any(agent.workspace_id != crew.workspace_id for agent in members):
        raise ValidationError({"members": "Members must be agents of this workspace."})


@transaction.atomic
def save_crew(crew: Crew, *, user: User | None, members: Sequence[AgentDef] | None = None,
              transitions: Iterable[tuple[AgentDef, AgentDef]] | None = None, summary: str | None = None) -> Crew:
    """Validate and save the crew; `members` (in order) and `transitions` replace the stored ones
    when given. Everything is checked together, before anything is written."""
    is_new = crew.pk is None
    if not is_new:
        Crew.objects.select_for_update().filter(pk=crew.pk).first()  # serialises edits and version numbers
    elif crew.created_by_id is None:
        crew.created_by = user
    crew.full_clean(validate_constraints=False)
    if members is not None:
        members = list(members)
        _check_members(crew, members)
    edges = None if transitions is None else [(s.id, t.id) for s, t in transitions]
    if edges is None and members is not None and crew.pk is not None:
        # Edges to agents that leave the crew go with them.
        kept = {agent.id for agent in members}
        edges = [(s, t) for s, t in crew.transitions.values_list("source_id", "target_id") if s in kept and t in kept]
    pending_members = members if members is not None else (crew.ordered_members() if crew.pk else [])
    raise_crew_problems(crew, members=pending_members, edges=edges)
    _save_checked(crew, "a crew")
    if members is not None:
        CrewMember.objects.filter(crew=crew).delete()
        CrewMember.objects.bulk_create([CrewMember(crew=crew, agent=a, position=i) for i, a in enumerate(members)])
    if edges is not None:
        CrewTransition.objects.filter(crew=crew).delete()
        CrewTransition.objects.bulk_create(
            [CrewTransition(crew=crew, source_id=s, target_id=t) for s, t in dict.fromkeys(edges)]
        )
    version = record_version(crew, user, summary)
    audit.record(crew.workspace, user, Action.CREW_CREATED if is_new else Action.CREW_CHANGED, crew,
                 summary=version.summary)
    return crew


def create_crew(workspace: Workspace, *, user: User | None, members: Sequence[AgentDef] | None = None,
                transitions: Iterable[tuple[AgentDef, AgentDef]] | None = None, **fields: Any) -> Crew:
    crew = Crew(workspace=workspace, **fields)
    if crew.kind == CrewKind.GROUP and members is None:
        members = []
    return save_crew(crew, user=user, members=members, transitions=transitions, summary="Created")


def _current_edges(crew: Crew) -> list[tuple[AgentDef, AgentDef]]:
    return [(t.source, t.target) for t in crew.transitions.select_related("source", "target")]


def add_member(crew: Crew, agent: AgentDef, *, user: User | None, position: int | None = None) -> Crew:
    members = crew.ordered_members()
    if agent in members:
        raise ValidationError({"members": f"{agent.name} is already a member of this crew."})
    members.insert(len(members) if position is None else max(0, position), agent)
    return save_crew(crew, user=user, members=members, summary=f"Added {agent.name}")


def remove_member(crew: Crew, agent: AgentDef, *, user: User | None) -> Crew:
    members = crew.ordered_members()
    if agent not in members:
        raise ValidationError({"members": f"{agent.name} is not a member of this crew."})
    members.remove(agent)
    if crew.initiator_id == agent.id:
        crew.initiator = None  # the first remaining member opens the chat instead
    edges = [(s, t) for s, t in _current_edges(crew) if agent.id not in (s.id, t.id)]
    return save_crew(crew, user=user, members=members, transitions=edges, summary=f"Removed {agent.name}")


def _as_uuid(value: Any) -> str:
    try:
        return str(value if isinstance(value, UUID) else UUID(str(value)))
    except ValueError:
        raise ValidationError({"members": f"{value!r} is not an agent id."}) from None


@transaction.atomic
def reorder_members(crew: Crew, ordered_agent_ids: Sequence[Any], *, user: User | None = None) -> list[AgentDef]:
    """Put the members in the given order (agent public ids); the positions are written in one
    UPDATE (bulk_update). The list must name every member exactly once."""
    Crew.objects.select_for_update().filter(pk=crew.pk).first()
    rows = list(crew.members.select_related("agent", "agent__model"))
    by_id = {str(row.agent.public_id): row for row in rows}
    wanted = [_as_uuid(value) for value in ordered_agent_ids]
    if len(wanted) != len(set(wanted)) or set(wanted) != set(by_id):
        raise ValidationError({"members": "The new order must list every member of the crew exactly once."})
    ordered = [by_id[public_id] for public_id in wanted]
    raise_crew_problems(crew, members=[row.agent for row in ordered])
    changed = []
    for position, row in enumerate(ordered):
        if row.position != position:
            row.position = position
            changed.append(row)
    if changed:
        CrewMember.objects.bulk_update(changed, ["position"])
    crew.save(update_fields=["updated_at"])
    version = record_version(crew, user, "Reordered members: " + ", ".join(row.agent.name for row in ordered))
    audit.record(crew.workspace, user, Action.CREW_CHANGED, crew, summary=version.summary)
    return [row.agent for row in ordered]


def run_problems(crew: Crew) -> list[str]:
    """Why the crew cannot start a run now, in words (empty: it can). The Run button checks this."""
    from studio.crews.snapshots import participants

    problems = [message for messages in crew_problems(crew).values() for message in messages]
    _, agents = participants(crew)
    models = {a.model for a in agents if a.model_id is not None}
    if crew.kind == CrewKind.GROUP and crew.manager_model_id is not None:
        models.add(crew.manager_model)
    problems += [f"The model “{m.name}” has no API key; set one on the model's page."
                 for m in sorted(models, key=lambda m: m.name) if m.needs_key and not m.has_key]
    return problems


def set_transitions(crew: Crew, edges: Iterable[tuple[AgentDef, AgentDef]], *, user: User | None) -> Crew:
    """Replace the allowed-transitions graph (an empty list removes it: anyone may follow anyone)."""
    return save_crew(crew, user=user, transitions=list(edges), summary="Changed transitions")


@transaction.atomic
def delete_crew(crew: Crew, *, user: User | None = None) -> None:
    audit.record(crew.workspace, user, Action.CREW_DELETED, crew)
    crew.delete()
