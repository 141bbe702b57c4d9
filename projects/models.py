"""The demo site's own domain: projects with their members and roles, workflows, jobs
and their runs. The assistant knows none of it; the built-in modes and their tools do."""

from django.conf import settings
from django.contrib.contenttypes.fields import GenericRelation
from django.db import models


def chat_sessions():
    """The conversations about an object (deleted with it)."""
    return GenericRelation(
        "assistant.ChatSession",
        content_type_field="subject_type",
        object_id_field="subject_id",
    )


def scope_of(project_id) -> str:
    """The scope of the conversations about a project's objects."""
    return f"project:{project_id}"


class Project(models.Model):
    name = models.CharField(max_length=255)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="ProjectMembership", related_name="projects"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    chat_sessions = chat_sessions()

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class ProjectRole(models.TextChoices):
    """What a member may do in a project (the roles of Lightning's projects)."""

    OWNER = "owner"
    ADMIN = "admin"
    EDITOR = "editor"
    #: Reads the project and its public conversations; can't ask, apply or retry.
    VIEWER = "viewer"


class ProjectMembership(models.Model):
    """A user's membership of a project, with their role."""

    Role = ProjectRole
    #: The roles that may ask the assistant, apply templates and retry answers.
    WRITE_ROLES = frozenset({ProjectRole.OWNER, ProjectRole.ADMIN, ProjectRole.EDITOR})

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="project_memberships"
    )
    role = models.CharField(max_length=16, choices=ProjectRole.choices, default=ProjectRole.EDITOR)

    class Meta:
        unique_together = [("project", "user")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=ProjectRole.values), name="membership_role_valid"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) in {self.project}"


class Workflow(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="workflows")
    name = models.CharField(max_length=255)
    spec = models.TextField(blank=True, help_text="The workflow as YAML.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    chat_sessions = chat_sessions()

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="workflow_name_per_project")]

    def __str__(self) -> str:
        return self.name


class Job(models.Model):
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="jobs")
    name = models.CharField(max_length=255)
    adaptor = models.CharField(max_length=255, help_text='For example "@openfn/language-http@latest".')
    code = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    chat_sessions = chat_sessions()

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["workflow", "name"], name="job_name_per_workflow")]

    def __str__(self) -> str:
        return self.name


class Run(models.Model):
    class State(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        SUCCESS = "success"
        FAILED = "failed"
        CRASHED = "crashed"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="runs")
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    log = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["job", "-created_at"], name="run_job_created")]

    def __str__(self) -> str:
        return f"Run {self.pk} of {self.job}"
