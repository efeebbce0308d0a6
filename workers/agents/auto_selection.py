""""Auto" speaker selection (spec §8.4): an LLM names the next speaker.

A nested two-agent chat runs between a checking agent, whose only reply function validates the
answer, and a NEVER-mode selector agent holding a copy of the transcript. One name accepts; several
or none requery, up to the configured attempts; then the caller falls back to round robin.
"""

from __future__ import annotations

import contextvars
import logging
import re
from typing import TYPE_CHECKING, Any, Callable, Iterable

if TYPE_CHECKING:  # pragma: no cover - imports for type hints only
    from .groupchat import GroupChat

logger = logging.getLogger(__name__)

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


def _auto_outcome(groupchat: "GroupChat", result: Any) -> Any:
    history = getattr(result, "chat_history", None) or []
    final = history[-1].get("content") if history else None
    if isinstance(final, str) and final.startswith(SELECTED_MARKER):
        chosen = groupchat.agent_by_name(final[len(SELECTED_MARKER):])
        if chosen is not None:
            return chosen
    return None  # selection failed; the pipeline falls back to round robin


def auto_select(groupchat: "GroupChat", selector: Any, messages: list[dict], candidates: list | None) -> Any:
    """The speaker the LLM named, or None when every attempt failed."""
    agents = candidates if candidates is not None else list(groupchat.agents)
    checking, chooser, chat_kwargs = _auto_setup(groupchat, selector, messages, agents)
    result = checking.initiate_chat(chooser, **chat_kwargs)
    return _auto_outcome(groupchat, result)


async def a_auto_select(groupchat: "GroupChat", selector: Any, messages: list[dict], candidates: list | None) -> Any:
    agents = candidates if candidates is not None else list(groupchat.agents)
    checking, chooser, chat_kwargs = _auto_setup(groupchat, selector, messages, agents)
    result = await checking.a_initiate_chat(chooser, **chat_kwargs)
    return _auto_outcome(groupchat, result)
