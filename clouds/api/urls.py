"""Cloud governance API under /api/v1/o/<org_slug>/clouds/."""

from __future__ import annotations

from django.urls import path

from clouds.api import views

app_name = "clouds-api"

urlpatterns = [
    path("", views.CloudListView.as_view(), name="cloud-list"),
    path("<int:cloud_id>/", views.CloudDetailView.as_view(), name="cloud-detail"),
    path("<int:cloud_id>/lineage/", views.CloudLineageView.as_view(), name="cloud-lineage"),
    path("<int:cloud_id>/lineage/history/", views.ToggleHistoryView.as_view(), name="cloud-lineage-history"),
    path("<int:cloud_id>/owners/", views.CloudOwnerListView.as_view(), name="cloudowner-list"),
    path("<int:cloud_id>/owners/<int:user_id>/", views.CloudOwnerDetailView.as_view(), name="cloudowner-detail"),
    path("<int:cloud_id>/projects/", views.ProjectListView.as_view(), name="project-list"),
    path("<int:cloud_id>/keys/", views.IngestKeyListView.as_view(), name="ingestkey-list"),
    path("<int:cloud_id>/keys/<int:key_id>/", views.IngestKeyDetailView.as_view(), name="ingestkey-detail"),
    path("<int:cloud_id>/keys/<int:key_id>/revoke/", views.IngestKeyRevokeView.as_view(), name="ingestkey-revoke"),
]
