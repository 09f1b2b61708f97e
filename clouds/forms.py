from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model

from clouds.models import Cloud
from orgs.models import Membership, Organization


class GrantOwnerForm(forms.Form):
    """Choose one of the org's members (not yet an owner of the cloud): choices are scoped to the org."""

    user = forms.ModelChoiceField(queryset=get_user_model().objects.none(), label="Member", empty_label=None)

    def __init__(self, *args, org: Organization, cloud: Cloud, **kwargs):
        super().__init__(*args, **kwargs)
        members = Membership.objects.in_org(org).values("user")
        self.fields["user"].queryset = (
            get_user_model().objects.filter(pk__in=members).exclude(owned_clouds__cloud=cloud).order_by("username")
        )
        self.fields["user"].label_from_instance = lambda user: user.get_username()


class IngestKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What uses the key, e.g. “prod workloads” or “CI”.")
