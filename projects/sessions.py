"""Conversations about the demo site's objects, as the built-in modes keep them: a job
session is about its job, a workflow session about its workflow (or, before it has one,
its project), and both are filed under their project's scope (``"project:<id>"``)."""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import CharField, QuerySet, Value
from django.db.models.functions import Cast, Concat

from assistant import services
from assistant.exceptions import InvalidInput
from assistant.models import ChatSession

from .models import Job, Project, ProjectMembership, Workflow, scope_of

SCOPE_PREFIX = "project:"


def subject_id(session: ChatSession, model) -> int | None:
    """The id of the session's subject when it is a ``model``; None otherwise. No query:
    content types are cached."""
    if session.subject_type_id is None or not session.subject_id:
        return None
    if session.subject_type_id != ContentType.objects.get_for_model(model).pk:
        return None
    return int(session.subject_id)


def project_id(session: ChatSession) -> int | None:
    """The project the session is filed under."""
    scope = session.scope or ""
    return int(scope[len(SCOPE_PREFIX) :]) if scope.startswith(SCOPE_PREFIX) else None


def shape(session: ChatSession) -> dict[str, Any]:
    """The session's ``job``, ``project`` and ``workflow`` ids (DESIGN.md's shape)."""
    return {
        "job": subject_id(session, Job),
        "project": project_id(session),
        "workflow": subject_id(session, Workflow),
    }


def subject_is(model, object_id) -> dict[str, Any]:
    """The filter of sessions about the ``model`` with this id."""
    return {"subject_type": ContentType.objects.get_for_model(model), "subject_id": str(object_id)}


def member_scopes(user) -> QuerySet:
    """The scopes of the projects ``user`` is a member of, as a subquery."""
    return (
        ProjectMembership.objects.filter(user=user)
        .annotate(scope=Concat(Value(SCOPE_PREFIX), Cast("project_id", CharField())))
        .values("scope")
    )


def job_session_create(*, job: Job, user, content: str, meta=None, code=None) -> ChatSession:
    """A job-help session about ``job`` and its first (pending) question."""
    return services.session_create(
        mode="job_code",
        user=user,
        content=content,
        subject=job,
        scope=scope_of(job.workflow.project_id),
        meta=meta,
        code=code,
    )


def workflow_session_create(
    *, project: Project, workflow: Workflow | None, user, content: str, meta=None, code=None
) -> ChatSession:
    """A workflow-template session about ``workflow`` (or, for a new one, ``project``)."""
    if workflow is not None and workflow.project_id != project.pk:
        raise InvalidInput({"workflow": ["The workflow is not in this project."]})
    return services.session_create(
        mode="workflow_template",
        user=user,
        content=content,
        subject=workflow or project,
        scope=scope_of(project.pk),
        meta=meta,
        code=code,
    )


def session_associate_workflow(*, session: ChatSession, workflow: Workflow) -> ChatSession:
    """Make the session about the workflow its template created or updated."""
    if project_id(session) is not None and workflow.project_id != project_id(session):
        raise InvalidInput({"workflow": ["The workflow is not in this session's project."]})
    return services.session_set_subject(session=session, subject=workflow)
