"""Django admin for platform staff. The lineage toggle and ingest keys change only through the
services and permission checks the pages and API use (admin actions), so every change is audited."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied

from clouds.models import Cloud, CloudOwner, IngestKey, LineageToggleChange, Project
from clouds.services import revoke_ingest_key, set_cloud_lineage
from orgs.permissions import Action, authorize, request_id_of


class CloudOwnerInline(admin.TabularInline):
    """Read-only: org admins grant ownership on the cloud's settings page (audited)."""

    model = CloudOwner
    extra = 0
    fields = ["user", "created_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def _set_lineage(modeladmin, request, queryset, enabled: bool) -> None:
    changed = 0
    for cloud in queryset.select_related("org"):
        try:
            authorize(request, Action.LINEAGE_TOGGLE, cloud, attempt={"enabled": enabled})
        except PermissionDenied as exc:
            modeladmin.message_user(request, f"{cloud}: {exc}", messages.ERROR)
            continue
        changed += set_cloud_lineage(cloud=cloud, enabled=enabled, actor=request.user, request_id=request_id_of(request))
    state = "on" if enabled else "off"
    modeladmin.message_user(request, f"Lineage tracking turned {state} for {changed} cloud(s); the others already were.")


@admin.action(description="Turn lineage tracking on (clusters started from now on)")
def lineage_on(modeladmin, request, queryset):
    _set_lineage(modeladmin, request, queryset, True)


@admin.action(description="Turn lineage tracking off (running clusters keep capturing until they end)")
def lineage_off(modeladmin, request, queryset):
    _set_lineage(modeladmin, request, queryset, False)


@admin.register(Cloud)
class CloudAdmin(admin.ModelAdmin):
    list_display = ["name", "org", "public_id", "created_at"]
    list_filter = ["org"]
    search_fields = ["name", "public_id"]
    inlines = [CloudOwnerInline]
    actions = [lineage_on, lineage_off]

    def has_add_permission(self, request):
        return False  # `manage.py create_cloud` creates clouds (audited)

    def has_delete_permission(self, request, obj=None):
        return False  # would erase the toggle history the capture rule reads


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


@admin.action(description="Revoke the selected ingest keys")
def revoke_keys(modeladmin, request, queryset):
    revoked = 0
    for key in queryset.select_related("cloud__org"):
        try:
            authorize(request, Action.KEY_REVOKE, key)
        except PermissionDenied as exc:
            modeladmin.message_user(request, f"{key}: {exc}", messages.ERROR)
            continue
        revoked += revoke_ingest_key(key=key, actor=request.user, request_id=request_id_of(request))
    modeladmin.message_user(request, f"Revoked {revoked} key(s); the others already were.")


@admin.register(IngestKey)
class IngestKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "cloud", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["org"]
    readonly_fields = ["org", "cloud", "name", "prefix", "key_hash", "created_by", "last_used_at", "revoked_at"]
    actions = [revoke_keys]

    def has_add_permission(self, request):
        return False  # keys are created on the cloud's settings page, the API or `manage.py create_ingest_key`

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the row keeps the key refused and its history readable
