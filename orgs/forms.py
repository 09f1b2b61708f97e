from __future__ import annotations

from django import forms
from django.contrib.auth.password_validation import validate_password

from orgs.models import Role


class SwitchForm(forms.Form):
    """On or off: the lineage beta of an org, the lineage toggle of a cloud."""

    enabled = forms.TypedChoiceField(choices=[("on", "On"), ("off", "Off")], coerce=lambda value: value == "on")


class AddMemberForm(forms.Form):
    email = forms.EmailField(max_length=150)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)
    password = forms.CharField(
        required=False, strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Only for a new account. Leave empty to add an existing user (their password is never changed here).",
    )

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if password:
            validate_password(password)
        return password

    def attempt(self) -> dict | None:
        """What was asked, for the audit log (never the password)."""
        if not self.is_valid():
            return None
        return {"email": self.cleaned_data["email"], "role": self.cleaned_data["role"]}


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
