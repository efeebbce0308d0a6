"""GroupChat and GroupChatManager (spec §8).

`GroupChat` holds the members, the shared transcript and the selection settings. The manager is a
ConversableAgent whose first reply function runs the group loop; the loop itself lives in
`group_loop.GroupChatStepper` so that `Conversation` can drive it one durable step at a time.
"""

from __future__ import annotations

import copy
import json
import logging
import random
import sys
import warnings
from dataclasses import dataclass, field, fields
from typing import Any, Callable

from . import auto_selection, selection
from .agent import Agent, ConversableAgent
from .group_loop import GroupChatStepper, asker_for
from .prompts import GROUP_CHAT_MANAGER_SYSTEM_MESSAGE
from .selection import NoEligibleSpeakerError

__all__ = ["GroupChat", "GroupChatManager", "GroupChatStepper", "NoEligibleSpeakerError"]

logger = logging.getLogger(__name__)

INTRODUCTION_GREETING = (
    "Welcome, everyone. This group has been put together to work through the task at hand. "
    "Here is who is taking part:"
)


@dataclass
class GroupChat:
    """The members, the shared transcript and the speaker-selection settings of a group chat (§8.1)."""

    agents: list
    messages: list = field(default_factory=list)
    max_round: int = 10
    admin_name: str = "Admin"
    func_call_filter: bool = True
    speaker_selection_method: str | Callable = "auto"
    max_retries_for_selecting_speaker: int = 2
    allow_repeat_speaker: bool | list | None = None
    allowed_or_disallowed_speaker_transitions: dict | None = None
    speaker_transitions_type: str | None = None
    enable_clear_history: bool = False
    send_introductions: bool = False
    select_speaker_message_template: str = auto_selection.SELECT_SPEAKER_MESSAGE_TEMPLATE
    select_speaker_prompt_template: str | None = auto_selection.SELECT_SPEAKER_PROMPT_TEMPLATE
    select_speaker_auto_multiple_template: str = auto_selection.SELECT_SPEAKER_AUTO_MULTIPLE_TEMPLATE
    select_speaker_auto_none_template: str = auto_selection.SELECT_SPEAKER_AUTO_NONE_TEMPLATE
    select_speaker_transform_messages: Any = None
    select_speaker_auto_verbose: bool | None = False
    select_speaker_auto_model_client_cls: Any = None
    select_speaker_auto_llm_config: dict | bool | None = None
    role_for_select_speaker_messages: str | None = "system"

    allowed_speaker_transitions_dict: dict = field(init=False, repr=False)

    DEFAULT_INTRO_MSG = INTRODUCTION_GREETING

    def __post_init__(self) -> None:
        if not isinstance(self.agents, list):
            raise ValueError(f"GroupChat agents must be a list of agents, got {type(self.agents).__name__}")
        names = [agent.name for agent in self.agents]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"GroupChat agents must have unique names; repeated: {duplicates}")
        if not isinstance(self.max_round, int) or isinstance(self.max_round, bool) or self.max_round < 1:
            raise ValueError(f"GroupChat max_round must be an int >= 1, got {self.max_round!r}")
        if self.allow_repeat_speaker is not None and not isinstance(self.allow_repeat_speaker, (bool, list)):
            raise ValueError(
                "GroupChat allow_repeat_speaker must be a bool, a list of agents or None, "
                f"got {type(self.allow_repeat_speaker).__name__}"
            )
        retries = self.max_retries_for_selecting_speaker
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
            raise ValueError(f"GroupChat max_retries_for_selecting_speaker must be an int >= 0, got {retries!r}")
        if not isinstance(self.select_speaker_auto_verbose, bool):
            raise ValueError(
                f"GroupChat select_speaker_auto_verbose must be a bool, got {self.select_speaker_auto_verbose!r}"
            )
        self._build_transitions()
        self._check_templates()

    def _build_transitions(self) -> None:
        graph = self.allowed_or_disallowed_speaker_transitions
        kind = self.speaker_transitions_type
        if kind is not None:
            if not isinstance(kind, str) or kind.lower() not in selection.VALID_TRANSITION_TYPES:
                raise ValueError(
                    f"GroupChat speaker_transitions_type must be 'allowed', 'disallowed' or None, got {kind!r}"
                )
            kind = self.speaker_transitions_type = kind.lower()
        if graph is not None and self.allow_repeat_speaker is not None:
            raise ValueError(
                "GroupChat: allow_repeat_speaker and allowed_or_disallowed_speaker_transitions cannot be combined; "
                "set one of them to None"
            )
        if graph is not None and kind is None:
            raise ValueError(
                "GroupChat speaker_transitions_type must be 'allowed' or 'disallowed' when "
                "allowed_or_disallowed_speaker_transitions is given"
            )
        if graph is None and self.allow_repeat_speaker is None:
            self.allow_repeat_speaker = True  # None means True (§8.1); with a graph it stays None
        if graph is None:
            self.allowed_speaker_transitions_dict = selection.complete_transitions(self.agents, self.allow_repeat_speaker)
        else:
            selection.check_graph_validity(graph, self.agents, warn=False)  # before inverting it
            if kind == "allowed":
                self.allowed_speaker_transitions_dict = graph
            else:
                self.allowed_speaker_transitions_dict = selection.invert_disallowed_to_allowed(graph, self.agents)
        selection.check_graph_validity(self.allowed_speaker_transitions_dict, self.agents)

    def _check_templates(self) -> None:
        for name in (
            "select_speaker_message_template",
            "select_speaker_auto_multiple_template",
            "select_speaker_auto_none_template",
            "role_for_select_speaker_messages",
        ):
            if not getattr(self, name):
                raise ValueError(f"GroupChat {name} cannot be empty or None")
        if self.select_speaker_prompt_template is not None and len(self.select_speaker_prompt_template) == 0:
            self.select_speaker_prompt_template = None

    # ----------------------------------------------------------------- members

    @property
    def agent_names(self) -> list[str]:
        return [agent.name for agent in self.agents]

    def agent_by_name(self, name: str, recursive: bool = False, raise_on_name_conflict: bool = False) -> Any:
        """The agent called `name` (searching nested group chats when `recursive`), or None."""
        agents = self.nested_agents() if recursive else self.agents
        found = [agent for agent in agents if agent.name == name]
        if raise_on_name_conflict and len(found) > 1:
            raise ValueError(f"agent_by_name: more than one agent is called {name!r}")
        return found[0] if found else None

    def nested_agents(self) -> list:
        """Every agent, including the members of group chats run by member managers."""
        agents = list(self.agents)
        for agent in self.agents:
            if isinstance(agent, GroupChatManager):
                agents.extend(agent.groupchat.nested_agents())
        return agents

    def next_agent(self, agent: Any, agents: list | None = None) -> Any:
        """Round robin: the first of `agents` after `agent` in this chat's order (wrapping)."""
        return selection.next_agent(self, agent, agents)

    # ----------------------------------------------------------------- selection

    def select_speaker_msg(self, agents: list | None = None) -> str:
        return auto_selection.select_speaker_message(self.select_speaker_message_template, self._or_all(agents))

    def select_speaker_prompt(self, agents: list | None = None) -> str | None:
        return auto_selection.select_speaker_prompt(self.select_speaker_prompt_template, self._or_all(agents))

    def _participant_roles(self, agents: list | None = None) -> str:
        return auto_selection.participant_roles(self._or_all(agents))

    def _mentioned_agents(self, message_content: Any, agents: list | None = None) -> dict[str, int]:
        return auto_selection.mentioned_agents(message_content, self._or_all(agents))

    def manual_select_speaker(self, agents: list | None = None, ask: selection.AskHuman | None = None) -> Any:
        return selection.manual_choice(self, agents, ask or selection._console_ask)

    def random_select_speaker(self, agents: list | None = None, rng: random.Random | None = None) -> Any:
        return selection.random_agent(self, agents, rng)

    def select_speaker(self, last_speaker: Any, selector: Any, rng: random.Random | None = None) -> Any:
        """Choose the next speaker (§8.3). Raises NoEligibleSpeakerError when nobody may speak."""
        speaker, _method = selection.select(self, last_speaker, selector, rng, asker_for(selector))
        return speaker

    async def a_select_speaker(self, last_speaker: Any, selector: Any, rng: random.Random | None = None) -> Any:
        speaker, _method = await selection.a_select(self, last_speaker, selector, rng, asker_for(selector))
        return speaker

    def _or_all(self, agents: list | None) -> list:
        return list(self.agents) if agents is None else agents

    # ----------------------------------------------------------------- transcript

    def introductions_msg(self, agents: list | None = None) -> str:
        return f"{self.DEFAULT_INTRO_MSG}\n\n{auto_selection.participant_roles(self._or_all(agents))}"

    def append(self, message: dict, speaker: Any) -> None:
        """Add `message` to the transcript, in place (§8.2 a): name = speaker unless role "function"."""
        if message.get("role") != "function":
            message["name"] = speaker.name
        content = message.get("content")
        if not isinstance(content, (str, list)):
            message["content"] = "" if content is None else str(content)
        self.messages.append(message)

    def reset(self) -> None:
        self.messages.clear()

    @staticmethod
    def messages_to_string(messages: list[dict]) -> str:
        return json.dumps(messages)

    @staticmethod
    def messages_from_string(text: str) -> list[dict]:
        return json.loads(text)


class GroupChatManager(ConversableAgent):
    """Runs a GroupChat: every message sent to it starts the group loop (§8.2)."""

    def __init__(
        self,
        groupchat: GroupChat,
        name: str = "chat_manager",
        max_consecutive_auto_reply: int | None = sys.maxsize,
        human_input_mode: str = "NEVER",
        system_message: str | list | None = GROUP_CHAT_MANAGER_SYSTEM_MESSAGE,
        silent: bool = False,
        **kwargs: Any,
    ) -> None:
        if not isinstance(groupchat, GroupChat):
            raise ValueError(f"GroupChatManager groupchat must be a GroupChat, got {type(groupchat).__name__}")
        llm_config = kwargs.get("llm_config")
        if isinstance(llm_config, dict) and (llm_config.get("functions") or llm_config.get("tools")):
            raise ValueError(
                "GroupChatManager llm_config must not contain 'functions' or 'tools': the manager never calls tools"
            )
        super().__init__(
            name=name,
            max_consecutive_auto_reply=max_consecutive_auto_reply,
            human_input_mode=human_input_mode,
            system_message=system_message,
            **kwargs,
        )
        self._groupchat = groupchat
        # The loop works on a copy taken now (§8.2): later scalar edits to `groupchat` are not seen,
        # while its lists (messages, agents) stay shared.
        self._loop_groupchat = copy.copy(groupchat)
        self._last_speaker: Any = None
        self._silent = silent
        # Registered sync first, then async at position 0: the async twin ends up in front of it.
        self.register_reply(Agent, GroupChatManager.run_chat, config=groupchat, reset_config=GroupChat.reset)
        self.register_reply(
            Agent,
            GroupChatManager.a_run_chat,
            config=groupchat,
            reset_config=GroupChat.reset,
            ignore_async_in_sync_chat=True,
        )

    @property
    def groupchat(self) -> GroupChat:
        return self._groupchat

    @property
    def last_speaker(self) -> Any:
        """The agent whose message the loop handled last."""
        return self._last_speaker

    def chat_messages_for_summary(self, agent: Any) -> list[dict]:
        """A manager summarises the whole transcript, not its history with one agent."""
        return self._groupchat.messages

    def _prepare_chat(self, recipient: Any, clear_history: bool, prepare_recipient: bool = True, reply_at_receive: bool = True) -> None:
        """Besides the pair, clear the transcript (when asked) and prepare every member against the manager."""
        super()._prepare_chat(recipient, clear_history, prepare_recipient, reply_at_receive)
        if clear_history:
            self._groupchat.reset()
        for agent in self._groupchat.agents:
            if (agent is not recipient or prepare_recipient) and isinstance(agent, ConversableAgent):
                agent._prepare_chat(self, clear_history, False, reply_at_receive)

    # ----------------------------------------------------------------- the loop

    def make_stepper(self, initiator: Any, message: dict | str | None = None, seed: int | None = None) -> GroupChatStepper:
        """A stepper for the loop that starts with `message` from `initiator`.

        `message` defaults to the manager's last message from the initiator (the dict the loop
        appends to the transcript, as `run_chat` does). `seed` seeds "random" selection; without it
        the seed is drawn from the `random` module, so `random.seed(...)` makes runs reproducible.
        """
        if message is None or isinstance(message, str):
            stored = self.last_message(initiator) if self.chat_messages.get(initiator) else None
            if stored is None or (isinstance(message, str) and stored.get("content") != message):
                if message is None:
                    raise ValueError(f"make_stepper: no message from {initiator.name!r} to start the group chat with")
                stored = {"content": message, "role": "user", "name": initiator.name}
            message = stored
        self._warn_at_chat_start(initiator)
        return GroupChatStepper(self, self._loop_groupchat, initiator, message, seed=seed)

    def _warn_at_chat_start(self, initiator: Any) -> None:
        """Diagnostics only (spec §10 #9, #13); they change no outcome."""
        loop_copy = self._loop_groupchat
        edited = [
            f.name
            for f in fields(GroupChat)
            if f.name not in ("agents", "messages") and getattr(self._groupchat, f.name) is not getattr(loop_copy, f.name)
            and getattr(self._groupchat, f.name) != getattr(loop_copy, f.name)
        ]
        if edited:
            warnings.warn(
                f"GroupChat {', '.join(edited)} changed after {self.name!r} was built; the manager keeps using the "
                "values it was built with",
                UserWarning,
                stacklevel=3,
            )
        if initiator not in loop_copy.agents:
            warnings.warn(
                f"{initiator.name!r} starts the group chat but is not one of its agents, so it will not see the "
                "other agents' messages",
                UserWarning,
                stacklevel=3,
            )

    def run_chat(self, messages: list[dict] | None = None, sender: Any = None, config: Any = None) -> tuple[bool, None]:
        """The manager's reply function: run the whole loop; the manager itself never answers."""
        if messages is None:
            messages = self.chat_messages[sender]
        stepper = self.make_stepper(sender, messages[-1])
        while stepper.step():
            pass
        return True, None

    async def a_run_chat(self, messages: list[dict] | None = None, sender: Any = None, config: Any = None) -> tuple[bool, None]:
        if messages is None:
            messages = self.chat_messages[sender]
        stepper = self.make_stepper(sender, messages[-1])
        while await stepper.a_step():
            pass
        return True, None

    # ----------------------------------------------------------------- resume (§8.5)

    def resume(
        self,
        messages: list[dict] | str,
        remove_termination_string: str | Callable[[str], str] | None = None,
        silent: bool | None = False,
    ) -> tuple[Any, dict]:
        """Reload a transcript so the chat can continue; returns (last agent, last message)."""
        if isinstance(messages, str):
            messages = self.messages_from_string(messages)
        elif isinstance(messages, list) and all(isinstance(item, dict) for item in messages):
            messages = copy.deepcopy(messages)
        else:
            raise ValueError("resume: messages must be a JSON string or a list of message dicts")
        groupchat = self._groupchat

        for agent in groupchat.agents:
            if isinstance(agent, ConversableAgent):
                agent.clear_history()
        self.clear_history()
        groupchat.reset()
        self._check_resume_messages(messages)

        last_name, last_message = self.name, messages[-1]
        for index, message in enumerate(messages):
            if "name" in message:
                speaker = groupchat.agent_by_name(message["name"])
            else:
                # No name: the messages came from a ChatResult, not the transcript; the manager spoke.
                speaker = self
                message["name"] = self.name
            if speaker is None and message["name"] == self.name:
                speaker = self
            if index != len(messages) - 1:
                for agent in groupchat.agents:
                    if agent.name == message["name"]:
                        agent.send(message, self, request_reply=False, silent=True)
                    else:
                        self.send(message, agent, request_reply=False, silent=True)
                if speaker is not None:
                    groupchat.append(message, speaker)
                else:
                    groupchat.messages.append(message)
            last_name, last_message = message["name"], message

        last_agent = groupchat.agent_by_name(last_name)
        if last_agent is None and last_name in (groupchat.admin_name, self.name):
            last_agent = self
        self._strip_termination(remove_termination_string, messages)
        if not silent:
            print(f"Prepared group chat with {len(messages)} messages; the last speaker is {last_name}.", flush=True)
        # Resuming must not greet the team again; the loop reads its own copy, so update both.
        groupchat.send_introductions = False
        self._loop_groupchat.send_introductions = False
        return last_agent, last_message

    async def a_resume(
        self,
        messages: list[dict] | str,
        remove_termination_string: str | Callable[[str], str] | None = None,
        silent: bool | None = False,
    ) -> tuple[Any, dict]:
        return self.resume(messages, remove_termination_string, silent)

    def _check_resume_messages(self, messages: list[dict]) -> None:
        if not messages:
            raise ValueError("resume: messages is empty; start a new chat with initiate_chat instead")
        allowed = {self._groupchat.admin_name, self.name}
        for message in messages:
            name = message.get("name")
            if name and self._groupchat.agent_by_name(name) is None and name not in allowed:
                raise ValueError(f"resume: messages name {name!r}, which is not an agent of the group chat")

    def _strip_termination(self, remove: str | Callable[[str], str] | None, messages: list[dict]) -> None:
        last = messages[-1]
        if isinstance(remove, str):
            text = remove
            remove = lambda content: content.replace(text, "")  # noqa: E731 - a tiny closure reads best here
        if remove and last.get("content"):
            last["content"] = remove(last["content"])
        if self._is_termination_msg(last):
            logger.warning("resume: the last message still meets the manager's termination condition")

    @staticmethod
    def messages_to_string(messages: list[dict]) -> str:
        return json.dumps(messages)

    @staticmethod
    def messages_from_string(text: str) -> list[dict]:
        return json.loads(text)

    def clear_agents_history(self, reply: dict, groupchat: GroupChat) -> str:
        from .group_loop import clear_agents_history

        return clear_agents_history(reply, groupchat)
