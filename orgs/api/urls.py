"""Governance API under /api/v1/o/<org_slug>/ (the catalog's read API shares the prefix)."""

from __future__ import annotations

from django.urls import path

from orgs.api import views

app_name = "orgs-api"

urlpatterns = [
    path("lineage-beta/", views.LineageBetaView.as_view(), name="lineage-beta"),
    path("members/", views.MembershipListView.as_view(), name="membership-list"),
    path("members/<int:pk>/", views.MembershipDetailView.as_view(), name="membership-detail"),
    path("audit/", views.AuditEntryListView.as_view(), name="auditentry-list"),
]
