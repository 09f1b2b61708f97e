from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from ingest import views as ingest_views
from lineage_project import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/lineage", ingest_views.lineage, name="lineage"),
    path("api/v1/lineage/batch", ingest_views.lineage_batch, name="lineage-batch"),
    path("spec/facets/<str:version>/<str:name>", ingest_views.facet_schema, name="facet-schema"),
    path("api/v1/o/<slug:org_slug>/", include("catalog.api.urls")),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="openapi-schema"),
]
