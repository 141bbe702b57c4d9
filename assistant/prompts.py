"""What the model is asked of a conversation: its answered turns and the question.
Modes put their own system prompts and context before them."""

from __future__ import annotations

from .models import ChatMessage, ChatSession

HISTORY_LIMIT = 20


def history(session: ChatSession, before: ChatMessage) -> list[dict[str, str]]:
    """The answered turns before ``before``, oldest first, at most ``HISTORY_LIMIT``."""
    rows = (
        session.messages.filter(status=ChatMessage.Status.SUCCESS, created_at__lt=before.created_at)
        .exclude(pk=before.pk)
        .order_by("-created_at")
        .values_list("role", "content")[:HISTORY_LIMIT]
    )
    return [{"role": role, "content": content} for role, content in reversed(rows)]


def plain_messages(session: ChatSession, message: ChatMessage) -> list[dict[str, str]]:
    return [*history(session, message), {"role": "user", "content": message.content}]
