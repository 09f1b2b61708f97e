from __future__ import annotations

from rest_framework.routers import SimpleRouter

from catalog.api import views

app_name = "catalog-api"

router = SimpleRouter()
router.register("datasets", views.DatasetViewSet, basename="dataset")
router.register("models", views.ModelViewSet, basename="model")
router.register("workloads", views.WorkloadViewSet, basename="workload")
router.register("runs", views.RunViewSet, basename="run")
urlpatterns = router.urls
