"""Conversation titles written by the model after the first answer.

A new session is titled with the first words of its question. Once its first answer is
saved, ``title_session`` asks the model for a short title (a prompt-backed action) and
puts it in place of those words, unless the user renamed the session meanwhile. On by
default with a real model (``ASSISTANT["MODEL_TITLES"]``), off with the demo model,
which keeps the first words. A failure keeps the first words and is only logged."""

from __future__ import annotations

import logging
from typing import Any

from . import actions, dispatch, llm, services
from .conf import assistant_settings
from .models import ChatMessage, ChatSession
from .tools import ToolContext

logger = logging.getLogger(__name__)

TITLE_SESSION = "assistant.tasks.title_session"
#: How much of the question and the answer the model reads for a title.
EXCERPT_CHARS = 2_000


def titles_on() -> bool:
    chosen = assistant_settings.MODEL_TITLES
    return (not llm.is_demo()) if chosen is None else bool(chosen)


TITLE_SYSTEM = "Write a short title (2 to 6 words, no quotes, no final period) for this conversation."


def _prompt(context: ToolContext, arguments: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": TITLE_SYSTEM},
        {"role": "user", "content": f"Question: {arguments['question']}\n\nAnswer: {arguments['answer']}"},
    ]


TITLE_ACTION = actions.prompt_action(
    name="title_conversation",
    description="A short title for a conversation, from its first question and answer.",
    input_schema={
        "properties": {"question": {"type": "string"}, "answer": {"type": "string"}},
        "required": ["question", "answer"],
    },
    output_schema={"properties": {"title": {"type": "string", "minLength": 1}}, "required": ["title"]},
)(_prompt)


def after_first_answer(*, session_id, reply_id) -> None:
    """Ask for a title when ``reply_id`` is the session's first answer (one query)."""
    if not titles_on():
        return
    others = ChatMessage.objects.filter(session_id=session_id, role=ChatMessage.Role.ASSISTANT).exclude(
        pk=reply_id
    )
    if not others.exists():
        dispatch.enqueue(TITLE_SESSION, str(session_id))


def title_session(session_id: str) -> str | None:
    """Title the session from its first question and answer; the new title, or None
    when it kept its own (renamed by the user, or the model failed)."""
    session = ChatSession.objects.select_related("user").filter(pk=session_id).first()
    if session is None:
        return None
    first = session.messages.filter(role=ChatMessage.Role.USER).order_by("created_at").first()
    reply = getattr(first, "reply", None) if first is not None else None
    if first is None or reply is None or session.title != services.session_title(first.content):
        return None
    try:
        result = actions.run(
            TITLE_ACTION,
            user=session.user,
            arguments={"question": first.content[:EXCERPT_CHARS], "answer": reply.content[:EXCERPT_CHARS]},
        )
    except Exception as exc:  # noqa: BLE001  (a title is a nicety: the first words stay)
        logger.warning("Session %s: no title from the model (%s)", session_id, exc)
        return None
    title = services.title_fitted(result["title"])
    if not title or not services.session_retitle(session_id=session.pk, was=session.title, title=title):
        return None
    return title


@dispatch.runs_here(TITLE_SESSION)
def _title_here(session_id: str, *, retries_done: int) -> dispatch.Outcome:
    title_session(session_id)
    return dispatch.Outcome("success")
