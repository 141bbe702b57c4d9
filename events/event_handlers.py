"""The built-in event handlers: ChatResponder answers ``llm.chat`` events with the
model; UserMessenger delivers ``user.message`` and ``llm.chat.response`` events to
their user."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

from assistant import llm
from assistant.exceptions import USAGE_LIMIT_TEXT
from assistant.services import db_connection_release, usage_limit_reached, usage_record

from .delivery import deliver_to_user
from .exceptions import EventHandlerError
from .models import Event as EventRow
from .notify import notify_post
from .registry import register
from .services import system_event_publish
from .types import Event, LLMChatEvent

logger = logging.getLogger(__name__)

CHAT_RESPONSE = "llm.chat.response"


@register(LLMChatEvent.TYPE)
class ChatResponder:
    """Sends ``metadata.messages`` to the model and publishes its answer as an
    ``llm.chat.response`` event (``{"reply", "usage", "in_reply_to"}``). The tokens
    count against the user's limits (usage source ``event``)."""

    name = "ChatResponder"
    system_types = (CHAT_RESPONSE,)

    def handle(self, row: EventRow) -> None:
        if EventRow.objects.filter(
            type=CHAT_RESPONSE, user=row.user_id, source=self.name, metadata__in_reply_to=str(row.pk)
        ).exists():
            return  # answered by an earlier attempt (only the owner's own answer from here counts)
        chat = LLMChatEvent.from_dict(row.to_event().to_dict())
        if usage_limit_reached(user=row.user):
            raise EventHandlerError(USAGE_LIMIT_TEXT)
        messages = [{"role": m["role"], "content": m["content"]} for m in chat.chat_messages]
        db_connection_release()
        result = llm.stream_chat(messages)
        with transaction.atomic():
            usage_record(user=row.user, usage=result.usage, model=result.model, source="event")
            system_event_publish(
                event=Event(
                    type=CHAT_RESPONSE,
                    source=self.name,
                    userID=row.user.get_username(),
                    metadata={"reply": result.content, "usage": result.usage, "in_reply_to": str(row.pk)},
                ),
                user=row.user,
            )


@register("user.message", CHAT_RESPONSE)
class UserMessenger:
    """Delivers the event's text (``metadata.text`` or ``metadata.reply``) to its user:
    live on ``/ws/events/`` as ``{"type", "id", "text", "event"}``, and, when
    ``NOTIFY_URL`` is set, as a signed POST of the event there."""

    name = "UserMessenger"

    def handle(self, row: EventRow) -> None:
        event = row.to_dict()
        metadata = row.metadata if isinstance(row.metadata, dict) else {}
        text = metadata.get("text") or metadata.get("reply") or ""
        live = True
        try:
            deliver_to_user(
                user_id=row.user_id,
                event={"type": row.type, "id": str(row.pk), "text": text, "event": event},
            )
        except Exception:
            live = False
            logger.exception("Event %s could not be sent to user %s's sockets", row.pk, row.user_id)
        url = settings.NOTIFY_URL
        if url:
            notify_post(url=url, payload=event)
        elif live:
            logger.debug("NOTIFY_URL is not set: event %s went to /ws/events/ only", row.pk)
        else:
            raise EventHandlerError("Neither /ws/events/ nor NOTIFY_URL could take the event.")
