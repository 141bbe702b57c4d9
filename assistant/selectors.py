"""Reads of assistant state, each in a fixed number of queries."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.functions import Coalesce

from . import search
from .models import ChatMessage, ChatSession, Feedback, ShareLink, ToolCall

Status = ChatMessage.Status
DEFAULT_LIMIT = 20


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


def session_get(*, session_id, queryset: QuerySet[ChatSession] | None = None) -> ChatSession:
    """One session with its messages (every branch and version: ``conversation`` is
    the one shown) and related rows, in two queries. Raises ``ChatSession.DoesNotExist``."""
    queryset = queryset if queryset is not None else ChatSession.objects.all()
    messages = ChatMessage.objects.select_related("user").order_by("created_at", "id")
    return (
        queryset.select_related("user")
        .prefetch_related(Prefetch("messages", queryset=messages))
        .get(pk=session_id)
    )


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


def session_pending_user_messages(*, session: ChatSession) -> list[ChatMessage]:
    return list(
        session.messages.filter(role=ChatMessage.Role.USER, status=Status.PENDING).order_by("created_at")
    )


def session_search(
    *,
    sessions: QuerySet[ChatSession],
    search: str | None = None,
    sort: str = "desc",
    offset: int = 0,
    limit: int = DEFAULT_LIMIT,
) -> dict[str, Any]:
    """A page of ``sessions`` (those a user may read, filtered), whose title has
    ``search``; two queries, however many sessions there are."""
    if sort not in ("asc", "desc"):
        raise ValueError("sort is 'asc' or 'desc'")
    if search:
        sessions = sessions.filter(title__icontains=search)
    return session_page(sessions, sort=sort, offset=max(0, int(offset)), limit=max(1, int(limit)))


def message_search(
    *, sessions: QuerySet[ChatSession], query: str, offset: int = 0, limit: int = DEFAULT_LIMIT
):
    """The sessions of ``sessions`` (those a user may read) whose messages say every
    word of ``query``, best match first, each with the snippet of its best message:
    ``{"results": [(session, match)], "pagination"}``. Three queries on either
    database, however many sessions and messages (``assistant.search``)."""
    offset, limit = max(0, int(offset)), max(1, int(limit))
    found, total = search.matches(sessions=sessions, query=query, offset=offset, limit=limit)
    rows = ChatSession.objects.select_related("user", "subject_type").in_bulk([m.session_id for m in found])
    results = [(rows[uuid.UUID(m.session_id)], m) for m in found if uuid.UUID(m.session_id) in rows]
    return {"results": results, "pagination": PaginationMeta(offset, limit, total)}


def usage_of(*, user, since) -> dict[str, Any]:
    """``user``'s tokens since ``since``: in all and by model, in one query."""
    from django.db.models import Sum

    from .models import AIUsage

    rows = (
        AIUsage.objects.filter(user=user, created_at__gte=since)
        .values("model")
        .annotate(tokens=Sum("total_tokens"))
        .order_by("-tokens", "model")
    )
    by_model = [{"model": row["model"], "tokens": row["tokens"] or 0} for row in rows]
    return {"used": sum(row["tokens"] for row in by_model), "by_model": by_model}


def share_link_active(*, session: ChatSession) -> ShareLink | None:
    return ShareLink.objects.filter(session=session, revoked_at__isnull=True).first()


def share_link_of(*, token: str) -> ShareLink | None:
    """The link a share token opens (with its session and maker), None when no link
    has it or it was revoked. Whether its maker may still read the session is the
    caller's check."""
    if not isinstance(token, str) or not 16 <= len(token) <= 64:
        return None
    return (
        ShareLink.objects.select_related("session", "created_by")
        .filter(token_hash=ShareLink.hash_of(token), revoked_at__isnull=True)
        .first()
    )


def tool_call_status(*, call_id) -> str | None:
    """Where a writing tool's call stands (``ToolCall.Status``)."""
    return ToolCall.objects.filter(pk=call_id).values_list("status", flat=True).first()


def session_tool_calls(*, session: ChatSession, user) -> list[ToolCall]:
    """The calls of writing tools in ``session`` that ``user`` was asked to decide on."""
    calls = ToolCall.objects.filter(message__session=session, user_id=getattr(user, "pk", None))
    return list(calls)


def agent_tool_calls_waiting(*, user) -> list[ToolCall]:
    """The writing tools' calls outside agents made that wait for ``user``'s decision."""
    from django.utils import timezone

    return list(
        ToolCall.objects.filter(
            user_id=getattr(user, "pk", None),
            message__isnull=True,
            status=ToolCall.Status.PENDING,
            expires_at__gt=timezone.now(),
        ).order_by("created_at")
    )


def feedback_for_export(*, rating: str | None = None, model: str | None = None):
    """Every rating with its answer and that answer's question, oldest first, as dicts;
    a fixed number of queries however many rows, read in chunks."""
    rows = Feedback.objects.select_related("message", "message__reply_to", "user").order_by(
        "created_at", "id"
    )
    if rating:
        rows = rows.filter(rating=rating)
    if model:
        rows = rows.filter(model=model)
    for row in rows.iterator(chunk_size=500):
        question = row.message.reply_to
        yield {
            "question": question.content if question is not None else None,
            "answer": row.message.content,
            "rating": row.rating,
            "comment": row.comment,
            "model": row.model,
            "user": row.user.get_username(),
            "session": str(row.message.session_id),
            "message": str(row.message_id),
            "created_at": row.created_at.isoformat(),
        }


def session_feedback(*, session: ChatSession, user) -> list[Feedback]:
    """``user``'s ratings of the answers in ``session``."""
    return list(Feedback.objects.filter(message__session=session, user_id=getattr(user, "pk", None)))
