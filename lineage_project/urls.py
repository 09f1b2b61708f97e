"""Every route, listed explicitly. Pages live under /o/<org>/, the read and governance API under
/api/v1/o/<org>/; each app's urls.py lists its own views."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from catalog import export_views
from ingest import views as ingest_views
from lineage_project import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    # Ingest (OpenLineage clients)
    path("api/v1/lineage", ingest_views.lineage, name="lineage"),
    path("api/v1/lineage/batch", ingest_views.lineage_batch, name="lineage-batch"),
    path("spec/facets/<str:version>/<str:name>", ingest_views.facet_schema, name="facet-schema"),
    # Pages
    path("o/<slug:org_slug>/", include("catalog.urls")),
    path("o/<slug:org_slug>/", include("orgs.urls")),
    path("o/<slug:org_slug>/clouds/", include("clouds.urls")),
    path("o/<slug:org_slug>/exports/", include("catalog.export_urls")),
    path("", include("orgs.site_urls")),  # /staff/orgs/, /account/token/, /api/v1/orgs/
    # API
    path("api/v1/o/<slug:org_slug>/", include("catalog.api.urls")),
    path("api/v1/o/<slug:org_slug>/", include("orgs.api.urls")),
    path("api/v1/o/<slug:org_slug>/clouds/", include("clouds.api.urls")),
    path("api/v1/o/<slug:org_slug>/exports/", export_views.ExportAPIView.as_view(), name="exports-api"),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="openapi-schema"),
]

if settings.LINEAGE_BENCH_VIEWS:
    from bench.reference import reference_insert

    urlpatterns.append(path("bench/reference-insert", reference_insert, name="bench-reference-insert"))
