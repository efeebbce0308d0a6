from __future__ import annotations

from django import forms
from django.contrib.auth.forms import UserCreationForm

from studio.accounts.models import User


class SignUpForm(UserCreationForm):
    """Username, email and the password twice; the account itself is made by services.sign_up."""

    email = forms.EmailField(required=True, help_text="Used for invitations and password resets.")

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")
