from __future__ import annotations

from django.contrib import admin

from ingest.models import RawEvent


@admin.register(RawEvent)
class RawEventAdmin(admin.ModelAdmin):
    list_display = ["id", "org", "cloud", "kind", "event_time", "received_at", "status", "attempts"]
    list_filter = ["status", "kind", "org"]
    search_fields = ["content_hash", "run_id"]
    readonly_fields = [f.name for f in RawEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
