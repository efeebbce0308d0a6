"""Reading Parley crew documents back in: import, copy between workspaces, restore versions.

`load_document` checks a document's shape and reports every problem in words, under the key
"document" (the import form's field). `import_crew` creates what the document describes through
the service functions, so the same validation applies as for edits made in the forms.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable

from django.core.exceptions import ValidationError
from django.db import transaction

from studio.accounts.models import User, Workspace
from studio.crews import services
from studio.crews.models import (
    AgentDef,
    AgentKind,
    CodeExecution,
    Crew,
    CrewKind,
    HumanInputMode,
    ModelEndpoint,
    Provider,
    SpeakerSelection,
    TerminationRule,
)
from studio.crews.snapshots import CREW_FORMAT, FORMAT_VERSION, agent_doc, export_crew, model_doc

MAX_ERRORS = 12


@dataclass
class ImportResult:
    crew: Crew
    renamed: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    needs_key: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # what a foreign format had that Parley could not map
    notes: list[str] = field(default_factory=list)

    def messages(self) -> list[str]:
        lines = [f"Imported crew “{self.crew.name}”."]
        lines += self.notes + self.renamed + self.reused
        lines += [f"Model “{name}” needs an API key before the crew can run." for name in self.needs_key]
        lines += [f"Not imported: {item}" for item in self.dropped]
        return lines


def document_error(messages: list[str] | str) -> ValidationError:
    return ValidationError({"document": [messages] if isinstance(messages, str) else messages[:MAX_ERRORS]})


def parse_json(data: Any) -> Any:
    """bytes / str → JSON value; dicts pass through. Not JSON → ValidationError in words."""
    if isinstance(data, (dict, list)):
        return data
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise document_error("The file is not text (it should be a .json file).") from None
    if not isinstance(data, str) or not data.strip():
        raise document_error("The file is empty.")
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise document_error(f"The file is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}).") from None


# ---- shape checks ---------------------------------------------------------------------------------------


class _Reader:
    """Collects every shape problem of a document, each naming where it is."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def get(self, obj: dict, key: str, kinds: tuple[type, ...], where: str, default: Any = ...,
            choices: list[str] | None = None, check: Callable[[Any], bool] | None = None) -> Any:
        if key not in obj or (obj[key] is None and None not in kinds):
            if default is ...:
                self.errors.append(f"{where}: “{key}” is missing.")
                return None
            return default
        value = obj[key]
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            names = " or ".join(_KIND_WORDS.get(k, k.__name__) for k in kinds)
            self.errors.append(f"{where}: “{key}” must be {names}.")
            return None if default is ... else default
        if choices is not None and value not in choices:
            self.errors.append(f"{where}: “{key}” is {value!r}; it must be one of {', '.join(choices)}.")
            return None if default is ... else default
        if check is not None and value is not None and not check(value):
            self.errors.append(f"{where}: “{key}” has an invalid value {value!r}.")
        return value


_KIND_WORDS = {str: "text", int: "a whole number", float: "a number", bool: "true or false", dict: "an object",
               list: "a list", type(None): "null"}
_NUM = (int, float, type(None))


def _model(r: _Reader, raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        r.errors.append(f"{where} must be an object.")
        return {}
    price = r.get(raw, "price", (dict, type(None)), where, None)
    if isinstance(price, dict):
        price = {k: r.get(price, k, (int, float), f"{where} price", 0) for k in ("prompt_per_million", "completion_per_million")}
    return {
        "name": r.get(raw, "name", (str,), where),
        "provider": r.get(raw, "provider", (str,), where, choices=Provider.values),
        "model": r.get(raw, "model", (str,), where, ""),
        "base_url": r.get(raw, "base_url", (str, type(None)), where, None) or None,
        "temperature": r.get(raw, "temperature", _NUM, where, None),
        "max_tokens": r.get(raw, "max_tokens", (int, type(None)), where, None),
        "price": price,
        "replay_script": r.get(raw, "replay_script", (dict, type(None)), where, None) or None,
    }


def _agent(r: _Reader, raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        r.errors.append(f"{where} must be an object.")
        return {}
    termination = r.get(raw, "termination", (dict,), where, {})
    code = r.get(raw, "code_execution", (dict,), where, {})
    tools = r.get(raw, "tools", (list,), where, [])
    sources = []
    for index, tool in enumerate(tools or [], start=1):
        source = tool.get("source") if isinstance(tool, dict) else None
        if not isinstance(source, str):
            r.errors.append(f"{where} tool {index}: give the function as {{\"source\": \"def ...\"}}.")
        else:
            sources.append({"source": source})
    return {
        "name": r.get(raw, "name", (str,), where),
        "kind": r.get(raw, "kind", (str,), where, AgentKind.ASSISTANT, choices=AgentKind.values),
        "description": r.get(raw, "description", (str,), where, ""),
        "system_message": r.get(raw, "system_message", (str,), where, ""),
        "model": r.get(raw, "model", (str, type(None)), where, None),
        "human_input_mode": r.get(raw, "human_input_mode", (str,), where, HumanInputMode.NEVER, choices=HumanInputMode.values),
        "max_consecutive_auto_reply": r.get(raw, "max_consecutive_auto_reply", (int, type(None)), where, None),
        "termination": {
            "rule": r.get(termination, "rule", (str,), where, TerminationRule.DEFAULT, choices=TerminationRule.values),
            "keyword": r.get(termination, "keyword", (str,), where, "TERMINATE"),
        },
        "default_auto_reply": r.get(raw, "default_auto_reply", (str,), where, ""),
        "code_execution": {
            "mode": r.get(code, "mode", (str,), where, CodeExecution.OFF, choices=CodeExecution.values),
            "timeout": r.get(code, "timeout", (int,), where, 60),
            "local_fallback": r.get(code, "local_fallback", (bool,), where, False),
        },
        "tools": sources,
    }


def _crew(r: _Reader, raw: Any, agent_names: set[str], model_names: set[str]) -> dict[str, Any]:
    where = "crew"
    if not isinstance(raw, dict):
        r.errors.append("“crew” must be an object.")
        return {}

    def agent_ref(obj: dict, key: str, section: str, required: bool) -> str | None:
        name = r.get(obj, key, (str,) if required else (str, type(None)), section, ... if required else None)
        if name is not None and name not in agent_names:
            r.errors.append(f"{section}: “{key}” names {name!r}, which is not one of the agents in the file.")
        return name

    crew = {
        "name": r.get(raw, "name", (str,), where),
        "description": r.get(raw, "description", (str,), where, ""),
        "tags": r.get(raw, "tags", (list,), where, [], check=lambda v: all(isinstance(t, str) for t in v)),
        "kind": r.get(raw, "kind", (str,), where, choices=CrewKind.values),
        "task": r.get(raw, "task", (str,), where, ""),
        "two_agent": None,
        "group": None,
    }
    if crew["kind"] == CrewKind.TWO_AGENT:
        section = r.get(raw, "two_agent", (dict,), where) or {}
        crew["two_agent"] = {
            "initiator": agent_ref(section, "initiator", "crew two_agent", True),
            "recipient": agent_ref(section, "recipient", "crew two_agent", True),
            "max_turns": r.get(section, "max_turns", (int, type(None)), "crew two_agent", None),
        }
    elif crew["kind"] == CrewKind.GROUP:
        section = r.get(raw, "group", (dict,), where) or {}
        members = r.get(section, "members", (list,), "crew group") or []
        for name in members:
            if name not in agent_names:
                r.errors.append(f"crew group: member {name!r} is not one of the agents in the file.")
        termination = r.get(section, "termination", (dict,), "crew group", {})
        manager_model = r.get(section, "manager_model", (str, type(None)), "crew group", None)
        if manager_model is not None and manager_model not in model_names:
            r.errors.append(f"crew group: “manager_model” names {manager_model!r}, which is not one of the models in the file.")
        transitions = r.get(section, "transitions", (dict, type(None)), "crew group", None) or {}
        for source, targets in transitions.items():
            if source not in members or not isinstance(targets, list) or any(t not in members for t in targets):
                r.errors.append(f"crew group: the transitions from {source!r} must list members of the crew.")
        crew["group"] = {
            "members": members,
            "initiator": agent_ref(section, "initiator", "crew group", False),
            "max_round": r.get(section, "max_round", (int,), "crew group", 10),
            "speaker_selection": r.get(section, "speaker_selection", (str,), "crew group", SpeakerSelection.AUTO,
                                       choices=SpeakerSelection.values),
            "allow_repeat_speaker": r.get(section, "allow_repeat_speaker", (bool,), "crew group", True),
            "send_introductions": r.get(section, "send_introductions", (bool,), "crew group", False),
            "manager_model": manager_model,
            "termination": {
                "rule": r.get(termination, "rule", (str,), "crew group", TerminationRule.DEFAULT, choices=TerminationRule.values),
                "keyword": r.get(termination, "keyword", (str,), "crew group", "TERMINATE"),
            },
            "transitions": {s: sorted(t) for s, t in sorted(transitions.items())} or None,
        }
    return crew


def load_document(data: Any, expected: str = CREW_FORMAT) -> dict[str, Any]:
    """A checked, normalised Parley document (every optional key filled in), or ValidationError."""
    raw = parse_json(data)
    if not isinstance(raw, dict):
        raise document_error("The file must hold one JSON object.")
    if "component_type" in raw and "provider" in raw:
        raise document_error("This is an AutoGen Studio component, not a Parley crew file; import it as AutoGen Studio JSON.")
    if raw.get("format") != expected:
        raise document_error(f"This is not a Parley {expected.split('.')[-1]} file (its “format” should be “{expected}”).")
    if raw.get("version") != FORMAT_VERSION:
        raise document_error(f"Parley reads version {FORMAT_VERSION} of this format; the file says {raw.get('version')!r}.")
    r = _Reader()
    raw_models = raw.get("models", [])
    raw_agents = raw.get("agents", []) if expected == CREW_FORMAT else [raw.get("agent")]
    if not isinstance(raw_models, list) or not isinstance(raw_agents, list):
        raise document_error("“models” and “agents” must be lists.")
    models = [_model(r, m, f"model {i}") for i, m in enumerate(raw_models, start=1)]
    agents = [_agent(r, a, f"agent {i}") for i, a in enumerate(raw_agents, start=1)]
    model_names = {m.get("name") for m in models}
    for label, items in (("model", models), ("agent", agents)):
        names = [item.get("name") for item in items]
        for name in sorted({n for n in names if names.count(n) > 1 and n}):
            r.errors.append(f"Two {label}s in the file are named {name!r}.")
    for agent in agents:
        if agent.get("model") is not None and agent["model"] not in model_names:
            r.errors.append(f"agent {agent.get('name')!r} uses model {agent['model']!r}, which is not in the file.")
    document: dict[str, Any] = {"format": expected, "version": FORMAT_VERSION, "models": models}
    if expected == CREW_FORMAT:
        document["crew"] = _crew(r, raw.get("crew"), {a.get("name") for a in agents}, model_names)
        document["agents"] = agents
    else:
        document["agent"] = agents[0]
    if r.errors:
        raise document_error(r.errors)
    source = raw.get("source")
    document["source"] = source if isinstance(source, dict) else {}
    return document


# ---- creating objects ----------------------------------------------------------------------------------


def _price(doc: dict[str, Any], key: str) -> Decimal | None:
    return Decimal(str(doc["price"][key])) if doc.get("price") else None


def model_fields(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "provider": doc["provider"], "model": doc["model"], "base_url": doc["base_url"] or "",
        "temperature": doc["temperature"], "max_tokens": doc["max_tokens"],
        "price_prompt_per_million": _price(doc, "prompt_per_million"),
        "price_completion_per_million": _price(doc, "completion_per_million"),
        "replay_script": doc["replay_script"],
    }


def agent_fields(doc: dict[str, Any], model: ModelEndpoint | None) -> dict[str, Any]:
    return {
        "kind": doc["kind"], "description": doc["description"], "system_message": doc["system_message"],
        "model": model, "human_input_mode": doc["human_input_mode"],
        "max_consecutive_auto_reply": doc["max_consecutive_auto_reply"],
        "termination_rule": doc["termination"]["rule"], "termination_keyword": doc["termination"]["keyword"],
        "default_auto_reply": doc["default_auto_reply"], "code_execution": doc["code_execution"]["mode"],
        "code_timeout": doc["code_execution"]["timeout"], "local_fallback": doc["code_execution"]["local_fallback"],
        "tools": [tool["source"] for tool in doc["tools"]],
    }


def crew_fields(doc: dict[str, Any], agents: dict[str, AgentDef], models: dict[str, ModelEndpoint]) -> dict[str, Any]:
    fields: dict[str, Any] = {"description": doc["description"], "tags": list(doc["tags"]), "kind": doc["kind"],
                              "task": doc["task"]}
    if doc["kind"] == CrewKind.TWO_AGENT:
        section = doc["two_agent"]
        fields.update(initiator=agents[section["initiator"]], recipient=agents[section["recipient"]],
                      max_turns=section["max_turns"])
    else:
        section = doc["group"]
        fields.update(
            initiator=agents[section["initiator"]] if section["initiator"] else None, recipient=None,
            max_round=section["max_round"], speaker_selection=section["speaker_selection"],
            allow_repeat_speaker=section["allow_repeat_speaker"], send_introductions=section["send_introductions"],
            manager_model=models.get(section["manager_model"]) if section["manager_model"] else None,
            termination_rule=section["termination"]["rule"], termination_keyword=section["termination"]["keyword"],
        )
    return fields


def group_links(doc: dict[str, Any], agents: dict[str, AgentDef]) -> tuple[list[AgentDef] | None, list | None]:
    if doc["kind"] != CrewKind.GROUP:
        return [], []
    section = doc["group"]
    members = [agents[name] for name in section["members"]]
    edges = [(agents[s], agents[t]) for s, targets in (section["transitions"] or {}).items() for t in targets]
    return members, edges


def _free_name(model: type, workspace: Workspace, base: str, identifier: bool) -> str:
    taken = set(model.objects.filter(workspace=workspace, name__startswith=base[:40]).values_list("name", flat=True))
    if base not in taken:
        return base
    n = 2
    while True:
        suffix = f"_{n}" if identifier else f" ({n})"
        candidate = base[: (64 if identifier else 100) - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
        n += 1


def _in_words(error: ValidationError, what: str) -> ValidationError:
    messages = []
    for field_name, errors in error.message_dict.items():
        label = "" if field_name == "__all__" else f"{field_name.replace('_', ' ')}: "
        messages += [f"{what}: {label}{message}" for message in errors]
    return document_error(messages)


def create_model_from_doc(workspace: Workspace, user: User | None, doc: dict[str, Any], result: ImportResult) -> ModelEndpoint:
    existing = ModelEndpoint.objects.filter(workspace=workspace, name=doc["name"]).first()
    if existing is not None and model_doc(existing) == doc:
        result.reused.append(f"Used the existing model “{existing.name}” (identical).")
        return existing
    name = _free_name(ModelEndpoint, workspace, doc["name"], identifier=False)
    if name != doc["name"]:
        result.renamed.append(f"Model “{doc['name']}” was imported as “{name}” (the name was taken).")
    try:
        model = services.create_model(workspace, user=user, require_key=False, name=name, **model_fields(doc))
    except ValidationError as exc:
        raise _in_words(exc, f"Model “{doc['name']}”") from None
    if model.needs_key:
        result.needs_key.append(model.name)
    return model


def create_agent_from_doc(workspace: Workspace, user: User | None, doc: dict[str, Any], models: dict[str, ModelEndpoint],
                  result: ImportResult) -> AgentDef:
    model = models.get(doc["model"]) if doc["model"] else None
    existing = AgentDef.objects.filter(workspace=workspace, name=doc["name"]).select_related("model").first()
    if existing is not None and agent_doc(existing) == {**doc, "model": model.name if model else None}:
        result.reused.append(f"Used the existing agent {existing.name} (identical).")
        return existing
    name = _free_name(AgentDef, workspace, doc["name"], identifier=True)
    if name != doc["name"]:
        result.renamed.append(f"Agent {doc['name']} was imported as {name} (the name was taken).")
    try:
        return services.save_agent(AgentDef(workspace=workspace, name=name, **agent_fields(doc, model)), user=user,
                                   summary="Imported")
    except ValidationError as exc:
        raise _in_words(exc, f"Agent {doc['name']}") from None


@transaction.atomic
def import_crew(workspace: Workspace, *, user: User | None, data: Any, dropped: list[str] | None = None,
                notes: list[str] | None = None) -> ImportResult:
    """Create the crew of a Parley crew document (bytes, text or dict) in `workspace`, with its
    agents and models. Identical agents and models already there are reused; clashing names get a
    suffix; both are reported. Keys are never in a document: models that need one are listed."""
    document = load_document(data)
    result = ImportResult(crew=None, dropped=list(dropped or []), notes=list(notes or []))  # type: ignore[arg-type]
    models = {doc["name"]: create_model_from_doc(workspace, user, doc, result) for doc in document["models"]}
    agents = {doc["name"]: create_agent_from_doc(workspace, user, doc, models, result) for doc in document["agents"]}
    crew_doc = document["crew"]
    name = _free_name(Crew, workspace, crew_doc["name"], identifier=False)
    if name != crew_doc["name"]:
        result.renamed.append(f"The crew “{crew_doc['name']}” was imported as “{name}” (the name was taken).")
    members, edges = group_links(crew_doc, agents)
    crew = Crew(workspace=workspace, name=name, **crew_fields(crew_doc, agents, models))
    try:
        result.crew = services.save_crew(crew, user=user, members=members, transitions=edges, summary="Imported")
    except ValidationError as exc:
        raise _in_words(exc, f"Crew “{crew_doc['name']}”") from None
    return result


def import_file(workspace: Workspace, *, user: User | None, data: Any) -> ImportResult:
    """Import either format: a Parley crew file or an AutoGen Studio 0.4 team (told apart by shape)."""
    raw = parse_json(data)
    if isinstance(raw, dict) and "component_type" in raw and "provider" in raw:
        from studio.crews.autogen_studio import import_autogen_studio

        return import_autogen_studio(workspace, user=user, data=raw)
    return import_crew(workspace, user=user, data=raw)


def copy_crew_to_workspace(crew: Crew, workspace: Workspace, *, user: User | None) -> ImportResult:
    """Copy a crew (e.g. from the gallery) with its agents and models into `workspace`. Keys are not
    copied: the person sets their own."""
    return import_crew(workspace, user=user, data=export_crew(crew))
