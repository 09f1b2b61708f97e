"""Django admin for platform staff. Governance state changes through the same services and
permission checks as the pages and the API, so they are audited the same way: the beta flag by
admin actions, memberships on the organization's settings page (read-only here)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils.html import format_html

from orgs.models import AuditEntry, Membership, Organization
from orgs.permissions import Action, authorize, request_id_of
from orgs.services import record, set_lineage_beta


class MembershipInline(admin.TabularInline):
    """Read-only: members and roles are managed on the organization's settings page (audited)."""

    model = Membership
    extra = 0
    fields = ["user", "role", "created_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def _set_beta(modeladmin, request, queryset, enabled: bool) -> None:
    changed = 0
    for org in queryset:
        try:
            authorize(request, Action.LINEAGE_BETA, org, attempt={"enabled": enabled})
        except PermissionDenied as exc:
            modeladmin.message_user(request, f"{org}: {exc}", messages.ERROR)
            continue
        changed += set_lineage_beta(org=org, enabled=enabled, actor=request.user, request_id=request_id_of(request))
    state = "enabled" if enabled else "disabled"
    modeladmin.message_user(request, f"Lineage beta {state} for {changed} organization(s); the others already were.")


@admin.action(description="Enable the lineage beta")
def enable_lineage_beta(modeladmin, request, queryset):
    _set_beta(modeladmin, request, queryset, True)


@admin.action(description="Disable the lineage beta (no lineage accepted for any of their clouds)")
def disable_lineage_beta(modeladmin, request, queryset):
    _set_beta(modeladmin, request, queryset, False)


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "lineage_beta_enabled", "created_at", "settings_link"]
    list_filter = ["lineage_beta_enabled"]
    search_fields = ["name", "slug"]
    inlines = [MembershipInline]
    actions = [enable_lineage_beta, disable_lineage_beta]
    # The beta flag is changed through orgs.services (the actions above) so the change is audited.
    readonly_fields = ["lineage_beta_enabled", "settings_link"]

    @admin.display(description="Settings page")
    def settings_link(self, obj: Organization) -> str:
        if obj.pk is None:
            return "—"
        return format_html('<a href="{}">Members, clouds, beta</a>', reverse("orgs:settings", kwargs={"org_slug": obj.slug}))

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)  # the admin wraps this in a transaction
        action = "org.update" if change else "org.create"
        record(org=obj, actor=request.user, action=action, target_type="organization", target_id=obj.pk,
               target_label=obj.slug, after={"name": obj.name, "slug": obj.slug}, request_id=request_id_of(request))

    def has_delete_permission(self, request, obj=None):
        return False  # audit entries reference the org (PROTECT); an organization is never deleted here


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
