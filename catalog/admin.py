from __future__ import annotations

from django.contrib import admin

from catalog.models import Asset, Job, Run, Workload


@admin.register(Asset)
class AssetAdmin(admin.ModelAdmin):
    list_display = ["uri", "kind", "dataset_type", "org", "created_by", "created_at"]
    list_filter = ["kind", "dataset_type", "org"]
    search_fields = ["name", "namespace"]


@admin.register(Workload)
class WorkloadAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "status", "org", "cloud", "owner_email", "created_at"]
    list_filter = ["kind", "org"]
    search_fields = ["name", "external_id"]


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["namespace", "name", "job_type", "org"]
    search_fields = ["name", "namespace"]


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ["run_id", "job", "state", "started_at", "ended_at"]
    list_filter = ["state"]
    search_fields = ["run_id"]
