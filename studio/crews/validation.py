"""Validation that needs more than one field: replay scripts, tools, and whole crews.

Everything raises (or returns) plain-words messages keyed by the form field they belong to, so a
page can show them next to the field. The engine validates again when a run starts; these checks
exist so that it never has to be the first to complain.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError

from studio.crews.toolspec import ToolSourceError, parse_tool

if TYPE_CHECKING:
    from studio.crews.models import AgentDef, Crew

REPLAY_KEYS = {"replies", "rules", "when_exhausted"}


def check_replay_script(script: Any) -> str | None:
    """None when `script` is a usable replay script, else what is wrong with it."""
    if script in (None, {}):
        return None  # no script: the replay model echoes the last message
    if not isinstance(script, dict):
        return 'The replay script must be a JSON object like {"replies": ["first answer", "TERMINATE"]}.'
    unknown = sorted(set(script) - REPLAY_KEYS)
    if unknown:
        return f"The replay script has unknown keys: {', '.join(unknown)} (allowed: replies, rules, when_exhausted)."
    replies = script.get("replies", [])
    if not isinstance(replies, list):
        return "“replies” must be a list of answers."
    for index, reply in enumerate(replies, start=1):
        problem = _check_reply(reply)
        if problem:
            return f"Reply {index}: {problem}"
    rules = script.get("rules", [])
    if not isinstance(rules, list):
        return "“rules” must be a list."
    for index, rule in enumerate(rules, start=1):
        if not isinstance(rule, dict) or "reply" not in rule or (("when" in rule) == ("when_regex" in rule)):
            return f'Rule {index} must look like {{"when": "text", "reply": "..."}} or {{"when_regex": "...", "reply": "..."}}.'
        if "when_regex" in rule:
            try:
                re.compile(rule["when_regex"])
            except (re.error, TypeError) as exc:
                return f"Rule {index}: the regular expression does not compile ({exc})."
        elif not isinstance(rule["when"], str):
            return f"Rule {index}: “when” must be text."
        problem = _check_reply(rule["reply"])
        if problem:
            return f"Rule {index}: {problem}"
    if script.get("when_exhausted", "repeat_last") not in ("repeat_last", "cycle"):
        return "“when_exhausted” must be repeat_last or cycle."
    return None


def _check_reply(reply: Any) -> str | None:
    if isinstance(reply, str):
        return None
    if isinstance(reply, dict) and ("content" in reply or "tool_calls" in reply):
        for call in reply.get("tool_calls") or []:
            name = call.get("name") if isinstance(call, dict) else None
            if not name and isinstance(call, dict):
                name = (call.get("function") or {}).get("name")
            if not isinstance(name, str) or not name:
                return "every tool call needs a name."
        return None
    return "an answer must be text or an object with content and/or tool_calls."


def check_tools(tools: Any) -> str | None:
    """None when every tool source parses into a tool with a distinct name."""
    if tools in (None, []):
        return None
    if not isinstance(tools, list) or not all(isinstance(t, str) for t in tools):
        return "Tools must be a list of Python function sources."
    seen: set[str] = set()
    for index, source in enumerate(tools, start=1):
        try:
            spec = parse_tool(source)
        except ToolSourceError as exc:
            return f"Tool {index}: {exc}"
        if spec.name in seen:
            return f"Two tools are named {spec.name}; tool names must differ."
        seen.add(spec.name)
    return None


def tool_names(agent: "AgentDef") -> list[str]:
    return [parse_tool(source).name for source in agent.tools or []]


# ---- whole crews ------------------------------------------------------------------------------------


def crew_problems(crew: "Crew", members: list["AgentDef"] | None = None,
                  edges: list[tuple[int, int]] | None = None) -> dict[str, list[str]]:
    """Every rule a crew breaks, as {field: [messages]}; empty when it can run.

    `members` (in order) and `edges` ((source_id, target_id) pairs) default to what is saved, so
    services can check a change before writing it.
    """
    from studio.crews.models import CrewKind, SpeakerSelection

    problems: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        problems.setdefault(field, []).append(message)

    if members is None:
        members = crew.ordered_members() if crew.pk else []
    if edges is None:
        edges = list(crew.transitions.values_list("source_id", "target_id")) if crew.pk else []

    if crew.kind == CrewKind.TWO_AGENT:
        if crew.initiator is None:
            add("initiator", "Choose the agent that starts the chat.")
        if crew.recipient is None:
            add("recipient", "Choose the agent that answers.")
        if crew.initiator is not None and crew.initiator_id == crew.recipient_id:
            add("recipient", "The initiator and the recipient must be two different agents.")
        participants = [a for a in (crew.initiator, crew.recipient) if a is not None]
    else:
        if len(members) < 2:
            add("members", f"A group chat needs at least two members (it has {len(members)}).")
        initiator = crew.initiator or (members[0] if members else None)
        participants = list(members) + ([initiator] if initiator is not None and initiator not in members else [])
        if crew.speaker_selection == SpeakerSelection.AUTO and crew.manager_model_id is None:
            add("manager_model", "Automatic speaker selection needs a model for the chat manager to choose with.")
        if crew.speaker_selection == SpeakerSelection.MANUAL and not any(m.takes_human_input for m in members):
            add("speaker_selection", "Manual selection needs a member that takes human input "
                "(human input mode ALWAYS or TERMINATE) to pick the next speaker.")
        _check_graph(members, edges, initiator, add)

    _check_crew_tools(crew, participants, add)
    return problems


def _check_graph(members: list["AgentDef"], edges: list[tuple[int, int]], initiator: Any, add: Any) -> None:
    if not edges:
        return
    member_ids = {m.id for m in members}
    if any(s not in member_ids or t not in member_ids for s, t in edges):
        add("transitions", "A transition connects an agent that is not a member of this crew.")
        return
    if initiator is not None and initiator.id in member_ids:
        targets = {t for s, t in edges if s == initiator.id and t != initiator.id}
        if not targets:
            add("transitions", f"The transitions strand the initiator: nobody may speak after {initiator.name}, "
                "so the chat would end after the opening message. Add a transition from it.")


def crew_warnings(crew: "Crew") -> list[str]:
    """Things that are allowed but probably not meant (shown beside the crew, never blocking)."""
    if crew.kind != "group" or not crew.pk:
        return []
    members = crew.ordered_members()
    edges = list(crew.transitions.values_list("source_id", "target_id"))
    initiator = crew.initiator or (members[0] if members else None)
    if not edges or initiator is None:
        return []
    reachable, frontier = {initiator.id}, [initiator.id]
    while frontier:
        current = frontier.pop()
        for source, target in edges:
            if source == current and target not in reachable:
                reachable.add(target)
                frontier.append(target)
    unreachable = sorted(m.name for m in members if m.id not in reachable)
    if not unreachable:
        return []
    return [f"No chain of transitions from {initiator.name} reaches {', '.join(unreachable)}; they will never speak."]


def _check_crew_tools(crew: "Crew", participants: list["AgentDef"], add: Any) -> None:
    owners: dict[str, tuple[str, str]] = {}
    for agent in participants:
        if not agent.tools:
            continue
        executors = [other for other in participants if other.id != agent.id and other.runs_code]
        if not executors:
            add("members", f"The tools of {agent.name} run in the code sandbox of another agent of the crew, "
                "but no other agent has code execution on.")
        for source in agent.tools:
            try:
                name = parse_tool(source).name
            except ToolSourceError:
                continue  # reported on the agent itself
            previous = owners.get(name)
            if previous is not None and previous[1] != source:
                add("members", f"{previous[0]} and {agent.name} both define a different tool named {name}.")
            owners.setdefault(name, (agent.name, source))


def raise_crew_problems(crew: "Crew", **kwargs: Any) -> None:
    problems = crew_problems(crew, **kwargs)
    if problems:
        raise ValidationError(problems)
