from django.contrib import admin

from .models import Job, Project, ProjectMembership, Run, Workflow


class ProjectMembershipInline(admin.TabularInline):
    model = ProjectMembership
    extra = 0
    raw_id_fields = ("user",)


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("name", "created_at")
    search_fields = ("name",)
    inlines = [ProjectMembershipInline]


@admin.register(Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    list_display = ("name", "project", "updated_at")
    list_select_related = ("project",)
    search_fields = ("name", "project__name")


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("name", "adaptor", "workflow", "updated_at")
    list_select_related = ("workflow",)
    search_fields = ("name", "adaptor", "workflow__name")


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ("id", "job", "state", "started_at", "finished_at")
    list_filter = ("state",)
    list_select_related = ("job",)
    raw_id_fields = ("job",)
