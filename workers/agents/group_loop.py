"""The group chat loop (spec §8.2) as a resumable stepper.

One round is split into two durable steps: "select" (speaker selection, which may call an LLM or
ask a human) and "reply" (the speaker's generate_reply, its send to the manager, then the append /
broadcast / termination checks of §8.2 a-d). A snapshot taken between steps therefore never repeats
an LLM selection. The first step ("start") sends the introductions and handles the opening message.
"""

from __future__ import annotations

import logging
import random
from typing import TYPE_CHECKING, Any

from . import selection
from .asyncutil import drive
from .messages import copy_messages
from .selection import NoEligibleSpeakerError

if TYPE_CHECKING:  # pragma: no cover - imports for type hints only
    from .groupchat import GroupChat, GroupChatManager

logger = logging.getLogger(__name__)

# Why the loop ended (wording is ours; the four cases are the spec's).
MANAGER_TERMINATION = "manager termination"
MAX_ROUNDS = "max rounds"
NO_NEXT_SPEAKER = "no next speaker"
NO_REPLY = "no reply generated"

START, SELECT, REPLY, DONE = "start", "select", "reply", "done"
STATE_VERSION = 1


def _emit(event_type: str, **fields: Any) -> None:
    """Send an event to the current sink, if the events module and a sink are there."""
    try:
        from .events import emit
    except ImportError:  # the events module is optional for a bare engine
        return
    emit(event_type, **fields)


class GroupChatStepper:
    """Runs one group chat loop a unit of work at a time; `to_state`/`from_state` make it durable."""

    def __init__(
        self,
        manager: "GroupChatManager",
        groupchat: "GroupChat",
        initiator: Any,
        message: dict,
        seed: int | None = None,
    ) -> None:
        self.manager = manager
        self.groupchat = groupchat
        self.initiator = initiator
        self.round = 0  # index of the transcript message the loop is handling (0 = the opening message)
        self.phase = START
        self.last_speaker: Any = initiator
        self.next_speaker: Any = None
        self.selection_method: str | None = None
        self.pending_message: dict | None = message
        self.finished_reason: str | None = None
        self.rng = random.Random(seed if seed is not None else random.getrandbits(64))

    @property
    def finished(self) -> bool:
        return self.phase == DONE

    # ----------------------------------------------------------------- stepping

    def step(self) -> bool:
        """Do one unit of work. Returns False once the loop has ended (see `finished_reason`)."""
        return drive(self._step(_SYNC))

    async def a_step(self) -> bool:
        """Async twin of `step`: speakers reply and messages travel through the agents' async methods."""
        return await self._step(_ASYNC)

    async def _step(self, io: "_SyncIO") -> bool:
        # Written once; the sync path feeds it only sync calls, so `drive` completes it at once.
        if self.phase == START:
            if self.groupchat.send_introductions:
                intro = self.groupchat.introductions_msg()
                for agent in self.groupchat.agents:
                    await io.send(self.manager, intro, agent, True)
            await self._take(io, self.pending_message, self.initiator)
        elif self.phase == SELECT:
            await self._select(io)
        elif self.phase == REPLY:
            await self._reply(io)
        return self.phase != DONE

    async def _select(self, io: "_SyncIO") -> None:
        rng_before = self.rng.getstate()
        try:
            speaker, method = await io.select(self.groupchat, self.last_speaker, self.manager, self.rng, self._asker())
        except NoEligibleSpeakerError:
            self._finish(NO_NEXT_SPEAKER)
            return
        except KeyboardInterrupt:
            speaker, method = self._admin_or_raise(), "admin"
        except BaseException:
            # e.g. a human-input suspension: the step is re-run later, so leave the state untouched.
            self.rng.setstate(rng_before)
            raise
        self._chosen(speaker, method)

    async def _reply(self, io: "_SyncIO") -> None:
        speaker, manager = self.next_speaker, self.manager
        try:
            reply = await io.generate_reply(speaker, manager)
        except KeyboardInterrupt:
            speaker = self._admin_or_raise()
            reply = await io.generate_reply(speaker, manager)
        if reply is None:
            self._finish(NO_REPLY)
            return
        reply = self._maybe_clear_history(reply)
        await io.send(speaker, reply, manager, manager._silent)
        self.round += 1
        self.next_speaker = None
        await self._take(io, manager.last_message(speaker), speaker)

    async def _take(self, io: "_SyncIO", message: dict, speaker: Any) -> None:
        """§8.2 a-d for one message: append, broadcast, then the termination and round checks."""
        self._record(message, speaker)
        for agent in self.groupchat.agents:
            if agent is not speaker:
                await io.send(self.manager, message, agent, True)
        self._check(message)

    # ----------------------------------------------------------------- shared pieces

    def _record(self, message: dict, speaker: Any) -> None:
        self.manager._last_speaker = speaker
        self.last_speaker = speaker
        self.pending_message = None
        self.groupchat.append(message, speaker)
        _emit("message", sender=speaker.name, recipient=self.manager.name, message=message, round=self.round)

    def _check(self, message: dict) -> None:
        if self.manager._is_termination_msg(message):
            self._finish(MANAGER_TERMINATION)
        elif self.round >= self.groupchat.max_round - 1:
            self._finish(MAX_ROUNDS)
        else:
            self.phase = SELECT

    def _chosen(self, speaker: Any, method: str) -> None:
        self.next_speaker, self.selection_method = speaker, method
        self.phase = REPLY
        # The round is the transcript index the chosen speaker's message will get.
        _emit("speaker_selected", speaker=speaker.name, method=method, round=self.round + 1)
        if not self.manager._silent:
            print(f"\nNext speaker: {speaker.name}\n", flush=True)

    def _finish(self, reason: str) -> None:
        self.phase, self.finished_reason = DONE, reason
        self.next_speaker = None

    def _admin_or_raise(self) -> Any:
        admin = self.groupchat.agent_by_name(self.groupchat.admin_name)
        if admin is None:
            raise KeyboardInterrupt
        return admin

    def _asker(self) -> selection.AskHuman | None:
        return asker_for(self.manager)

    def _maybe_clear_history(self, reply: Any) -> Any:
        if (
            self.groupchat.enable_clear_history
            and isinstance(reply, dict)
            and isinstance(reply.get("content"), str)
            and "CLEAR HISTORY" in reply["content"].upper()
        ):
            reply["content"] = clear_agents_history(reply, self.groupchat)
        return reply

    # ----------------------------------------------------------------- durability

    def to_state(self) -> dict:
        """Everything needed to continue this loop with fresh agents, as plain data.

        It is JSON-serialisable whenever the messages are (as for the agents' own state); it is
        detached from the live transcript so later steps do not change it.
        """
        version, internal, gauss = self.rng.getstate()
        pending = copy_messages([self.pending_message])[0] if self.pending_message is not None else None
        return {
            "version": STATE_VERSION,
            "round": self.round,
            "phase": self.phase,
            "initiator": _name(self.initiator),
            "last_speaker": _name(self.last_speaker),
            "next_speaker": _name(self.next_speaker),
            "selection_method": self.selection_method,
            "pending_message": pending,
            "finished_reason": self.finished_reason,
            "messages": copy_messages(self.groupchat.messages),
            "random_state": [version, list(internal), gauss],
        }

    @classmethod
    def from_state(cls, manager: "GroupChatManager", state: dict, agents_by_name: dict[str, Any]) -> "GroupChatStepper":
        """Rebuild a stepper on `manager` (built from the same configuration) from `to_state()` output."""
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            raise ValueError(f"GroupChatStepper.from_state: state is not a version {STATE_VERSION} stepper state")
        groupchat = manager._loop_groupchat

        def agent(name: str | None) -> Any:
            if name is None:
                return None
            found = agents_by_name.get(name) or groupchat.agent_by_name(name)
            if found is None and name == manager.name:
                found = manager
            if found is None:
                raise ValueError(f"GroupChatStepper.from_state: agents_by_name has no agent called {name!r}")
            return found

        stepper = cls.__new__(cls)
        stepper.manager, stepper.groupchat = manager, groupchat
        stepper.initiator = agent(state["initiator"])
        stepper.round, stepper.phase = int(state["round"]), state["phase"]
        if stepper.phase not in (START, SELECT, REPLY, DONE):
            raise ValueError(f"GroupChatStepper.from_state: unknown phase {stepper.phase!r}")
        stepper.last_speaker = agent(state["last_speaker"])
        stepper.next_speaker = agent(state["next_speaker"])
        stepper.selection_method = state.get("selection_method")
        stepper.finished_reason = state.get("finished_reason")
        stepper.rng = random.Random()
        version, internal, gauss = state["random_state"]
        stepper.rng.setstate((version, tuple(internal), gauss))
        # The transcript list is shared with the user's GroupChat: refill it in place.
        groupchat.messages[:] = copy_messages(state["messages"])
        stepper.pending_message = stepper._stored_alias(state.get("pending_message"))
        manager._last_speaker = stepper.last_speaker
        return stepper

    def _stored_alias(self, pending: dict | None) -> dict | None:
        """Re-link the pending opening message to the manager's stored copy, as in an unbroken run."""
        if pending is None:
            return None
        history = self.manager.chat_messages.get(self.initiator) or []
        if history and history[-1] == pending:
            return history[-1]
        return copy_messages([pending])[0]


def asker_for(agent: Any) -> selection.AskHuman | None:
    """How manual selection asks its human: through the manager's human-input path when it has one."""
    if agent is None:
        return None
    ask_human = getattr(agent, "_ask_human", None)
    if callable(ask_human):
        return lambda prompt, names: ask_human("manual_selection", sender=None, prompt=prompt, choices=names)
    get_input = getattr(agent, "get_human_input", None)
    if callable(get_input):
        return lambda prompt, names: get_input(prompt)
    return None


class _SyncIO:
    """The loop's calls that differ between sync and async chats (no request for replies, ever)."""

    async def send(self, sender: Any, message: Any, recipient: Any, silent: bool) -> None:
        sender.send(message, recipient, request_reply=False, silent=silent)

    async def generate_reply(self, speaker: Any, manager: Any) -> Any:
        return speaker.generate_reply(sender=manager)

    async def select(self, *args: Any) -> tuple[Any, str]:
        return selection.select(*args)


class _AsyncIO(_SyncIO):
    async def send(self, sender: Any, message: Any, recipient: Any, silent: bool) -> None:
        await sender.a_send(message, recipient, request_reply=False, silent=silent)

    async def generate_reply(self, speaker: Any, manager: Any) -> Any:
        return await speaker.a_generate_reply(sender=manager)

    async def select(self, *args: Any) -> tuple[Any, str]:
        return await selection.a_select(*args)


_SYNC, _ASYNC = _SyncIO(), _AsyncIO()


def _name(agent: Any) -> str | None:
    return None if agent is None else agent.name


def clear_agents_history(reply: dict, groupchat: "GroupChat") -> str:
    """Act on "clear history [agent] [n]" in a reply; return the reply text without the command.

    Clears every agent's history (and the transcript), or only the named agent's, keeping the last
    n messages when a count is given.
    """
    words = reply["content"].split()
    clear_at = next((i for i in reversed(range(len(words))) if words[i].upper() == "CLEAR"), None)
    if clear_at is None:  # "clear history" glued to other characters: nothing we can parse
        return reply["content"]
    keep: int | None = None
    keep_given = False
    target = None
    for word in words[clear_at + 2 : clear_at + 4]:
        if word.isdigit():
            keep, keep_given = int(word), True
        elif word[:-1].isdigit():  # a count followed by punctuation, e.g. "3."
            keep, keep_given = int(word[:-1]), True
        else:
            for agent in groupchat.agents:
                if agent.name == word or agent.name == word[:-1]:
                    target = agent
                    break
    if "tool_responses" in reply and not keep:
        # Keep the tool call this reply answers, or the history would hold a dangling result.
        keep = 1
        logger.warning("clear history inside a tool response: keeping the last message")
    if target is not None:
        target.clear_history(nr_messages_to_preserve=keep)
    else:
        if keep:
            kept = groupchat.messages[-keep:]
            groupchat.messages.clear()
            groupchat.messages.extend(kept)
        else:
            groupchat.messages.clear()
        for agent in groupchat.agents:
            agent.clear_history(nr_messages_to_preserve=keep)
    skip = 2 + int(target is not None) + int(keep_given)
    return " ".join(words[:clear_at] + words[clear_at + skip :])
