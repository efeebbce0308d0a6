"""Speaker selection for group chats (spec §8.3) and speaker-transition graphs; "auto" is in auto_selection.py.

The pipeline is written as plain functions over a `GroupChat` so the manager's stepper can run one
selection as one durable step. Nothing here mutates the group chat: a selection either returns a
speaker or raises, so a step interrupted by a human-input request can be re-run safely.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from .auto_selection import a_auto_select, auto_select

if TYPE_CHECKING:  # pragma: no cover - imports for type hints only
    from .groupchat import GroupChat

logger = logging.getLogger(__name__)

VALID_SELECTION_METHODS = ("auto", "manual", "random", "round_robin")
VALID_TRANSITION_TYPES = ("allowed", "disallowed")

class NoEligibleSpeakerError(Exception):
    """No speaker may follow: the group chat ends gracefully ("no next speaker")."""


# --------------------------------------------------------------------------- transition graphs


def invert_disallowed_to_allowed(disallowed: dict, agents: list) -> dict:
    """Turn a disallowed-transitions graph into the allowed one (complete graph, self loops included)."""
    allowed = {agent: list(agents) for agent in agents}
    for source, targets in disallowed.items():
        allowed[source] = [agent for agent in allowed.get(source, []) if agent not in targets]
    return allowed


def complete_transitions(agents: list, allow_repeat_speaker: bool | list | None) -> dict:
    """The graph used without an explicit one: everyone may follow everyone; self loops per the repeat rule."""
    graph = {agent: [other for other in agents if other is not agent] for agent in agents}
    if allow_repeat_speaker is None or allow_repeat_speaker is True:
        for agent in agents:
            graph[agent].append(agent)
    elif isinstance(allow_repeat_speaker, list):
        for agent in allow_repeat_speaker:
            if agent in graph:
                graph[agent].append(agent)
    return graph


def check_graph_validity(
    graph: Any, agents: list, argument: str = "allowed_or_disallowed_speaker_transitions", warn: bool = True
) -> None:
    """Raise ValueError (naming `argument`) for a malformed graph; warn about isolated or repeated agents."""
    from .agent import Agent

    if not isinstance(graph, dict):
        raise ValueError(f"{argument} must be a dict mapping an agent to a list of agents, got {type(graph).__name__}")
    for source, targets in graph.items():
        if not isinstance(targets, list):
            raise ValueError(f"{argument}: the value for {_label(source)} must be a list of agents, got {type(targets).__name__}")
        if source not in agents:
            raise ValueError(f"{argument}: key {_label(source)} is not an agent of this group chat")
        for target in targets:
            if not isinstance(target, Agent):
                raise ValueError(f"{argument}: {_label(source)} lists {target!r}, which is not an agent")
            if target not in agents:
                raise ValueError(f"{argument}: {_label(source)} lists {_label(target)}, which is not an agent of this group chat")
    if not warn:
        return

    has_outgoing = [source for source, targets in graph.items() if targets]
    has_incoming = [target for targets in graph.values() for target in targets]
    isolated = [agent for agent in agents if agent not in has_outgoing and agent not in has_incoming]
    if isolated:
        logger.warning("%s: agents with no transition in or out: %s", argument, [_label(a) for a in isolated])
    for source, targets in graph.items():
        repeated = sorted({_label(t) for t in targets if targets.count(t) > 1})
        if repeated:
            logger.warning("%s: %s lists %s more than once", argument, _label(source), repeated)


def _label(agent: Any) -> str:
    return repr(getattr(agent, "name", agent))


# --------------------------------------------------------------------------- the pipeline


@dataclass
class Prepared:
    """The outcome of §8.3 steps 1-5: a speaker already chosen, or the candidates for step 6."""

    speaker: Any = None  # an Agent when the choice is made
    candidates: list | None = None  # None = every agent of the group chat
    method: str = ""  # the method name used for step 6 (lower-case), or "callable"
    auto_messages: list | None = None  # the transcript copy for "auto"


def prepare(groupchat: "GroupChat", last_speaker: Any) -> Prepared:
    """§8.3 steps 1-5. Raises NoEligibleSpeakerError when the chat must end, ValueError when misconfigured."""
    from .agent import Agent

    method = groupchat.speaker_selection_method
    if callable(method):
        chosen = method(last_speaker, groupchat)
        if chosen is None:
            raise NoEligibleSpeakerError("the speaker selection function returned None")
        if isinstance(chosen, Agent):
            if chosen not in groupchat.agents:
                raise ValueError(
                    f"speaker_selection_method returned agent {chosen.name!r}, which is not in the group chat"
                )
            return Prepared(speaker=chosen, candidates=list(groupchat.agents), method="callable")
        if not isinstance(chosen, str):
            raise ValueError(
                "speaker_selection_method must return an Agent, a method name or None, "
                f"got {type(chosen).__name__}"
            )
        method = chosen

    if not isinstance(method, str) or method.lower() not in VALID_SELECTION_METHODS:
        raise ValueError(
            f"speaker_selection_method {method!r} is not supported; use one of {list(VALID_SELECTION_METHODS)} "
            "or a callable"
        )
    method = method.lower()

    repeat = groupchat.allow_repeat_speaker
    allow_repeat = repeat if repeat is None or isinstance(repeat, bool) else last_speaker in repeat

    agents = list(groupchat.agents)
    if len(agents) < 2:
        raise ValueError(
            f"GroupChat agents: a group chat needs at least 2 agents, it has {len(agents)}; "
            "use a two-agent chat instead"
        )
    if len(agents) == 2 and method != "round_robin" and allow_repeat:
        logger.warning(
            "A group chat of two agents with repeats allowed: consider round_robin or allow_repeat_speaker=False."
        )

    last = groupchat.messages[-1] if groupchat.messages else None
    if groupchat.func_call_filter and last and ("function_call" in last or "tool_calls" in last):
        names = _called_function_names(last)
        agents = [agent for agent in groupchat.agents if _can_execute(agent, names)]
        if len(agents) == 1:
            return Prepared(speaker=agents[0], candidates=agents, method=method)
        if not agents:
            agents = [agent for agent in groupchat.agents if getattr(agent, "function_map", None)]
            if len(agents) == 1:
                return Prepared(speaker=agents[0], candidates=agents, method=method)
            if not agents:
                raise ValueError(
                    f"no agent can execute the function {', '.join(names)}; check the agents' function_map"
                )

    if allow_repeat is False:
        agents = [agent for agent in agents if agent is not last_speaker]

    graph = groupchat.allowed_speaker_transitions_dict
    in_group = last_speaker in groupchat.agents
    if last_speaker not in graph:
        if in_group:
            # A member without outgoing transitions is a sink: nobody may follow it.
            raise NoEligibleSpeakerError(f"{last_speaker.name!r} has no allowed transitions")
        eligible: list = []
    else:
        # Candidates keep the group's order (manual numbering and the LLM's list depend on it).
        targets = graph[last_speaker]
        eligible = [agent for agent in agents if agent in targets]

    if len(eligible) == 1:
        return Prepared(speaker=eligible[0], candidates=eligible, method=method)
    candidates = eligible or None  # nothing left: drop the filter, every agent is a candidate again

    prepared = Prepared(candidates=candidates, method=method)
    if method == "auto":
        prepared.auto_messages = _selector_transcript(groupchat.messages)
    return prepared


def _called_function_names(message: dict) -> list[str]:
    names: list[str] = []
    if "function_call" in message and message["function_call"]:
        names.append(message["function_call"]["name"])
    for call in message.get("tool_calls") or []:
        if call.get("type") == "function":
            names.append(call["function"]["name"])
    return names


def _can_execute(agent: Any, names: list[str]) -> bool:
    can = getattr(agent, "can_execute_function", None)
    if callable(can):
        return bool(can(names))
    function_map = getattr(agent, "function_map", None) or {}
    return all(name in function_map for name in names)


def _selector_transcript(messages: list[dict]) -> list[dict]:
    """A copy of the transcript for the selector; a trailing tool/function call is blanked (no dangling call)."""
    copied = [dict(message) for message in messages]
    if copied:
        last = copied[-1]
        for key in ("function_call", "tool_calls"):
            if last.get(key):
                del last[key]
    return copied


def next_agent(groupchat: "GroupChat", agent: Any, candidates: list | None = None) -> Any:
    """Round robin: the first candidate after `agent` in the group's order (wrapping); a non-member starts at 0."""
    agents = groupchat.agents
    if candidates is None:
        candidates = agents
    if any(candidate not in agents for candidate in candidates):
        raise ValueError("next_agent: the candidate agents must all belong to the group chat")
    names = [a.name for a in agents]
    start = names.index(agent.name) + 1 if agent is not None and agent.name in names else 0
    for offset in range(len(agents)):
        probe = agents[(start + offset) % len(agents)]
        if probe in candidates:
            return probe
    raise ValueError("next_agent: no candidate agent could follow")


def random_agent(groupchat: "GroupChat", candidates: list | None, rng: random.Random | None) -> Any:
    agents = candidates if candidates is not None else groupchat.agents
    return (rng or random).choice(agents)


AskHuman = Callable[[str, list[str]], str]
MANUAL_MAX_ANSWERS = 2


def manual_choice(groupchat: "GroupChat", candidates: list | None, ask: AskHuman) -> Any:
    """Ask for a number; at most two answers are read. Returns None for "no choice"."""
    agents = candidates if candidates is not None else groupchat.agents
    names = [agent.name for agent in agents]
    listing = "\n".join(f"{number}: {name}" for number, name in enumerate(names, start=1))
    prompt = (
        f"Choose who speaks next:\n{listing}\n"
        "Type the number of the next speaker (leave it empty or type q to skip):"
    )
    for _ in range(MANUAL_MAX_ANSWERS):
        answer = ask(prompt, names)
        if answer == "" or answer == "q":
            return None
        try:
            number = int(answer)
        except (TypeError, ValueError):
            number = 0
        if 1 <= number <= len(agents):
            return agents[number - 1]
        prompt = f"{answer!r} is not a number from 1 to {len(agents)}.\n" + prompt
    return None


def _select_without_llm(
    groupchat: "GroupChat", last_speaker: Any, rng: random.Random | None, ask: AskHuman | None
) -> tuple[Any, str, Prepared]:
    """Everything but "auto": returns (speaker or None when the auto path must decide, method, prepared)."""
    prepared = prepare(groupchat, last_speaker)
    if prepared.speaker is not None:
        return prepared.speaker, prepared.method, prepared
    method, candidates = prepared.method, prepared.candidates
    if method == "round_robin":
        return next_agent(groupchat, last_speaker, candidates), method, prepared
    if method == "random":
        return random_agent(groupchat, candidates, rng), method, prepared
    if method == "manual":
        chosen = manual_choice(groupchat, candidates, ask or _console_ask)
        if chosen is not None:
            return chosen, method, prepared
    # No manual choice: the reference compares the configured method case-sensitively, so "Manual"
    # (or a callable that returned "manual") falls through to auto selection.
    if groupchat.speaker_selection_method == "manual":
        return next_agent(groupchat, last_speaker), method, prepared
    if prepared.auto_messages is None:
        prepared.auto_messages = _selector_transcript(groupchat.messages)
    return None, "auto", prepared


def select(
    groupchat: "GroupChat",
    last_speaker: Any,
    selector: Any,
    rng: random.Random | None = None,
    ask: AskHuman | None = None,
) -> tuple[Any, str]:
    """Run the full §8.3 pipeline. Returns (speaker, method used)."""
    speaker, method, prepared = _select_without_llm(groupchat, last_speaker, rng, ask)
    if speaker is None:
        speaker = auto_select(groupchat, selector, prepared.auto_messages, prepared.candidates)
        if speaker is None:  # every attempt failed: round robin from the last speaker among the candidates
            speaker = next_agent(groupchat, last_speaker, prepared.candidates)
    return speaker, method


async def a_select(
    groupchat: "GroupChat",
    last_speaker: Any,
    selector: Any,
    rng: random.Random | None = None,
    ask: AskHuman | None = None,
) -> tuple[Any, str]:
    """Async twin of `select`: "auto" runs its nested chat asynchronously."""
    speaker, method, prepared = _select_without_llm(groupchat, last_speaker, rng, ask)
    if speaker is None:
        speaker = await a_auto_select(groupchat, selector, prepared.auto_messages, prepared.candidates)
        if speaker is None:
            speaker = next_agent(groupchat, last_speaker, prepared.candidates)
    return speaker, method


def _console_ask(prompt: str, choices: list[str]) -> str:
    return input(prompt)


