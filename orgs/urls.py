"""Pages under /o/<org_slug>/ (the catalog's pages share the prefix; these paths are its settings and audit log)."""

from __future__ import annotations

from django.urls import path

from orgs import views

app_name = "orgs"

urlpatterns = [
    path("settings/", views.settings_page, name="settings"),
    path("settings/lineage-beta/", views.set_beta, name="set_beta"),
    path("settings/members/", views.add_member_view, name="add_member"),
    path("settings/members/<int:membership_id>/role/", views.change_role_view, name="change_role"),
    path("settings/members/<int:membership_id>/remove/", views.remove_member_view, name="remove_member"),
    path("audit/", views.audit_log, name="audit_log"),
]
