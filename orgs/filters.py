"""FilterSets shared by the governance pages and the API (same parameters in both)."""

from __future__ import annotations

import django_filters as filters
from django import forms
from django.db.models import Q

from clouds.models import Cloud
from orgs.models import AuditEntry, Organization

DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"})


class AuditEntryFilterSet(filters.FilterSet):
    """The audit log's filters. Built with the org, so the cloud choices are that org's clouds only
    (another org's cloud id is an invalid choice, never a result)."""

    actor = filters.CharFilter(method="by_actor", label="Actor", help_text="Email (or part of it), or 'me'.")
    action = filters.CharFilter(field_name="action", label="Action")
    target = filters.CharFilter(method="by_target", label="Target contains")
    cloud = filters.ModelChoiceFilter(queryset=Cloud.objects.none(), method="by_cloud", label="Cloud",
                                      empty_label="Any cloud")
    outcome = filters.ChoiceFilter(choices=[("allowed", "Allowed"), ("denied", "Denied")], method="by_outcome",
                                   label="Outcome", empty_label="Allowed or denied")
    created_after = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte", label="From",
                                              widget=DATETIME_WIDGET)
    created_before = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt", label="Until",
                                               widget=DATETIME_WIDGET)

    class Meta:
        model = AuditEntry
        fields = ["actor", "action", "target", "cloud", "outcome", "created_after", "created_before"]

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None, org: Organization | None = None):
        super().__init__(data, queryset, request=request, prefix=prefix)
        self.filters["cloud"].queryset = Cloud.objects.in_org(org) if org is not None else Cloud.objects.none()

    def by_actor(self, queryset, name, value):
        if value == "me" and self.request is not None:
            return queryset.filter(actor_label__iexact=self.request.user.get_username())
        return queryset.filter(actor_label__icontains=value)

    def by_target(self, queryset, name, value):
        return queryset.filter(Q(target_label__icontains=value) | Q(target_type__iexact=value) | Q(target_id=value))

    def by_cloud(self, queryset, name, value: Cloud):
        return queryset.filter(cloud_id=value.pk)

    def by_outcome(self, queryset, name, value):
        return queryset.filter(allowed=(value == "allowed"))


class OrganizationFilterSet(filters.FilterSet):
    """Platform staff's list of organizations."""

    q = filters.CharFilter(method="search", label="Search", help_text="Name or slug contains.")
    beta = filters.ChoiceFilter(choices=[("on", "On"), ("off", "Off")], method="by_beta", label="Lineage beta",
                                empty_label="On or off")
    created_after = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte", label="Created from",
                                              widget=DATETIME_WIDGET)
    created_before = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt", label="Created until",
                                               widget=DATETIME_WIDGET)

    class Meta:
        model = Organization
        fields = ["q", "beta", "created_after", "created_before"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(slug__icontains=value))

    def by_beta(self, queryset, name, value):
        return queryset.filter(lineage_beta_enabled=(value == "on"))
