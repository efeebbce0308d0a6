"""Models (LLM endpoints), agents and crews of a workspace, their versions, and the gallery.

Every object belongs to exactly one Workspace. Field-level rules live in each model's `clean()`;
rules that need the whole crew (members, transitions, tools) live in `checks.py`. Views never save
these models directly: the functions in `services.py` validate, save and record a version.
"""

from __future__ import annotations

import keyword
from uuid import uuid4

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from studio.accounts.models import Workspace
from studio.crews.choices import (
    HUMAN_CAPABLE_MODES,
    PROVIDERS_NEEDING_KEY,
    RESERVED_AGENT_NAMES,
    AgentKind,
    CodeExecution,
    CrewKind,
    HumanInputMode,
    Provider,
    SpeakerSelection,
    TerminationRule,
)
from studio.crews.fields import EncryptedSecretField, SealedSecret, seal

def _check_termination(rule: str, keyword_text: str, errors: dict[str, str], field: str = "termination_keyword") -> None:
    if rule in (TerminationRule.CONTAINS, TerminationRule.ENDS_WITH) and not keyword_text.strip():
        errors[field] = "Give the keyword that ends the chat (for example TERMINATE)."


class WorkspaceOwned(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    public_id = models.UUIDField(default=uuid4, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    def _check_unique_name(self, errors: dict[str, str], what: str) -> None:
        if not self.name or not self.workspace_id:
            return
        clash = type(self).objects.filter(workspace_id=self.workspace_id, name=self.name).exclude(pk=self.pk)
        if clash.exists():
            errors.setdefault("name", f"There is already {what} named “{self.name}” in this workspace.")


class ModelEndpoint(WorkspaceOwned):
    """An LLM endpoint: provider, model id, sampling settings, prices, and an encrypted API key."""

    name = models.CharField(max_length=100)
    provider = models.CharField(max_length=32, choices=Provider.choices, default=Provider.OPENAI)
    model = models.CharField("model id", max_length=200, blank=True)
    base_url = models.CharField(
        "base URL", max_length=500, blank=True,
        help_text="Required for OpenAI-compatible servers; optional override for OpenAI and Anthropic.",
    )
    api_key = EncryptedSecretField("API key")
    temperature = models.FloatField(null=True, blank=True)
    max_tokens = models.PositiveIntegerField(null=True, blank=True)
    price_prompt_per_million = models.DecimalField(
        "prompt price (USD per million tokens)", max_digits=12, decimal_places=4, null=True, blank=True
    )
    price_completion_per_million = models.DecimalField(
        "completion price (USD per million tokens)", max_digits=12, decimal_places=4, null=True, blank=True
    )
    replay_script = models.JSONField(
        null=True, blank=True,
        help_text='Replay models only: {"replies": [...], "rules": [{"when": "...", "reply": "..."}], '
        '"when_exhausted": "repeat_last" | "cycle"}.',
    )

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="crews_model_unique_name")]

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<ModelEndpoint {self.name!r} {self.provider}:{self.model} key={'set' if self.has_key else 'none'}>"

    # ---- the key ----------------------------------------------------------------------------------
    @property
    def has_key(self) -> bool:
        return isinstance(self.api_key, SealedSecret)

    def set_key(self, plain: str) -> None:
        """Encrypt and keep `plain` (saved with the next save())."""
        if not isinstance(plain, str) or not plain.strip():
            raise ValidationError({"api_key": "The API key is empty."})
        self.api_key = seal(plain.strip())

    def clear_key(self) -> None:
        self.api_key = None

    def reveal_key(self) -> str | None:
        """The plain key, for the engine bridge only. Never render or log it."""
        return self.api_key.reveal() if isinstance(self.api_key, SealedSecret) else None

    @property
    def needs_key(self) -> bool:
        return self.provider in PROVIDERS_NEEDING_KEY

    def clean(self) -> None:
        from studio.crews.validation import check_replay_script

        errors: dict[str, str] = {}
        self.name = (self.name or "").strip()
        if not self.name:
            errors["name"] = "Give the model a name."
        self._check_unique_name(errors, "a model")
        if self.provider not in Provider.values:
            errors["provider"] = f"Choose one of: {', '.join(Provider.labels)}."
        self.model = (self.model or "").strip()
        if not self.model and self.provider != Provider.REPLAY:
            errors["model"] = "Give the model id the provider knows, for example gpt-4o-mini."
        self.base_url = (self.base_url or "").strip()
        if self.provider == Provider.OPENAI_COMPATIBLE and not self.base_url:
            errors["base_url"] = "An OpenAI-compatible server needs its base URL, e.g. http://127.0.0.1:11434/v1."
        if self.base_url and not self.base_url.startswith(("http://", "https://")):
            errors["base_url"] = "The base URL must start with http:// or https://."
        if self.provider == Provider.REPLAY and self.base_url:
            errors["base_url"] = "Replay models run inside Parley and take no base URL."
        if self.temperature is not None and not 0 <= self.temperature <= 1:
            errors["temperature"] = "The temperature must be between 0 and 1."
        if self.max_tokens is not None and self.max_tokens < 1:
            errors["max_tokens"] = "Max tokens must be at least 1."
        for field in ("price_prompt_per_million", "price_completion_per_million"):
            value = getattr(self, field)
            if value is not None and value < 0:
                errors[field] = "A price cannot be negative."
        if self.provider == Provider.REPLAY:
            problem = check_replay_script(self.replay_script)
            if problem:
                errors["replay_script"] = problem
        elif self.replay_script:
            errors["replay_script"] = "Only Replay models take a replay script."
        if errors:
            raise ValidationError(errors)


class AgentDef(WorkspaceOwned):
    """One agent definition of the workspace's agent library; crews use agents by reference."""

    name = models.CharField(max_length=64, help_text="A Python identifier, unique in the workspace.")
    kind = models.CharField(max_length=32, choices=AgentKind.choices, default=AgentKind.ASSISTANT)
    description = models.TextField(blank=True)
    system_message = models.TextField(blank=True)
    model = models.ForeignKey(ModelEndpoint, null=True, blank=True, on_delete=models.SET_NULL, related_name="agents")
    human_input_mode = models.CharField(max_length=16, choices=HumanInputMode.choices, default=HumanInputMode.NEVER)
    max_consecutive_auto_reply = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty means the engine's default (100)."
    )
    termination_rule = models.CharField(max_length=16, choices=TerminationRule.choices, default=TerminationRule.DEFAULT)
    termination_keyword = models.CharField(max_length=100, blank=True, default="TERMINATE")
    default_auto_reply = models.TextField(blank=True)
    code_execution = models.CharField(max_length=16, choices=CodeExecution.choices, default=CodeExecution.OFF)
    code_timeout = models.PositiveIntegerField("code timeout (seconds)", default=60)
    local_fallback = models.BooleanField(
        default=False,
        help_text="With the Docker sandbox: when no Docker engine answers, run code on the worker host instead "
        "(the run shows a notice). Off: such a run stops with an error.",
    )
    tools = models.JSONField(default=list, blank=True, help_text="Python function sources, one tool each.")

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="crews_agent_unique_name")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from studio.crews.validation import check_tools

        errors: dict[str, str] = {}
        self.name = (self.name or "").strip()
        if not self.name:
            errors["name"] = "Give the agent a name."
        elif not self.name.isidentifier() or keyword.iskeyword(self.name) or not self.name.isascii():
            errors["name"] = "Use letters, digits and underscores only, not starting with a digit (e.g. code_writer)."
        elif self.name in RESERVED_AGENT_NAMES:
            errors["name"] = f"“{self.name}” is the name of an agent Parley adds itself; choose another."
        self._check_unique_name(errors, "an agent")
        if self.kind not in AgentKind.values:
            errors["kind"] = "Choose Assistant, User proxy or Conversable."
        if self.human_input_mode not in HumanInputMode.values:
            errors["human_input_mode"] = "Choose ALWAYS, TERMINATE or NEVER."
        if self.model_id is not None and self.workspace_id is not None and self.model.workspace_id != self.workspace_id:
            errors["model"] = "Choose a model from this workspace."
        if self.termination_rule not in TerminationRule.values:
            errors["termination_rule"] = "Choose a termination rule."
        _check_termination(self.termination_rule, self.termination_keyword or "", errors)
        if self.code_execution not in CodeExecution.values:
            errors["code_execution"] = "Choose off, Docker sandbox or local."
        if not 1 <= (self.code_timeout or 0) <= 3600:
            errors["code_timeout"] = "The code timeout must be between 1 and 3600 seconds."
        problem = check_tools(self.tools)
        if problem:
            errors["tools"] = problem
        elif self.tools and self.model_id is None:
            errors["model"] = "An agent with tools needs a model: the model decides when to call them."
        if errors:
            raise ValidationError(errors)

    @property
    def runs_code(self) -> bool:
        return self.code_execution != CodeExecution.OFF

    @property
    def takes_human_input(self) -> bool:
        return self.human_input_mode in HUMAN_CAPABLE_MODES


class Crew(WorkspaceOwned):
    """A two-agent chat or a group chat of agents from the workspace's library."""

    name = models.CharField(max_length=150)
    description = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    kind = models.CharField(max_length=16, choices=CrewKind.choices, default=CrewKind.TWO_AGENT)
    task = models.TextField("default task message", blank=True)
    # Two-agent: initiator → recipient. Group: the initiator opens the chat (default: first member).
    initiator = models.ForeignKey(AgentDef, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    recipient = models.ForeignKey(AgentDef, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    max_turns = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: until a termination rule ends it.")
    max_round = models.PositiveIntegerField(default=10)
    speaker_selection = models.CharField(max_length=16, choices=SpeakerSelection.choices, default=SpeakerSelection.AUTO)
    allow_repeat_speaker = models.BooleanField(default=True)
    send_introductions = models.BooleanField(default=False)
    manager_model = models.ForeignKey(
        ModelEndpoint, null=True, blank=True, on_delete=models.SET_NULL, related_name="managed_crews"
    )
    # The group chat manager's termination check, run on every group message.
    termination_rule = models.CharField(max_length=16, choices=TerminationRule.choices, default=TerminationRule.DEFAULT)
    termination_keyword = models.CharField(max_length=100, blank=True, default="TERMINATE")

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="crews_crew_unique_name")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, str] = {}
        self.name = (self.name or "").strip()
        if not self.name:
            errors["name"] = "Give the crew a name."
        self._check_unique_name(errors, "a crew")
        if self.kind not in CrewKind.values:
            errors["kind"] = "Choose a two-agent chat or a group chat."
        if not isinstance(self.tags, list) or not all(isinstance(t, str) for t in self.tags):
            errors["tags"] = "Tags must be a list of words."
        else:
            self.tags = list(dict.fromkeys(t.strip() for t in self.tags if t.strip()))
        if self.max_turns is not None and self.max_turns < 1:
            errors["max_turns"] = "Max turns must be at least 1 (or empty for no limit)."
        if (self.max_round or 0) < 1:
            errors["max_round"] = "Max rounds must be at least 1."
        if self.speaker_selection not in SpeakerSelection.values:
            errors["speaker_selection"] = "Choose auto, round robin, random or manual."
        for field in ("initiator", "recipient"):
            agent = getattr(self, field)
            if agent is not None and agent.workspace_id != self.workspace_id:
                errors[field] = "Choose an agent from this workspace."
        if self.manager_model is not None and self.manager_model.workspace_id != self.workspace_id:
            errors["manager_model"] = "Choose a model from this workspace."
        _check_termination(self.termination_rule, self.termination_keyword or "", errors)
        if errors:
            raise ValidationError(errors)

    def ordered_members(self) -> list[AgentDef]:
        return [m.agent for m in self.members.select_related("agent", "agent__model").order_by("position", "id")]


class CrewMember(models.Model):
    crew = models.ForeignKey(Crew, on_delete=models.CASCADE, related_name="members")
    agent = models.ForeignKey(AgentDef, on_delete=models.CASCADE, related_name="memberships")
    # The round-robin order and the order shown to the selector. Not unique: a reorder rewrites all
    # positions in one UPDATE, which a per-row unique check would trip over midway.
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["crew", "agent"], name="crews_member_unique_agent")]

    def __str__(self) -> str:
        return f"{self.agent} in {self.crew} (#{self.position})"


class CrewTransition(models.Model):
    """One edge of a group chat's allowed-transitions graph: `target` may speak after `source`."""

    crew = models.ForeignKey(Crew, on_delete=models.CASCADE, related_name="transitions")
    source = models.ForeignKey(AgentDef, on_delete=models.CASCADE, related_name="+")
    target = models.ForeignKey(AgentDef, on_delete=models.CASCADE, related_name="+")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["crew", "source", "target"], name="crews_transition_unique_edge")
        ]

    def __str__(self) -> str:
        return f"{self.source} → {self.target} in {self.crew}"


class Version(models.Model):
    """A saved state of one crew or one agent: a snapshot in Parley's export format."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    crew = models.ForeignKey(Crew, null=True, blank=True, on_delete=models.CASCADE, related_name="versions")
    agent = models.ForeignKey(AgentDef, null=True, blank=True, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    snapshot = models.JSONField()
    summary = models.CharField(max_length=300)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(crew__isnull=False, agent__isnull=True) | models.Q(crew__isnull=True, agent__isnull=False),
                name="crews_version_one_subject",
            ),
            models.UniqueConstraint(fields=["crew", "number"], condition=models.Q(crew__isnull=False), name="crews_version_crew_number"),
            models.UniqueConstraint(fields=["agent", "number"], condition=models.Q(agent__isnull=False), name="crews_version_agent_number"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} v{self.number}: {self.summary}"

    @property
    def subject(self) -> Crew | AgentDef:
        return self.crew if self.crew_id is not None else self.agent


class GalleryCrew(models.Model):
    """A ready-made crew anyone may copy. Each lives alone in a member-less workspace of its own,
    so its agents keep their plain names (names are unique per workspace)."""

    slug = models.SlugField(unique=True)
    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, related_name="gallery_entry")
    crew = models.OneToOneField(Crew, on_delete=models.CASCADE, related_name="gallery_entry")
    position = models.PositiveIntegerField(default=0)
    digest = models.CharField(max_length=64, help_text="Hash of the seed it was loaded from.")

    class Meta:
        ordering = ["position", "slug"]

    def __str__(self) -> str:
        return f"gallery: {self.crew}"
