from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from catalog.api import views

app_name = "catalog-api"

router = SimpleRouter()
router.register("datasets", views.DatasetViewSet, basename="dataset")
router.register("models", views.ModelViewSet, basename="model")
router.register("workloads", views.WorkloadViewSet, basename="workload")
router.register("runs", views.RunViewSet, basename="run")
urlpatterns = [
    path("graph/", views.GraphView.as_view(), name="graph"),
    path("impact/", views.ImpactView.as_view(), name="impact"),
    *router.urls,
]
