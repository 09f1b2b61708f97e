"""Pages under /o/<org_slug>/clouds/."""

from __future__ import annotations

from django.urls import path

from clouds import views

app_name = "clouds"

urlpatterns = [
    path("<int:cloud_id>/settings/", views.cloud_settings, name="settings"),
    path("<int:cloud_id>/settings/lineage/", views.set_lineage, name="set_lineage"),
    path("<int:cloud_id>/settings/owners/", views.grant_owner, name="grant_owner"),
    path("<int:cloud_id>/settings/owners/<int:user_id>/remove/", views.revoke_owner, name="revoke_owner"),
    path("<int:cloud_id>/settings/keys/", views.create_key, name="create_key"),
    path("<int:cloud_id>/settings/keys/<int:key_id>/revoke/", views.revoke_key, name="revoke_key"),
]
