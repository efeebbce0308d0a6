"""`python manage.py run_crew "<crew or gallery crew>" --message "…"`: run a crew headless.

It goes through the same path as the studio: a Run is created from the frozen crew, and the step
loop the Celery tasks run (workers.runloop.execute) runs it here, in this process, with no broker
(eager execution of the same code). Every turn is persisted and, when a channel layer that works
across processes is configured (Redis), relayed to browsers watching the run. The transcript is
printed as it happens; questions for a person are asked on this terminal: type a reply, press
Enter to let the agent continue, or type `exit` to end the conversation.
"""

from __future__ import annotations

import socket
import sys
from typing import Any, TextIO

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q
from django.utils import timezone

from studio.runs import events, services
from studio.runs.models import HumanInputRequest, Message, ReplyAction, Run, RunStatus

END_WORDS = {"exit"}


def find_crew(name: str, workspace: str | None = None) -> Any:
    """A workspace crew named `name` (unique across workspaces unless `workspace` narrows it), else a
    gallery crew by name or slug."""
    from uuid import UUID

    from studio.accounts.models import Workspace
    from studio.crews.models import Crew, GalleryCrew

    if workspace:
        try:
            spaces = Workspace.objects.filter(public_id=UUID(workspace))
        except ValueError:
            spaces = Workspace.objects.filter(name=workspace)
        if spaces.count() != 1:
            raise CommandError(f"--workspace {workspace!r} names {spaces.count()} workspaces; give its id instead.")
        crew = Crew.objects.filter(workspace=spaces.get(), name=name).first()
        if crew is None:
            raise CommandError(f"The workspace “{spaces.get().name}” has no crew named “{name}”.")
        return crew
    gallery_spaces = GalleryCrew.objects.values_list("workspace_id", flat=True)
    mine = list(Crew.objects.filter(name=name).exclude(workspace_id__in=gallery_spaces).select_related("workspace"))
    if len(mine) == 1:
        return mine[0]
    if len(mine) > 1:
        names = ", ".join(sorted(f"“{c.workspace.name}”" for c in mine))
        raise CommandError(f"Several workspaces have a crew named “{name}” ({names}); pass --workspace.")
    entry = GalleryCrew.objects.select_related("crew").filter(Q(crew__name=name) | Q(slug=name)).first()
    if entry is not None:
        return entry.crew
    known = ", ".join(f"“{e.crew.name}”" for e in GalleryCrew.objects.select_related("crew")) or "none loaded"
    raise CommandError(f"No crew named “{name}”. Gallery crews: {known} (load them with `manage.py load_gallery`).")


class Transcript:
    """Prints the run's new messages from the database (the same rows the page shows)."""

    def __init__(self, run: Run, out: TextIO) -> None:
        self.run = run
        self.out = out
        self.last_seq = 0

    def catch_up(self) -> None:
        for message in Message.objects.filter(run=self.run, seq__gt=self.last_seq).order_by("seq"):
            self.last_seq = message.seq
            self.out.write(self.format(message))
        self.out.flush()

    @staticmethod
    def format(message: Message) -> str:
        if not message.sender:
            return f"[Parley] {message.content}\n\n"
        to = f" → {', '.join(message.recipients)}" if message.recipients else ""
        extra = f" ({message.get_kind_display().lower()})" if message.kind != "text" else ""
        return f"── #{message.seq} {message.sender}{to}{extra} ──\n{message.content}\n\n"


class Command(BaseCommand):
    help = "Run a crew (or a gallery crew) headless and print its transcript; questions are asked here."
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("crew", help="The crew's name, or a gallery crew's name or slug.")
        parser.add_argument("--message", "-m", default=None, help="The task message (default: the crew's own task).")
        parser.add_argument("--workspace", default=None, help="Look the crew up in this workspace (name or id).")
        parser.add_argument("--user", default=None, help="Record this username as the one who started the run.")

    def handle(self, *args: Any, crew: str, message: str | None, workspace: str | None, user: str | None,
               **options: Any) -> None:
        from django.contrib.auth import get_user_model

        from workers.runloop import execute

        self.input = options.get("stdin") or sys.stdin
        starter = None
        if user:
            starter = get_user_model().objects.filter(username=user).first()
            if starter is None:
                raise CommandError(f"There is no user named {user!r}.")
        found = find_crew(crew, workspace)
        try:
            run = services.start_run(found, user=starter, task=message, dispatch=False)
        except ValidationError as error:
            raise CommandError(f"The crew “{found.name}” cannot run: {' '.join(error.messages)}") from None
        self.stdout.write(f"Run {run.public_id} of “{found.name}”\n\n")
        transcript = Transcript(run, self.stdout)

        def publisher(event: dict) -> None:
            events.publish(event)  # browsers watching through a Redis layer see it too
            if event["type"] in ("run.message", "run.status"):
                transcript.catch_up()

        worker = f"run_crew@{socket.gethostname()}"
        try:
            while True:
                execute(run.public_id, worker=worker, publisher=publisher)
                run.refresh_from_db()
                transcript.catch_up()
                question = services.open_request(run)
                if question is None:
                    break
                self._answer(question, starter)
        except KeyboardInterrupt:
            self._abandon(run, starter)
            raise CommandError("Interrupted: the run was cancelled (the transcript so far is kept).") from None
        self._report(run)

    def _answer(self, question: HumanInputRequest, user: Any) -> None:
        while True:
            action, text, choice = self._ask(question)
            try:
                result = services.reply_to_request(question, user=user, action=action, text=text, choice=choice,
                                                   dispatch=False)
            except ValidationError as error:
                self.stdout.write(" ".join(error.messages) + "\n")
                continue
            if not result.accepted:
                self.stdout.write(result.message + "\n")
            return

    def _ask(self, question: HumanInputRequest) -> tuple[str, str, str | None]:
        self.stdout.write(f"{question.agent} asks you:\n{question.prompt}\n")
        self.stdout.flush()
        line = self.input.readline()
        eof = line == ""
        line = line.rstrip("\r\n")
        allowed = question.allowed_actions
        if question.prompt_kind == "manual_selection":
            choices = list(question.choices or [])
            if line.isdigit() and 1 <= int(line) <= len(choices):
                return ReplyAction.CHOOSE, "", choices[int(line) - 1]
            if line in choices:
                return ReplyAction.CHOOSE, "", line
            return ReplyAction.SKIP, "", None
        if eof or line in END_WORDS:
            if ReplyAction.END in allowed:
                return ReplyAction.END, "", None
            raise KeyboardInterrupt  # nothing to answer the first message with: stop the run
        if line == "":
            if ReplyAction.CONTINUE in allowed:
                return ReplyAction.CONTINUE, "", None
            if ReplyAction.END in allowed:  # an empty answer to a termination prompt ends the chat
                return ReplyAction.END, "", None
        return ReplyAction.REPLY, line, None

    def _abandon(self, run: Run, user: Any) -> None:
        services.cancel_run(run, user=user)
        # This process held the run: finish the cancel here instead of waiting for a recovery.
        Run.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(
            status=RunStatus.CANCELLED, lease=None, finished_at=timezone.now())

    def _report(self, run: Run) -> None:
        run.refresh_from_db()
        tokens = run.prompt_tokens + run.completion_tokens
        cost = f", ${run.cost:.4f}" if run.cost else ""
        line = f"Run {run.get_status_display().lower()}"
        if run.finish_reason:
            line += f": {run.finish_reason}"
        self.stdout.write(f"{line}. {run.last_seq} messages, {tokens} tokens{cost}.\n")
        if run.status == RunStatus.FAILED:
            raise CommandError(f"The run failed: {run.error}")
        if run.status == RunStatus.CANCELLED:
            raise CommandError("The run was cancelled.")
