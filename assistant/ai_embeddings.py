"""The assistant's own embedded model: conversation messages, found through the
sessions a user may read. Answers are written with ``update()`` (no ``post_save``), so
the question and its answer are embedded together, in the background, after each
answer is saved (``after_answer``)."""

from __future__ import annotations

import logging

from django.db import transaction

from . import embeddings
from .access import sessions_visible_to
from .conf import assistant_settings
from .models import ChatMessage

logger = logging.getLogger(__name__)


def _visible_messages(user):
    return ChatMessage.objects.filter(
        session__in=sessions_visible_to(user), status=ChatMessage.Status.SUCCESS
    )


messages = embeddings.register(
    embeddings.embedded(
        ChatMessage,
        fields=["content"],
        queryset=_visible_messages,
        show=["id", "session", "session__title", "role", "content", "created_at"],
        update="background",
        description="Messages of the conversations the user may read",
        track_saves=False,
    )
)


def after_answer(*, question_id, reply_id) -> None:
    """Embed a question and its answer once the answer is committed (EMBED_MESSAGES)."""
    if not assistant_settings.EMBED_MESSAGES or messages.label not in embeddings.site:
        return

    def embed() -> None:
        try:
            embeddings.changed(messages, [question_id, reply_id])
        except Exception:  # noqa: BLE001  (the answer is saved; search catches up by command)
            logger.warning("Message %s: not embedded", question_id, exc_info=True)

    transaction.on_commit(embed)
