from __future__ import annotations

from django.urls import path

from catalog import export_views

app_name = "exports"

urlpatterns = [
    path("", export_views.exports_page, name="page"),
]
