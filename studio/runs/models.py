"""Runs of crews: the frozen crew, the transcript, and the questions put to humans.

A Run freezes the crew document (docs/crew-format.md) when it starts; later edits to the crew
never reach it. The worker that holds a run (its `lease`) is the only writer of its transcript:
every step inserts the new Message rows and saves the engine snapshot in one transaction, so the
database always holds a consistent point the run can resume from.
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from django.conf import settings
from django.db import models

from studio.accounts.models import Workspace


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    AWAITING_INPUT = "awaiting_input", "Waiting for input"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.AWAITING_INPUT)
FINAL_STATUSES = (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED)


class Run(models.Model):
    public_id = models.UUIDField(default=uuid4, unique=True, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="runs")
    # The crew may be edited or deleted later; the run keeps its own frozen copy and name.
    crew = models.ForeignKey("crews.Crew", null=True, blank=True, on_delete=models.SET_NULL, related_name="runs")
    crew_name = models.CharField(max_length=150)
    crew_snapshot = models.JSONField(help_text="The crew document as it was when the run started; never changes.")
    task = models.TextField(blank=True, help_text="The task message the run started with (empty: asked of a person).")
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    # Who holds the run: a worker's claim token, refreshed by heartbeats while it runs.
    lease = models.UUIDField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True, help_text="The worker that holds or last held the run.")
    claims = models.PositiveIntegerField(default=0, help_text="Times a worker took the run up (start, continuations, recoveries).")
    recoveries = models.PositiveIntegerField(default=0, help_text="Times the run was taken over after its worker vanished.")

    last_seq = models.PositiveIntegerField(default=0, help_text="The seq of the newest Message.")
    engine_state = models.JSONField(null=True, blank=True, help_text="The engine's snapshot after the last persisted step.")
    round = models.PositiveIntegerField(default=0, help_text="Transcript position of the newest message (group: its round).")

    prompt_tokens = models.PositiveBigIntegerField(default=0)
    completion_tokens = models.PositiveBigIntegerField(default=0)
    cost = models.FloatField(default=0.0, help_text="USD.")
    usage_by_agent = models.JSONField(default=dict, blank=True)

    cancel_requested = models.BooleanField(default=False)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    finish_reason = models.CharField(max_length=300, blank=True)
    summary = models.TextField(blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["workspace", "-created_at"], name="runs_run_workspace_recent"),
            models.Index(fields=["crew", "-created_at"], name="runs_run_crew_recent"),
            models.Index(fields=["status", "heartbeat_at"], name="runs_run_status_heartbeat"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=RunStatus.values), name="runs_run_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.crew_name} run {self.public_id} ({self.status})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        update_fields = kwargs.get("update_fields")
        if self.pk is not None and (update_fields is None or "crew_snapshot" in update_fields):
            # Runs are written through queryset updates; a save() must not be a way to edit the crew.
            stored = Run.objects.filter(pk=self.pk).values_list("crew_snapshot", flat=True).first()
            if stored is not None and stored != self.crew_snapshot:
                raise ValueError("a run's crew_snapshot is frozen when the run is created and cannot change")
        super().save(*args, **kwargs)

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def max_round(self) -> int | None:
        group = (self.crew_snapshot.get("crew") or {}).get("group")
        return group.get("max_round") if group else None

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None:
            return None
        from django.utils import timezone

        return ((self.finished_at or timezone.now()) - self.started_at).total_seconds()


class MessageKind(models.TextChoices):
    TEXT = "text", "Text"
    CODE = "code", "Code"
    CODE_OUTPUT = "code_output", "Code output"
    TOOL_CALL = "tool_call", "Tool call"
    TOOL_RESULT = "tool_result", "Tool result"
    SPEAKER_SELECTION = "speaker_selection", "Speaker selection"
    SYSTEM_NOTICE = "system_notice", "System notice"


class Message(models.Model):
    """One transcript entry. `seq` counts from 1 per run, without gaps."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="messages")
    seq = models.PositiveIntegerField()
    public_id = models.UUIDField(default=uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=24, choices=MessageKind.choices, default=MessageKind.TEXT)
    sender = models.CharField(max_length=100, blank=True, help_text="Empty for Parley's own notices.")
    recipients = models.JSONField(default=list, blank=True)
    content = models.TextField(blank=True, help_text="The text view of the message.")
    payload = models.JSONField(default=dict, blank=True, help_text="The engine's message dict or event details.")
    round = models.PositiveIntegerField(null=True, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cost = models.FloatField(default=0.0)
    latency_ms = models.FloatField(null=True, blank=True)
    model = models.CharField(max_length=200, blank=True)
    # Set when the text is a person's reply (the human input that produced it).
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    from_human = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["run", "seq"], name="runs_message_unique_seq"),
            models.CheckConstraint(condition=models.Q(kind__in=MessageKind.values), name="runs_message_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.sender or 'Parley'} ({self.kind})"

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class InputMode(models.TextChoices):
    """Why a person is asked: the agent's human input mode, or manual speaker selection."""

    ALWAYS = "ALWAYS", "ALWAYS"
    TERMINATE = "TERMINATE", "TERMINATE"
    MANUAL_SELECTION = "manual_selection", "Manual speaker selection"


class PromptKind(models.TextChoices):
    """The engine's prompt kinds (workers/agents/human.py)."""

    ALWAYS = "always", "Reply or let the agent answer"
    LIMIT = "limit", "Auto-reply limit reached"
    TERMINATION = "termination", "The chat would end"
    FIRST_MESSAGE = "first_message", "The first message"
    MANUAL_SELECTION = "manual_selection", "Choose the next speaker"


class RequestStatus(models.TextChoices):
    OPEN = "open", "Open"
    ANSWERED = "answered", "Answered"
    CANCELLED = "cancelled", "Cancelled"


class ReplyAction(models.TextChoices):
    REPLY = "reply", "Reply"
    CONTINUE = "continue", "Continue"  # the console's bare Enter: let the agent auto-reply
    END = "end", "End conversation"  # the console's `exit`
    CHOOSE = "choose", "Choose speaker"
    SKIP = "skip", "Let Parley choose"  # manual selection without a choice


class HumanInputRequest(models.Model):
    """A question the engine put to a person; answered at most once (a conditional UPDATE claims it)."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="input_requests")
    public_id = models.UUIDField(default=uuid4, unique=True, editable=False)
    agent = models.CharField(max_length=100, help_text="The agent whose human is asked.")
    sender = models.CharField(max_length=100, blank=True, help_text="Whose message the human answers.")
    mode = models.CharField(max_length=24, choices=InputMode.choices)
    prompt_kind = models.CharField(max_length=24, choices=PromptKind.choices)
    prompt = models.TextField(blank=True)
    choices = models.JSONField(null=True, blank=True, help_text="Eligible speakers, for manual selection.")
    after_seq = models.PositiveIntegerField(default=0, help_text="The transcript length when the question was asked.")
    status = models.CharField(max_length=16, choices=RequestStatus.choices, default=RequestStatus.OPEN)
    action = models.CharField(max_length=16, choices=ReplyAction.choices, blank=True)
    reply = models.TextField(null=True, blank=True, help_text="The answer the engine receives.")
    replied_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    replied_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["run"], condition=models.Q(status="open"), name="runs_request_one_open_per_run"
            ),
            models.CheckConstraint(condition=models.Q(status__in=RequestStatus.values), name="runs_request_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.agent} asked in {self.run_id} ({self.status})"

    @property
    def allowed_actions(self) -> list[str]:
        """What the page offers for this prompt (the engine's rules, §4.1)."""
        if self.prompt_kind == PromptKind.MANUAL_SELECTION:
            return [ReplyAction.CHOOSE, ReplyAction.SKIP]
        if self.prompt_kind == PromptKind.FIRST_MESSAGE:
            return [ReplyAction.REPLY]
        if self.prompt_kind == PromptKind.TERMINATION:
            # An empty answer to a termination prompt ends the chat: there is no "continue".
            return [ReplyAction.REPLY, ReplyAction.END]
        return [ReplyAction.REPLY, ReplyAction.CONTINUE, ReplyAction.END]


# Read-only share links: the model lives with its service and views (studio/runs/sharing.py).
from studio.runs import sharing as _sharing  # noqa: E402

RunShare = _sharing.RunShare
