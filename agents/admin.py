from django.contrib import admin

from .models import TaskLogLine, WorkerTask


class TaskLogLineInline(admin.TabularInline):
    model = TaskLogLine
    extra = 0
    can_delete = False
    fields = ("seq", "at", "level", "text")
    readonly_fields = fields
    ordering = ("seq",)

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WorkerTask)
class WorkerTaskAdmin(admin.ModelAdmin):
    list_display = ["created_at", "agent", "user", "status", "progress", "started_at", "finished_at"]
    list_filter = ["status", "agent"]
    search_fields = ["agent", "user__username", "error"]
    list_select_related = ["user"]
    readonly_fields = [field.name for field in WorkerTask._meta.fields]
    date_hierarchy = "created_at"
    inlines = [TaskLogLineInline]

    def has_add_permission(self, request) -> bool:
        return False
