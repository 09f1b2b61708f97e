"""Catalog pages, mounted under /o/<org_slug>/."""

from __future__ import annotations

from django.urls import path

from catalog import views

app_name = "catalog"

urlpatterns = [
    path("datasets/", views.dataset_list, name="dataset_list"),
    path("datasets/<int:pk>/", views.dataset_detail, name="dataset_detail"),
    path("datasets/<int:pk>/lineage/", views.dataset_lineage, name="dataset_lineage"),
    path("datasets/<int:pk>/impact/", views.dataset_impact, name="dataset_impact"),
    path("datasets/<int:pk>/impact/csv/", views.dataset_impact_csv, name="dataset_impact_csv"),
    path("models/", views.model_list, name="model_list"),
    path("models/<int:pk>/", views.model_detail, name="model_detail"),
    path("models/<int:pk>/lineage/", views.model_lineage, name="model_lineage"),
    path("models/<int:pk>/impact/", views.model_impact, name="model_impact"),
    path("models/<int:pk>/impact/csv/", views.model_impact_csv, name="model_impact_csv"),
    path("workloads/", views.workload_list, name="workload_list"),
    path("workloads/<int:pk>/", views.workload_detail, name="workload_detail"),
    path("workloads/<int:pk>/lineage/", views.workload_lineage, name="workload_lineage"),
    path("workloads/<int:pk>/impact/", views.workload_impact, name="workload_impact"),
    path("workloads/<int:pk>/impact/csv/", views.workload_impact_csv, name="workload_impact_csv"),
]
