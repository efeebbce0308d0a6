"""Forms of the builder pages. They collect and shape input; `services.py` validates the whole and
saves. The API key is never a model-form field (it is not editable): a separate password input
takes a new key, and nothing ever renders a stored or typed key back."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import FieldDoesNotExist
from django.utils.html import format_html_join

from studio.accounts.models import Workspace
from studio.crews.choices import PROVIDERS_NEEDING_KEY, Provider
from studio.crews.models import AgentDef, Crew, ModelEndpoint

MAX_IMPORT_BYTES = 2 * 1024 * 1024


NUL_MESSAGE = "The text contains NUL characters (\\u0000), which cannot be stored; remove them."


def has_nul(text: str) -> bool:
    """A raw NUL, or JSON's escape for one: the database stores neither."""
    return "\x00" in text or "\\u0000" in text.lower()


class PrettyJSONField(forms.JSONField):
    """A JSON textarea that shows stored values indented (typed text comes back as typed)."""

    default_error_messages = {"invalid": "This is not valid JSON: check the quotes, commas and brackets."}

    def validate(self, value: Any) -> None:
        super().validate(value)
        if value is not None and has_nul(json.dumps(value)):
            raise forms.ValidationError(NUL_MESSAGE)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        if value in (None, "", {}):
            return ""
        return json.dumps(value, indent=2, ensure_ascii=False)


class TagsField(forms.CharField):
    """Comma-separated words in the form, a list in the model."""

    def prepare_value(self, value: Any) -> Any:
        return ", ".join(value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value)
        return list(dict.fromkeys(tag.strip() for tag in text.split(",") if tag.strip()))


class SourceListWidget(forms.Widget):
    """One code textarea per tool, plus an empty one to add a tool (no JS needed)."""

    def value_from_datadict(self, data: Any, files: Any, name: str) -> list[str]:
        return data.getlist(name) if hasattr(data, "getlist") else list(data.get(name) or [])

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        return False  # an empty list is an answer: "no tools"

    def render(self, name: str, value: Any, attrs: dict | None = None, renderer: Any = None) -> str:
        sources = [source for source in (value or []) if isinstance(source, str) and source.strip()] + [""]
        return format_html_join(
            "",
            '<textarea name="{}" rows="{}" class="code" spellcheck="false" aria-label="{}">\n{}</textarea>',
            ((name, 8 if source else 5, f"Tool {index}" if source else "New tool", source)
             for index, source in enumerate(sources, start=1)),
        )


class ToolSourcesField(forms.Field):
    widget = SourceListWidget

    def to_python(self, value: Any) -> list[str]:
        return [source.rstrip() + "\n" for source in (value or []) if isinstance(source, str) and source.strip()]

    def validate(self, value: Any) -> None:
        super().validate(value)
        if any(has_nul(source) for source in value):
            raise forms.ValidationError(NUL_MESSAGE)


class PlainLabelsMixin:
    """Labels without Django's trailing colon (the pages put labels above their fields)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)  # type: ignore[call-arg]


class SectionsMixin(PlainLabelsMixin):
    """Groups a form's fields into titled sections for the page; `field_css` adds classes to a row
    (e.g. the providers or the kind of chat it applies to, which CSS uses to hide the others)."""

    layout: list[tuple[str, str, list[str]]] = []  # (key, title, field names)

    def field_css(self, name: str) -> str:
        return ""

    def sections(self) -> list[dict[str, Any]]:
        return [
            {"key": key, "title": title,
             "rows": [{"field": self[name], "css": self.field_css(name)}  # type: ignore[index]
                      for name in names if name in self.fields]}  # type: ignore[attr-defined]
            for key, title, names in self.layout
        ]


class WorkspaceChoicesMixin:
    """Limits every model/agent choice of a form to the objects of one workspace, named by public id."""

    workspace_choices: dict[str, type] = {}

    def limit_choices(self, workspace: Workspace) -> None:
        for field_name, model in self.workspace_choices.items():
            field = self.fields.get(field_name)  # type: ignore[attr-defined]
            if field is None:
                continue
            field.queryset = model.objects.filter(workspace=workspace).order_by("name")
            field.to_field_name = "public_id"
            what = "agents" if model is AgentDef else "models"
            for code in ("invalid_choice", "invalid_pk_value"):
                field.error_messages[code] = f"Choose from this workspace's {what}; that one is not among them."
            # A ModelForm's initial value of a foreign key is the integer id; with options named by
            # public id the saved choice would not show as selected, so give it the object itself.
            instance = getattr(self, "instance", None)
            if instance is not None and _is_foreign_key(type(instance), field_name):
                self.initial[field_name] = getattr(instance, field_name)  # type: ignore[attr-defined]


def _is_foreign_key(model: type, name: str) -> bool:
    try:
        return bool(model._meta.get_field(name).many_to_one)  # type: ignore[attr-defined]
    except FieldDoesNotExist:
        return False


# ---- models (LLM endpoints) --------------------------------------------------------------------------


class ModelEndpointForm(SectionsMixin, forms.ModelForm):
    api_key = forms.CharField(
        label="API key", required=False, strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password", "spellcheck": "false"}),
    )
    clear_key = forms.BooleanField(label="Remove the stored key", required=False)
    replay_script = PrettyJSONField(
        required=False, widget=forms.Textarea(attrs={"rows": 8, "class": "code", "spellcheck": "false"}),
        help_text='Replay models only. For example {"replies": ["```python\\nprint(6 * 7)\\n```"], '
                  '"rules": [{"when": "exitcode: 0", "reply": "Done. TERMINATE"}]}. Empty: it echoes the last message.',
    )

    field_order = ["name", "provider", "model", "base_url", "api_key", "clear_key", "temperature", "max_tokens",
                   "price_prompt_per_million", "price_completion_per_million", "replay_script"]

    class Meta:
        model = ModelEndpoint
        fields = ["name", "provider", "model", "base_url", "temperature", "max_tokens",
                  "price_prompt_per_million", "price_completion_per_million", "replay_script"]
        labels = {"model": "Model id"}
        help_texts = {
            "model": "The name the provider knows, e.g. gpt-4o-mini or claude-sonnet-4-5. Any label for Replay.",
            "temperature": "0 to 1. Empty: the provider's default.",
            "max_tokens": "Longest answer, in tokens. Empty: the provider's default.",
        }
        widgets = {
            "temperature": forms.NumberInput(attrs={"step": "0.05"}),
            "base_url": forms.TextInput(attrs={"placeholder": "http://127.0.0.1:11434/v1", "spellcheck": "false"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["provider"].widget.attrs["class"] = "provider-select"
        if self.instance.has_key:
            self.fields["api_key"].widget.attrs["placeholder"] = "Leave empty to keep the stored key"
        else:
            self.fields["api_key"].widget.attrs["placeholder"] = "Paste the key"

    layout = [
        ("endpoint", "Endpoint", ["name", "provider", "model", "base_url", "api_key", "clear_key"]),
        ("sampling", "Answers and prices", ["temperature", "max_tokens", "price_prompt_per_million",
                                             "price_completion_per_million", "replay_script"]),
    ]

    def field_css(self, name: str) -> str:
        providers = MODEL_FIELD_PROVIDERS.get(name)
        return "depends " + " ".join(f"for-{p}" for p in providers) if providers else ""

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("api_key") and data.get("clear_key"):
            self.add_error("clear_key", "Either paste a new key or remove the stored one, not both.")
        # Checked again by services.save_model; said here too so it shows with the other problems.
        provider = data.get("provider")
        keyless = not data.get("api_key") and (data.get("clear_key") or not self.instance.has_key)
        if provider in PROVIDERS_NEEDING_KEY and keyless and "api_key" not in self.errors:
            self.add_error("api_key", f"{Provider(provider).label} needs an API key.")
        return data


# Which provider-dependent rows each provider shows (CSS hides the others; all show without CSS).
MODEL_FIELD_PROVIDERS = {
    "base_url": [Provider.OPENAI, Provider.ANTHROPIC, Provider.OPENAI_COMPATIBLE],
    "api_key": [Provider.OPENAI, Provider.ANTHROPIC, Provider.OPENAI_COMPATIBLE],
    "clear_key": [Provider.OPENAI, Provider.ANTHROPIC, Provider.OPENAI_COMPATIBLE],
    "temperature": [Provider.OPENAI, Provider.ANTHROPIC, Provider.OPENAI_COMPATIBLE],
    "max_tokens": [Provider.OPENAI, Provider.ANTHROPIC, Provider.OPENAI_COMPATIBLE],
    "replay_script": [Provider.REPLAY],
}


# ---- agents ----------------------------------------------------------------------------------------------


class AgentForm(SectionsMixin, WorkspaceChoicesMixin, forms.ModelForm):
    tools = ToolSourcesField(
        required=False,
        help_text="Python functions the model may call, one per box: a docstring and a type hint on every "
                  "parameter. Parley never runs them here: they run in the code sandbox of another agent of the crew.",
    )
    workspace_choices = {"model": ModelEndpoint}
    layout = [
        ("identity", "The agent", ["name", "kind", "description"]),
        ("llm", "Instructions and model", ["system_message", "model"]),
        ("human", "Human input", ["human_input_mode", "max_consecutive_auto_reply"]),
        ("ending", "Ending the chat", ["termination_rule", "termination_keyword", "default_auto_reply"]),
        ("code", "Code execution", ["code_execution", "code_timeout", "local_fallback"]),
        ("tools", "Tools", ["tools"]),
    ]

    class Meta:
        model = AgentDef
        fields = ["name", "kind", "description", "system_message", "model", "human_input_mode",
                  "max_consecutive_auto_reply", "termination_rule", "termination_keyword", "default_auto_reply",
                  "code_execution", "code_timeout", "local_fallback", "tools"]
        labels = {
            "max_consecutive_auto_reply": "Max consecutive auto replies",
            "termination_rule": "Ends the chat when a message it receives…",
            "termination_keyword": "Keyword",
        }
        help_texts = {
            "description": "What the other agents (and a group chat's manager) are told about this agent.",
            "system_message": "The agent's instructions. Empty: the engine's default for its kind.",
            "model": "The LLM that writes its replies. None: it answers only by running code, by its default "
                     "reply or through a person.",
            "termination_keyword": "Used by “contains” and “ends with”.",
            "default_auto_reply": "Sent when nothing else produces a reply (no model, no code to run).",
        }
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "system_message": forms.Textarea(attrs={"rows": 14, "class": "code"}),
            "default_auto_reply": forms.Textarea(attrs={"rows": 2}),
            "human_input_mode": forms.RadioSelect,
            "code_execution": forms.RadioSelect,
        }

    def __init__(self, *args: Any, workspace: Workspace, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limit_choices(workspace)
        self.fields["model"].empty_label = "No model"


# ---- crews -----------------------------------------------------------------------------------------------


class CrewForm(SectionsMixin, WorkspaceChoicesMixin, forms.ModelForm):
    tags = TagsField(required=False, help_text="Words separated by commas.")
    members = forms.ModelMultipleChoiceField(
        queryset=AgentDef.objects.none(), to_field_name="public_id", required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="At least two. Their order (the round-robin order) is set on the crew's canvas.",
    )
    workspace_choices = {"initiator": AgentDef, "recipient": AgentDef, "manager_model": ModelEndpoint,
                         "members": AgentDef}
    layout = [
        ("basics", "The crew", ["name", "kind", "description", "tags", "task"]),
        ("people", "Who talks", ["initiator", "recipient", "max_turns", "members"]),
        ("group", "Group chat", ["max_round", "speaker_selection", "manager_model", "allow_repeat_speaker",
                                 "send_introductions", "termination_rule", "termination_keyword"]),
    ]
    # Rows that apply to one kind of chat only (CSS hides them for the other kind).
    KIND_ROWS = {"recipient": "two_agent", "max_turns": "two_agent", "members": "group"}

    def field_css(self, name: str) -> str:
        kind = self.KIND_ROWS.get(name)
        return f"for-{kind}" if kind else ""

    class Meta:
        model = Crew
        fields = ["name", "kind", "description", "tags", "task", "initiator", "recipient", "max_turns",
                  "max_round", "speaker_selection", "allow_repeat_speaker", "send_introductions", "manager_model",
                  "termination_rule", "termination_keyword"]
        labels = {
            "kind": "Kind of chat",
            "max_round": "Max rounds",
            "manager_model": "Manager's model",
            "termination_rule": "The manager ends the chat when a message…",
            "termination_keyword": "Keyword",
        }
        help_texts = {
            "task": "The message a run starts with. Empty: Parley asks for it when the run starts.",
            "max_round": "Most messages in the chat, the task message included.",
            "manager_model": "The model the chat manager picks the next speaker with (auto selection).",
            "allow_repeat_speaker": "May an agent speak twice in a row? (Ignored when transitions are set.)",
            "send_introductions": "The manager first tells the members who is in the chat.",
        }
        widgets = {
            "kind": forms.RadioSelect,
            "description": forms.Textarea(attrs={"rows": 2}),
            "task": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args: Any, workspace: Workspace, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limit_choices(workspace)
        self.fields["initiator"].empty_label = "— (group: the first member)"
        self.fields["initiator"].help_text = ("Sends the task. Two-agent chat: required. Group chat: optional; "
                                              "may be an agent outside the group that only sends the task.")
        self.fields["recipient"].empty_label = "—"
        self.fields["recipient"].help_text = "Two-agent chat: answers the initiator."
        self.fields["manager_model"].empty_label = "No model"
        self.fields["max_turns"].help_text = "Two-agent chat: most replies each way. Empty: until a rule ends it."
        if self.instance.pk is not None and not self.is_bound:
            self.initial["members"] = [agent.public_id for agent in self.instance.ordered_members()]

    def ordered_members(self) -> list[AgentDef]:
        """The chosen members: current ones keep their order, new ones follow in library order."""
        chosen = list(self.cleaned_data.get("members") or [])
        current = self.instance.ordered_members() if self.instance.pk is not None else []
        kept = [agent for agent in current if agent in chosen]
        return kept + [agent for agent in chosen if agent not in kept]


# ---- import ----------------------------------------------------------------------------------------------


class ImportForm(PlainLabelsMixin, forms.Form):
    file = forms.FileField(label="A JSON file", required=False,
                           help_text="A Parley crew file (.json) or an AutoGen Studio team exported as JSON.")
    text = forms.CharField(label="…or paste the JSON", required=False, strip=False,
                           widget=forms.Textarea(attrs={"rows": 10, "class": "code", "spellcheck": "false"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        upload, text = data.get("file"), data.get("text") or ""
        if upload is None and not text.strip():
            raise forms.ValidationError("Choose a file or paste its JSON.")
        if upload is not None and upload.size > MAX_IMPORT_BYTES:
            raise forms.ValidationError("The file is larger than 2 MB; a crew file is much smaller than that.")
        return data

    def payload(self) -> bytes | str:
        """The document to import; a NUL inside (which the database cannot store) is refused here."""
        upload = self.cleaned_data.get("file")
        data = upload.read() if upload is not None else self.cleaned_data["text"]
        try:
            text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
        except UnicodeDecodeError:
            return data  # not text at all: the importer says so in its own words
        if has_nul(text):
            raise forms.ValidationError(NUL_MESSAGE)
        return data
