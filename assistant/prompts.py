"""What the model is asked of a conversation: its answered turns and the question.
Modes put their own system prompts and context before them."""

from __future__ import annotations

from django.db.models import Q

from .models import ChatMessage, ChatSession

HISTORY_LIMIT = 20


def history(session: ChatSession, before: ChatMessage) -> list[dict[str, str]]:
    """The answered turns on ``before``'s branch (the questions before it, each with
    its shown answer), oldest first, at most ``HISTORY_LIMIT`` messages; two queries."""
    parents = dict(
        session.messages.filter(role=ChatMessage.Role.USER, created_at__lte=before.created_at).values_list(
            "pk", "parent"
        )
    )
    chain, node = [], before.parent_id
    while node is not None and node not in chain and len(chain) < HISTORY_LIMIT:
        chain.append(node)
        node = parents.get(node)
    notes = Q(role=ChatMessage.Role.ASSISTANT, version_of__isnull=True, reply_to__isnull=True)
    rows = list(
        session.messages.filter(
            Q(pk__in=chain) | Q(reply_to__in=chain) | (notes & Q(created_at__lt=before.created_at))
        )
        .order_by("created_at")
        .values("pk", "reply_to", "status", "role", "content", "created_at")
    )
    questions = {row["pk"]: row for row in rows if row["pk"] in chain}
    answers = {row["reply_to"]: row for row in rows if row["reply_to"] is not None}
    left = [row for row in rows if row["pk"] not in questions and row["reply_to"] is None]
    turns: list[dict] = []
    for pk in reversed(chain):
        question = questions.get(pk)
        if question is None:
            continue
        while left and left[0]["created_at"] < question["created_at"]:
            turns.append(left.pop(0))
        turns += [row for row in (question, answers.get(pk)) if row is not None]
    turns += left
    answered = [row for row in turns if row["status"] == ChatMessage.Status.SUCCESS][-HISTORY_LIMIT:]
    return [{"role": row["role"], "content": row["content"]} for row in answered]


def plain_messages(session: ChatSession, message: ChatMessage) -> list[dict[str, str]]:
    return [*history(session, message), {"role": "user", "content": message.content}]
