"""Rows for tests, made the way the product makes them."""

from __future__ import annotations

import itertools

from assistant.models import ChatMessage, ChatSession
from events.models import Event as EventRow
from events.services import event_publish
from events.types import Event
from projects import sessions
from projects.models import Job, Project, ProjectMembership, Run, Workflow, scope_of

_n = itertools.count(1)


def project(*, members=(), name: str | None = None, role: str = ProjectMembership.Role.OWNER) -> Project:
    """A project whose ``members`` all have ``role`` (owner by default)."""
    made = Project.objects.create(name=name or f"Project {next(_n)}")
    made.members.add(*members, through_defaults={"role": role})
    return made


def member(project_: Project, user, role: str = ProjectMembership.Role.EDITOR) -> ProjectMembership:
    return ProjectMembership.objects.create(project=project_, user=user, role=role)


def workflow(*, project_: Project | None = None, name: str | None = None, spec: str = "") -> Workflow:
    return Workflow.objects.create(
        project=project_ or project(), name=name or f"Workflow {next(_n)}", spec=spec
    )


def job(
    *, workflow_: Workflow | None = None, name: str | None = None, adaptor="@openfn/language-http@latest",
    code="get('https://example.org/api');",
) -> Job:  # fmt: skip
    return Job.objects.create(
        workflow=workflow_ or workflow(), name=name or f"Job {next(_n)}", adaptor=adaptor, code=code
    )


def run(*, job_: Job, log: str = "[JOB] ✘ TypeError: boom", state=Run.State.FAILED) -> Run:
    return Run.objects.create(job=job_, log=log, state=state)


def about(job_: Job) -> dict:
    """The fields of a session about ``job_`` (its subject and scope), for rows made
    directly."""
    return {"subject": job_, "scope": scope_of(job_.workflow.project_id)}


def job_session(
    *, user, job_: Job | None = None, content: str = "Why does my job fail?", **kw
) -> ChatSession:
    job_ = job_ or job(workflow_=workflow(project_=project(members=[user])))
    return sessions.job_session_create(job=job_, user=user, content=content, **kw)


def workflow_session(
    *, user, project_: Project | None = None, workflow_: Workflow | None = None, content="Sync patients daily"
) -> ChatSession:
    project_ = project_ or project(members=[user])
    return sessions.workflow_session_create(project=project_, workflow=workflow_, user=user, content=content)


def first_message(session: ChatSession) -> ChatMessage:
    return session.messages.order_by("created_at").first()


def event(*, user, type: str = "thing.happened", source: str = "tests", **metadata) -> EventRow:  # noqa: A002
    """An event of ``user``'s, published the way the API publishes it (routed to its
    handler unless a test holds routing back)."""
    return event_publish(
        event=Event(type=type, source=source, userID=user.get_username(), metadata=metadata), user=user
    )
