"""Changing the demo site's objects on a user's behalf, with the role check each change needs."""

from __future__ import annotations

from django.db import transaction

from assistant.exceptions import NotFound, PermissionDenied

from .models import Job, ProjectMembership
from .selectors import project_role


def job_code_update(*, user, job_id: int, code: str) -> Job:
    """Replace the job's code, for an owner, admin or editor of its project.
    ``NotFound`` when the user is in no project of a job with this id (another
    user's job looks like no job); ``PermissionDenied`` for a viewer."""
    with transaction.atomic():
        job = Job.objects.select_for_update().select_related("workflow").filter(pk=job_id).first()
        role = project_role(user=user, project_id=job.workflow.project_id) if job else None
        if role is None:
            raise NotFound(f"You have no job {job_id}.")
        if role not in ProjectMembership.WRITE_ROLES:
            raise PermissionDenied("Your role in this project can't change its jobs.")
        job.code = code
        job.save(update_fields=["code", "updated_at"])
    return job
