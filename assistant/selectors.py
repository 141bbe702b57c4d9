"""Reads of assistant state, each in a fixed number of queries."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.functions import Coalesce

from .models import ChatMessage, ChatSession

Status = ChatMessage.Status
DEFAULT_LIMIT = 20
#: Pass as ``workflow`` to list only the sessions of a project with no workflow.
NO_WORKFLOW = "none"


@dataclass(frozen=True)
class PaginationMeta:
    offset: int
    limit: int
    total_count: int

    @property
    def current_page(self) -> int:
        return self.offset // self.limit + 1 if self.limit else 1

    @property
    def page_size(self) -> int:
        return self.limit

    @property
    def has_next_page(self) -> bool:
        return self.offset + self.limit < self.total_count

    @property
    def has_prev_page(self) -> bool:
        return self.offset > 0

    @property
    def total_pages(self) -> int:
        return max(1, math.ceil(self.total_count / self.limit)) if self.limit else 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "offset": self.offset,
            "limit": self.limit,
            "current_page": self.current_page,
            "page_size": self.page_size,
            "total_count": self.total_count,
            "has_next_page": self.has_next_page,
            "has_prev_page": self.has_prev_page,
        }


def visible_messages() -> QuerySet[ChatMessage]:
    """A session's messages as shown: in order, cancelled ones hidden."""
    return (
        ChatMessage.objects.exclude(status=Status.CANCELLED)
        .select_related("user")
        .order_by("created_at", "id")
    )


def session_get(*, session_id, queryset: QuerySet[ChatSession] | None = None) -> ChatSession:
    """One session with its visible messages and related rows, in two queries.
    Raises ``ChatSession.DoesNotExist``."""
    queryset = queryset if queryset is not None else ChatSession.objects.all()
    return (
        queryset.select_related("user", "job", "job__workflow", "project", "workflow")
        .prefetch_related(Prefetch("messages", queryset=visible_messages()))
        .get(pk=session_id)
    )


def _sessions_for(*, job=None, project=None, workflow=None):
    if (job is None) == (project is None):
        raise ValueError("List the sessions of a job or of a project.")
    if job is not None:
        return ChatSession.objects.filter(job=job)
    sessions = ChatSession.objects.filter(project=project, mode="workflow_template")
    if workflow == NO_WORKFLOW:
        sessions = sessions.filter(workflow__isnull=True)
    elif hasattr(workflow, "pk"):
        sessions = sessions.filter(workflow=workflow)
    elif workflow is not None:
        sessions = sessions.filter(workflow_id=workflow)
    return sessions


def session_list(
    *,
    job=None,
    project=None,
    workflow=None,
    sort: str = "desc",
    offset: int = 0,
    limit: int = DEFAULT_LIMIT,
    queryset: QuerySet[ChatSession] | None = None,
) -> dict[str, Any]:
    """A page of a job's or a project's sessions (optionally one workflow's, or
    ``NO_WORKFLOW``), by ``updated_at``, with message counts and pagination meta.
    Two queries, however many sessions there are."""
    if sort not in ("asc", "desc"):
        raise ValueError("sort is 'asc' or 'desc'")
    offset, limit = max(0, int(offset)), max(1, int(limit))
    sessions = _sessions_for(job=job, project=project, workflow=workflow)
    if queryset is not None:
        sessions = sessions & queryset
    return session_page(sessions, sort=sort, offset=offset, limit=limit)


def session_page(sessions: QuerySet[ChatSession], *, sort: str, offset: int, limit: int) -> dict[str, Any]:
    order = ("updated_at", "id") if sort == "asc" else ("-updated_at", "-id")
    total = sessions.count()
    # A correlated subquery, not a JOIN + GROUP BY: the database counts messages only
    # for the page's rows instead of for every session before sorting.
    counts = (
        ChatMessage.objects.filter(session=OuterRef("pk"))
        .exclude(status=Status.CANCELLED)
        .order_by()
        .values("session")
        .annotate(n=Count("*"))
        .values("n")
    )
    rows = sessions.annotate(message_count=Coalesce(Subquery(counts), 0)).order_by(*order)
    # Past the end there is nothing to read (and an offset past the database's integer
    # range would be an error).
    page = list(rows[offset : offset + limit]) if offset < total else []
    return {"sessions": page, "pagination": PaginationMeta(offset, limit, total)}


def session_has_more(*, job=None, project=None, current_count: int) -> bool:
    """Whether more sessions exist beyond the ``current_count`` already loaded."""
    return _sessions_for(job=job, project=project).count() > current_count


def session_pending_user_messages(*, session: ChatSession) -> list[ChatMessage]:
    return list(
        session.messages.filter(role=ChatMessage.Role.USER, status=Status.PENDING).order_by("created_at")
    )


@dataclass
class JobContext:
    code: str
    adaptor: str
    run_log: str | None = None
    run_id: int | None = None


def session_put_code_and_adaptor(*, session: ChatSession, code: str, adaptor: str) -> ChatSession:
    """Attach a job's code and adaptor to the session (not saved) for the next query."""
    session.context = JobContext(code=code, adaptor=adaptor)
    return session


def session_enrich_with_job_context(*, session: ChatSession) -> ChatSession:
    """Attach the job's code and adaptor, and the log of the run the session follows
    (``meta["follow_run_id"]``), as ``session.context``."""
    job = session.job
    if job is None:
        session.context = None
        return session
    session_put_code_and_adaptor(session=session, code=job.code, adaptor=job.adaptor)
    run_id = (session.meta or {}).get("follow_run_id")
    if run_id is not None:
        run = job.runs.filter(pk=run_id).only("id", "log").first()
        if run is not None:
            session.context.run_log, session.context.run_id = run.log, run.pk
    return session


def session_search(
    *,
    user,
    mode: str | None = None,
    job: int | None = None,
    project: int | None = None,
    workflow: int | str | None = None,
    search: str | None = None,
    sort: str = "desc",
    offset: int = 0,
    limit: int = DEFAULT_LIMIT,
) -> dict[str, Any]:
    """A page of the sessions the user may read, filtered; two queries."""
    from .access import sessions_visible_to

    sessions = sessions_visible_to(user)
    if mode:
        sessions = sessions.filter(mode=mode)
    if job is not None:
        sessions = sessions.filter(job_id=job)
    if project is not None:
        sessions = sessions.filter(project_id=project)
    if workflow == NO_WORKFLOW:
        sessions = sessions.filter(workflow__isnull=True)
    elif workflow is not None:
        sessions = sessions.filter(workflow_id=workflow)
    if search:
        sessions = sessions.filter(title__icontains=search)
    return session_page(sessions, sort=sort, offset=offset, limit=limit)
