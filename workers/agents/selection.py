"""Speaker selection for group chats (spec §8.3, §8.4) and speaker-transition graphs.

The pipeline is written as plain functions over a `GroupChat` so the manager's stepper can run one
selection as one durable step. Nothing here mutates the group chat: a selection either returns a
speaker or raises, so a step interrupted by a human-input request can be re-run safely.
"""

from __future__ import annotations

import contextvars
import logging
import random
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable

if TYPE_CHECKING:  # pragma: no cover - imports for type hints only
    from .groupchat import GroupChat

logger = logging.getLogger(__name__)

VALID_SELECTION_METHODS = ("auto", "manual", "random", "round_robin")
VALID_TRANSITION_TYPES = ("allowed", "disallowed")

# Marker prefixes the checking agent writes into its history; the manager reads the outcome back.
SELECTED_MARKER = "[AGENT SELECTED]"
FAILED_MARKER = "[AGENT SELECTION FAILED]"
CHECKING_AGENT_NAME = "checking_agent"
SELECTOR_AGENT_NAME = "speaker_selection_agent"

# Parley's own wording for the selection prompts. The message template is filled with str.format
# ({roles}, {agentlist}); the prompt template gets a plain {agentlist} substitution; the requery
# templates are filled with str.format(agentlist=...).
SELECT_SPEAKER_MESSAGE_TEMPLATE = (
    "You are the moderator of a group conversation in which every participant plays a role. "
    "The roles are:\n{roles}.\n"
    "Read the conversation below, then decide which role from {agentlist} should speak next. "
    "Answer with that role's name only."
)
SELECT_SPEAKER_PROMPT_TEMPLATE = (
    "Given the conversation so far, which role from {agentlist} should speak next? "
    "Reply with the role's name and nothing else."
)
SELECT_SPEAKER_AUTO_MULTIPLE_TEMPLATE = (
    "Your answer named more than one role. Give exactly one name, decided in this order: "
    "a role the text presents as the one speaking; otherwise a role the text says should go next; "
    "otherwise the first role you named. Write the name exactly as it is listed and add no explanation."
)
SELECT_SPEAKER_AUTO_NONE_TEMPLATE = (
    "Your answer did not name any of the roles. Give exactly one name, decided in this order: "
    "a role the text presents as the one speaking; otherwise a role the text says should go next; "
    "otherwise the first role the text names. Write the name exactly as it is listed and add no "
    "explanation. The names you may use are: {agentlist}"
)


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


# --------------------------------------------------------------------------- prompt filling and parsing


def participant_roles(agents: Iterable) -> str:
    """One `name: description` line per agent (each line stripped), joined with newlines."""
    lines = []
    for agent in agents:
        description = agent.description or ""
        if description.strip() == "":
            logger.warning("Agent %r has an empty description; speaker selection may not work well.", agent.name)
        lines.append(f"{agent.name}: {description}".strip())
    return "\n".join(lines)


def agent_list_text(agents: Iterable) -> str:
    """The Python list repr of the names, e.g. "['alice', 'bob']"."""
    return repr([agent.name for agent in agents])


def select_speaker_message(template: str, agents: list) -> str:
    return template.format(roles=participant_roles(agents), agentlist=agent_list_text(agents))


def select_speaker_prompt(template: str | None, agents: list) -> str | None:
    if template is None:
        return None
    return template.replace("{agentlist}", agent_list_text(agents))


def mentioned_agents(content: Any, agents: Iterable) -> dict[str, int]:
    """Count, per agent, the mentions of its name in `content` (spec §8.4 parsing rules).

    A mention is the name, the name with "_" as a space, or with "_" escaped as "\\_"; it needs a
    non-word character on both sides (the text is padded with a space at each end). Case-sensitive.
    """
    from .messages import content_str

    if isinstance(content, dict):
        content = content.get("content")
    text = f" {content_str(content)} "
    counts: dict[str, int] = {}
    for agent in agents:
        forms = (agent.name, agent.name.replace("_", " "), agent.name.replace("_", "\\_"))
        pattern = r"(?<=\W)(?:" + "|".join(re.escape(form) for form in forms) + r")(?=\W)"
        found = len(re.findall(pattern, text))
        if found:
            counts[agent.name] = found
    return counts


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
        speaker = auto_select(groupchat, last_speaker, selector, prepared.auto_messages, prepared.candidates)
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
        speaker = await a_auto_select(groupchat, last_speaker, selector, prepared.auto_messages, prepared.candidates)
    return speaker, method


def _console_ask(prompt: str, choices: list[str]) -> str:
    return input(prompt)


# --------------------------------------------------------------------------- "auto" (§8.4)


def _auto_setup(groupchat: "GroupChat", selector: Any, messages: list[dict], candidates: list):
    """Build the checking agent, the selector agent and the opening message of the nested chat."""
    from .agent import ConversableAgent

    attempts = 1 + groupchat.max_retries_for_selecting_speaker
    progress = {"attempt": 0}

    def validate(recipient, messages=None, sender=None, config=None):
        progress["attempt"] += 1
        return _validate_reply(groupchat, messages, candidates, progress["attempt"], attempts)

    checking = ConversableAgent(CHECKING_AGENT_NAME, default_auto_reply=attempts)
    checking.register_reply([ConversableAgent, None], validate, remove_other_reply_funcs=True)

    llm_config = groupchat.select_speaker_auto_llm_config or getattr(selector, "llm_config", False)
    if llm_config is False or llm_config is None:
        raise ValueError(
            "speaker_selection_method 'auto' needs an LLM: give the GroupChatManager an llm_config "
            "or set the GroupChat's select_speaker_auto_llm_config"
        )
    chooser = ConversableAgent(
        SELECTOR_AGENT_NAME,
        system_message=select_speaker_message(groupchat.select_speaker_message_template, candidates),
        chat_messages={checking: messages},
        llm_config=llm_config,
        human_input_mode="NEVER",
    )
    if groupchat.select_speaker_auto_llm_config and groupchat.select_speaker_auto_model_client_cls:
        classes = groupchat.select_speaker_auto_model_client_cls
        for cls in classes if isinstance(classes, list) else [classes]:
            chooser.register_model_client(cls)
    transforms = groupchat.select_speaker_transform_messages
    if transforms is not None and hasattr(transforms, "add_to_agent"):
        transforms.add_to_agent(chooser)

    prompt = select_speaker_prompt(groupchat.select_speaker_prompt_template, candidates)
    if prompt is not None:
        opening: dict = {
            "content": prompt,
            "name": CHECKING_AGENT_NAME,
            "override_role": groupchat.role_for_select_speaker_messages,
        }
    else:
        # No extra prompt: the nested chat opens with the last transcript message itself.
        opening = messages[-1]
    chat_kwargs = dict(
        message=opening,
        cache=None,
        max_turns=2 * max(1, attempts),
        clear_history=False,
        silent=not groupchat.select_speaker_auto_verbose,
    )
    usage_sink = _forward_usage_to_outer_sink()
    if usage_sink is not None:
        chat_kwargs["sink"] = usage_sink
    return checking, chooser, chat_kwargs


def _forward_usage_to_outer_sink() -> Callable[[dict], None] | None:
    """A sink for the nested selection chat that passes only its LLM usage to the running conversation.

    The selector's messages are internal (never part of the transcript), but what it costs should
    still be reported.
    """
    from . import events

    if not events.active():
        return None
    outer = contextvars.copy_context()  # the running conversation's sink, as installed right now

    def forward(event: dict) -> None:
        if event.get("type") == "usage":
            fields = {k: v for k, v in event.items() if k not in ("type", "conversation_id")}
            outer.run(events.emit, "usage", **fields)

    return forward


def _validate_reply(groupchat: "GroupChat", history: list[dict], candidates: list, attempt: int, attempts: int):
    """The checking agent's only reply function: accept one name, requery, or record the failure."""
    mentions = mentioned_agents(history[-1].get("content") if history else "", candidates)
    left = attempts - attempt
    if len(mentions) == 1:
        history.append({"role": "user", "content": SELECTED_MARKER + next(iter(mentions))})
        return True, None
    cause = "it named several agents" if mentions else "it named no agent"
    if left > 0:
        template = (
            groupchat.select_speaker_auto_multiple_template if mentions else groupchat.select_speaker_auto_none_template
        )
        return True, {
            "content": template.format(agentlist=agent_list_text(candidates)),
            "name": CHECKING_AGENT_NAME,
            "override_role": groupchat.role_for_select_speaker_messages,
        }
    history.append(
        {"role": "user", "content": f"{FAILED_MARKER}Selection attempt {attempt} of {attempts} failed: {cause}."}
    )
    return True, None


def _auto_outcome(groupchat: "GroupChat", result: Any, last_speaker: Any, candidates: list | None) -> Any:
    history = getattr(result, "chat_history", None) or []
    final = history[-1].get("content") if history else None
    if isinstance(final, str) and final.startswith(SELECTED_MARKER):
        chosen = groupchat.agent_by_name(final[len(SELECTED_MARKER):])
        if chosen is not None:
            return chosen
    # Selection failed: round robin from the last speaker among the candidates.
    return next_agent(groupchat, last_speaker, candidates)


def auto_select(groupchat: "GroupChat", last_speaker: Any, selector: Any, messages: list[dict], candidates: list | None) -> Any:
    agents = candidates if candidates is not None else list(groupchat.agents)
    checking, chooser, chat_kwargs = _auto_setup(groupchat, selector, messages, agents)
    result = checking.initiate_chat(chooser, **chat_kwargs)
    return _auto_outcome(groupchat, result, last_speaker, candidates)


async def a_auto_select(
    groupchat: "GroupChat", last_speaker: Any, selector: Any, messages: list[dict], candidates: list | None
) -> Any:
    agents = candidates if candidates is not None else list(groupchat.agents)
    checking, chooser, chat_kwargs = _auto_setup(groupchat, selector, messages, agents)
    result = await checking.a_initiate_chat(chooser, **chat_kwargs)
    return _auto_outcome(groupchat, result, last_speaker, candidates)
