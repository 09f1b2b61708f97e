from __future__ import annotations

from django.contrib import admin

from orgs.models import AuditEntry, Membership, Organization


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "lineage_beta_enabled", "created_at"]
    list_filter = ["lineage_beta_enabled"]
    search_fields = ["name", "slug"]
    inlines = [MembershipInline]
    # The beta flag is changed through orgs.services so the change is audited.
    readonly_fields = ["lineage_beta_enabled"]


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "org", "actor_label", "action", "target_type", "target_label", "allowed"]
    list_filter = ["action", "allowed", "org"]
    search_fields = ["actor_label", "target_label", "request_id"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False
