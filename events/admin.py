from django.contrib import admin

from .models import Event


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["received_at", "type", "source", "user", "status", "handler", "attempts"]
    list_filter = ["status", "type"]
    search_fields = ["type", "source", "user__username"]
    list_select_related = ["user"]
    readonly_fields = [field.name for field in Event._meta.fields]
    date_hierarchy = "received_at"

    def has_add_permission(self, request) -> bool:
        return False
