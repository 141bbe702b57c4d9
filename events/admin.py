from django.contrib import admin

from . import services
from .models import Event, Schedule


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


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    """Read-only: schedules are made through the API; here they can be cancelled (with
    the change permission on schedules)."""

    list_display = [
        "created_at",
        "user",
        "kind",
        "run_at",
        "cron",
        "timezone",
        "status",
        "next_run_at",
        "run_count",
    ]
    list_filter = ["status", "kind"]
    search_fields = ["user__username", "cron"]
    list_select_related = ["user"]
    readonly_fields = [field.name for field in Schedule._meta.fields]
    actions = ["cancel"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Cancel the selected schedules", permissions=["change"])
    def cancel(self, request, queryset) -> None:
        for schedule in queryset.filter(status=Schedule.Status.ACTIVE):
            services.schedule_cancel(schedule=schedule)
