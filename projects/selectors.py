"""Reading the demo site's objects: who may do what in a project, a job's runs."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import Project, ProjectMembership, Run


def job_runs_recent(*, job_id: int, limit: int = 5) -> list[Run]:
    """The job's latest runs, newest first, without their logs."""
    return list(Run.objects.filter(job_id=job_id).defer("log").order_by("-created_at", "-id")[:limit])


def job_run_get(*, job_id: int, run_id: int | None = None) -> Run | None:
    """One run of the job (never another job's), or its latest when ``run_id`` is None."""
    runs = Run.objects.filter(job_id=job_id)
    if run_id is not None:
        return runs.filter(pk=run_id).first()
    return runs.order_by("-created_at", "-id").first()


def projects_of(user) -> QuerySet[Project]:
    return Project.objects.filter(memberships__user=user)


def project_role(*, user, project_id) -> str | None:
    """The user's role in the project (``ProjectMembership.Role``), or None."""
    if project_id is None or user is None or not user.is_authenticated:
        return None
    return (
        ProjectMembership.objects.filter(project_id=project_id, user_id=user.pk)
        .values_list("role", flat=True)
        .first()
    )


def projects_writable_by(user) -> QuerySet[Project]:
    """The projects in which the user may ask, apply and create (every role but viewer)."""
    return Project.objects.filter(memberships__user=user, memberships__role__in=ProjectMembership.WRITE_ROLES)
