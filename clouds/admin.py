from __future__ import annotations

from django.contrib import admin

from clouds.models import Cloud, IngestKey, LineageToggleChange, Project


@admin.register(Cloud)
class CloudAdmin(admin.ModelAdmin):
    list_display = ["name", "org", "public_id", "created_at"]
    list_filter = ["org"]
    search_fields = ["name", "public_id"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "cloud", "org", "public_id"]
    list_filter = ["org"]
    search_fields = ["name", "public_id"]


@admin.register(LineageToggleChange)
class LineageToggleChangeAdmin(admin.ModelAdmin):
    list_display = ["cloud", "enabled", "changed_at", "actor_label"]
    list_filter = ["enabled"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(IngestKey)
class IngestKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "cloud", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["org"]
    readonly_fields = ["prefix", "key_hash", "last_used_at", "revoked_at"]

    def has_add_permission(self, request):
        return False  # keys are created with `manage.py create_ingest_key` so the secret is shown once
