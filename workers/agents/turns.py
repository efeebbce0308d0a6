"""What one conversation step does, phase by phase (the Conversation state machine).

Phases (cursor["phase"]):
  ping-pong (no max_turns): "open" (the first message) → "reply" (the responder answers, roles
  alternate) or "group" (a group chat manager's stepper runs the group loop) → finished;
  max_turns: "initiator" (checks, then the initiator's message of turn i) ↔ "recipient" (one reply,
  or the whole group loop) until the turns are used up.
"""

from __future__ import annotations

import asyncio
import warnings
from typing import Any

from . import events, prompts


def is_group_manager(agent: Any) -> bool:
    return hasattr(agent, "make_stepper") and hasattr(agent, "groupchat")


class TurnsMixin:
    """The phases of Conversation; `_advance` runs the current one."""

    async def _advance(self, aio: bool) -> bool:
        phase = self.cursor["phase"]
        if phase == "open":
            return await self._open(aio)
        if phase == "reply":
            return await self._reply(aio)
        if phase == "group":
            return await self._group(aio)
        if phase == "initiator":
            return await self._initiator_turn(aio)
        if phase == "recipient":
            return await self._recipient_turn(aio)
        raise RuntimeError(f"unknown conversation phase {phase!r}")

    def _role(self, role: str) -> tuple[Any, Any]:
        """(agent, counterpart) for "initiator" / "recipient"."""
        if role == "initiator":
            return self.initiator, self.recipient
        return self.recipient, self.initiator

    async def _opening_message(self, aio: bool) -> Any:
        opening = self.cursor["opening"]
        if opening["raw"]:
            return opening["message"]
        if aio:
            return await self.initiator.a_generate_init_message(opening["message"], **opening["kwargs"])
        return self.initiator.generate_init_message(opening["message"], **opening["kwargs"])

    async def _deliver(self, sender: Any, message: Any, recipient: Any, aio: bool) -> None:
        if aio:
            await sender.a_send(message, recipient, request_reply=False, silent=self.silent)
        else:
            sender.send(message, recipient, request_reply=False, silent=self.silent)
        if not is_group_manager(recipient):  # group transcript entries are reported by the stepper
            events.emit(
                "message",
                sender=sender.name,
                recipient=recipient.name,
                message=sender.chat_messages[recipient][-1],
                round=self.cursor["round"],
            )
            self.cursor["round"] += 1

    async def _generate(self, agent: Any, sender: Any, aio: bool) -> Any:
        agent._stop_reason = None
        messages = agent.chat_messages[sender]
        if aio:
            return await agent.a_generate_reply(messages=messages, sender=sender)
        return agent.generate_reply(messages=messages, sender=sender)

    async def _open(self, aio: bool) -> bool:
        message = await self._opening_message(aio)
        await self._deliver(self.initiator, message, self.recipient, aio)
        self.cursor["opening"] = None
        if self.is_group:
            self._stepper = self._make_stepper()
            self.cursor["phase"] = "group"
        else:
            self.cursor["phase"] = "reply"
            self.cursor["responder"] = "recipient"
        return True

    async def _reply(self, aio: bool) -> bool:
        agent, other = self._role(self.cursor["responder"])
        if not agent.reply_at_receive[other]:
            return await self._finish("no_reply_requested", f"{agent.name!r} does not reply to {other.name!r}", aio)
        reply = await self._generate(agent, other, aio)
        if reply is None:
            return await self._finish_by(agent, aio)
        await self._deliver(agent, reply, other, aio)
        self.cursor["responder"] = "initiator" if self.cursor["responder"] == "recipient" else "recipient"
        return True

    async def _group(self, aio: bool) -> bool:
        if await self._step_stepper(aio):
            return True
        # The finished stepper is kept: its state carries the group transcript for snapshots.
        return await self._finish("group_chat", str(self._stepper.finished_reason), aio)

    async def _initiator_turn(self, aio: bool) -> bool:
        turn, initiator, recipient = self.cursor["turn"], self.initiator, self.recipient
        if turn >= self.max_turns:
            return await self._finish("max_turns", f"maximum turns ({self.max_turns}) reached", aio)
        # AG2-classic checks before each initiator turn (spec §5.2 steps 1-2).
        if initiator._consecutive_auto_reply_counter[recipient] >= recipient._max_consecutive_auto_reply:
            return await self._finish("max_auto_reply", f"maximum consecutive auto-replies reached on agent {recipient.name!r}", aio)
        history = initiator.chat_messages[recipient]
        if turn > 0 and history and history[-1].get("content") is not None and recipient._is_termination_msg(history[-1]):
            return await self._finish("termination", f"termination condition met on agent {recipient.name!r}", aio)
        if turn == 0:
            message = await self._opening_message(aio)
        else:
            message = await self._generate(initiator, recipient, aio)
        if message is None:
            return await self._finish_by(initiator, aio)
        await self._deliver(initiator, message, recipient, aio)
        self.cursor["opening"] = None
        self.cursor["phase"] = "recipient"
        if self.is_group:
            self._stepper = self._make_stepper()
        return True

    async def _recipient_turn(self, aio: bool) -> bool:
        if self.is_group:
            if await self._step_stepper(aio):
                return True  # (the finished stepper stays until the next turn makes a new one)
        else:
            reply = await self._generate(self.recipient, self.initiator, aio)
            if reply is not None:
                await self._deliver(self.recipient, reply, self.initiator, aio)
        # A None reply does not end a max_turns chat: the next turn starts (reference behaviour).
        self.cursor["turn"] += 1
        self.cursor["phase"] = "initiator"
        return True

    def _make_stepper(self) -> Any:
        opening = self.recipient.chat_messages[self.initiator][-1]
        seed = self.cursor.get("seed")
        if seed is None:
            return self.recipient.make_stepper(self.initiator, opening)
        return self.recipient.make_stepper(self.initiator, opening, seed=seed)

    async def _step_stepper(self, aio: bool) -> bool:
        if aio and hasattr(self._stepper, "a_step"):
            return bool(await self._stepper.a_step())
        return bool(self._stepper.step())

    async def _finish_by(self, agent: Any, aio: bool) -> bool:
        reason = agent._stop_reason or {"code": "no_reply", "reason": f"{agent.name!r} generated no reply"}
        return await self._finish(reason["code"], reason["reason"], aio)

    async def _finish(self, code: str, reason: str, aio: bool) -> bool:
        args = (self.summary_method, self.summary_args, self.recipient, self.cache)
        if aio:
            summary = await asyncio.to_thread(self.initiator._summarize_chat, *args)
        else:
            summary = self.initiator._summarize_chat(*args)
        self.finished = {"code": code, "reason": reason, "summary": summary}
        events.emit("finished", reason=reason, summary=summary, code=code)
        for agent in (self.initiator, self.recipient):
            agent.client_cache, agent.previous_cache = agent.previous_cache, None
        self._close_runners()
        return False


def warn_exact_terminate(initiator: Any, recipient: Any) -> None:
    """Design option §10 #1: point out the prompt/predicate mismatch; changes no outcome."""
    if is_group_manager(recipient):
        pairs = [(member, recipient) for member in recipient.groupchat.agents]
    else:
        pairs = [(initiator, recipient), (recipient, initiator)]
    for speaker, receiver in pairs:
        if getattr(speaker, "system_message", None) == prompts.ASSISTANT_SYSTEM_MESSAGE and getattr(
            receiver, "_default_termination", False
        ):
            warnings.warn(
                prompts.EXACT_TERMINATE_WARNING.format(assistant=speaker.name, receiver=receiver.name),
                UserWarning,
                stacklevel=4,
            )
