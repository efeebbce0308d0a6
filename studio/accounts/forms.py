from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import UserCreationForm

from studio.accounts.invitations import MAX_DAYS, default_days
from studio.accounts.models import Role, User, Workspace


class SignUpForm(UserCreationForm):
    """Username, email and the password twice; the account itself is made by services.sign_up."""

    email = forms.EmailField(required=True, help_text="Used for invitations and password resets.")

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")


# ---- team workspaces ------------------------------------------------------------------------------


class WorkspaceNameForm(forms.Form):
    name = forms.CharField(max_length=150, label="Workspace name")


class _InviteForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices, initial=Role.EDITOR,
                             help_text="Owner: everything. Editor: build and run. Runner: run and answer. "
                                       "Viewer: read only.")
    days = forms.IntegerField(min_value=1, max_value=MAX_DAYS, label="Valid for (days)")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["days"].initial = default_days()


class InviteEmailForm(_InviteForm):
    email = forms.EmailField(label="Email address")
    field_order = ["email", "role", "days"]


class InviteLinkForm(_InviteForm):
    pass


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class DeleteWorkspaceForm(forms.Form):
    confirm_name = forms.CharField(max_length=150, label="Type the workspace's name to confirm")


class CopyCrewForm(forms.Form):
    """Where to copy a crew: a workspace where the user is an editor or owner (public ids only)."""

    target = forms.ChoiceField(
        label="Copy to workspace",
        error_messages={"invalid_choice": "You can only copy a crew into a workspace where you are an editor or owner.",
                        "required": "Choose the workspace to copy the crew into."},
    )

    def __init__(self, *args: Any, targets: list[Workspace], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.targets = {str(w.public_id): w for w in targets}
        self.fields["target"].choices = [(key, w.name) for key, w in self.targets.items()]

    def target_workspace(self) -> Workspace:
        return self.targets[self.cleaned_data["target"]]
