"""``/ws/sessions/{id}/``: a session's events, live and replayable, and its actions.

Every event carries the session's ``seq``. The channel layer only wakes the socket:
when a wake-up arrives with a gap, or after ``resume``, the socket reads what it
missed from the session's event log, so a client sees every event once, in order.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from rest_framework.exceptions import APIException, ValidationError

from accounts.websocket import CLOSE_FORBIDDEN, CLOSE_NOT_FOUND

from . import fanout, realtime, selectors, services
from .models import ChatMessage, ChatSession

logger = logging.getLogger(__name__)
#: Seconds live events wait for a client's first frame after it connects.
CONNECT_GRACE = 0.5


@database_sync_to_async
def _load(session_id, user) -> tuple[ChatSession | None, bool]:
    """(session, may_change) if the user may see it; (None, exists) otherwise."""
    session = selectors.sessions_visible_to(user).filter(pk=session_id).first()
    if session is None:
        return None, ChatSession.objects.filter(pk=session_id).exists()
    return session, session.user_id == user.pk or user.is_staff


def _error_text(exc: APIException) -> Any:
    return exc.detail


class SessionConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        self.session_id = str(self.scope["url_route"]["kwargs"]["session_id"])
        self.user = self.scope["user"]
        self.last_seq = 0
        #: Whether the socket knows where it stands in the log: after a ``resume``, or
        #: from where the log stood when it connected. Then a gap in the wake-ups means
        #: one was lost or is late, and the socket reads the log.
        self.synced = False
        session, found = await _load(self.session_id, self.user)
        if session is None:
            await self.accept()
            await self.close(code=CLOSE_FORBIDDEN if found else CLOSE_NOT_FOUND)
            return
        self.session, self.may_change = session, found
        # One pump at a time sends events: wake-ups and replays never interleave.
        self.sending = asyncio.Lock()
        # Live events wait for the client's first frame (a resume, usually) or a
        # moment, so that a resume never replays what the socket already sent.
        self.ready = asyncio.Event()
        self.grace = asyncio.get_running_loop().call_later(CONNECT_GRACE, self.ready.set)
        self.inbox = fanout.Inbox()
        await fanout.fanout().subscribe(self.session_id, self.inbox)
        # A client that never resumes gets every event after it connected: those after
        # this seq, whose wake-ups the subscription above receives.
        self.connected_seq = await sync_to_async(realtime.event_log().last_seq, thread_sensitive=False)(
            self.session_id
        )
        self.pump = asyncio.create_task(self._pump())
        await self.accept()

    async def disconnect(self, code) -> None:
        if getattr(self, "inbox", None) is not None:
            self.grace.cancel()
            self.pump.cancel()
            await asyncio.shield(fanout.fanout().unsubscribe(self.session_id, self.inbox))

    async def _pump(self) -> None:
        try:
            await self.ready.wait()
            async with self.sending:
                if not self.synced:
                    self.last_seq, self.synced = self.connected_seq, True
            while True:
                events = await self.inbox.get()
                if events is None:  # this socket fell behind: read what it missed
                    await self.catch_up()
                else:
                    await self.session_events({"events": events})
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001  (the socket went away while sending)
            logger.debug("Stopped sending to a socket of session %s", self.session_id, exc_info=True)

    # --- Client actions ---------------------------------------------------------------

    async def receive_json(self, content, **kwargs) -> None:
        action = content.get("action") if isinstance(content, dict) else None
        handler = {
            "send": self.action_send,
            "cancel": self.action_cancel,
            "retry": self.action_retry,
            "resume": self.action_resume,
        }.get(action)
        if handler is None:
            await self.send_error("Unknown action; use send, cancel, retry or resume.")
            return
        if action != "resume" and not self.may_change:
            await self.send_error("Only the owner of this session can change it.")
            return
        try:
            await handler(content)
        except APIException as exc:
            await self.send_error(_error_text(exc))
        finally:
            self.ready.set()

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        try:
            await super().receive(text_data=text_data, bytes_data=bytes_data, **kwargs)
        except ValueError:  # not JSON
            await self.send_error("Frames are JSON objects with an action.")

    async def send_error(self, detail) -> None:
        await self.send_json({"type": "error", "detail": detail})

    async def action_send(self, content) -> None:
        text = content.get("content")
        if not isinstance(text, str):
            raise ValidationError({"content": ["Send the message text as a string."]})
        await database_sync_to_async(self._send)(text, content.get("options"))

    def _send(self, text, options) -> None:
        from modes.registry import site

        session = ChatSession.objects.get(pk=self.session_id)
        site.get(session.mode).save_message(session=session, user=self.user, content=text, options=options)

    async def action_cancel(self, content) -> None:
        await database_sync_to_async(self._cancel)(content.get("message_id"))

    def _cancel(self, message_id) -> None:
        running = ChatMessage.objects.filter(
            session_id=self.session_id, role="user", status__in=["pending", "processing"]
        )
        message = (
            running.filter(pk=message_id).first() if message_id else running.order_by("-created_at").first()
        )
        if message is None:
            raise ValidationError({"message_id": ["No pending or processing message to cancel."]})
        services.message_cancel(message=message)

    async def action_retry(self, content) -> None:
        await database_sync_to_async(self._retry)(content.get("message_id"))

    def _retry(self, message_id) -> None:
        message = ChatMessage.objects.filter(session_id=self.session_id, pk=_uuid(message_id)).first()
        if message is None:
            raise ValidationError({"message_id": ["No such message in this session."]})
        services.message_retry(message=message)

    async def action_resume(self, content) -> None:
        after = content.get("after", 0)
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            raise ValidationError({"after": ["Give the last seq you saw, a whole number."]})
        async with self.sending:
            self.last_seq = after
            self.synced = True
            await self._catch_up()

    # --- Events -----------------------------------------------------------------------

    async def catch_up(self) -> None:
        async with self.sending:
            await self._catch_up()

    async def _catch_up(self) -> None:
        missed = await sync_to_async(realtime.event_log().read, thread_sensitive=False)(
            self.session_id, self.last_seq
        )
        for event in missed:
            await self.deliver(event)

    async def deliver(self, event) -> None:
        seq = event.get("seq", 0)
        if seq and seq <= self.last_seq:
            return
        await self.send_json(event)
        self.last_seq = max(self.last_seq, seq)

    async def session_events(self, message) -> None:
        async with self.sending:
            for event in message["events"]:
                seq = event.get("seq", 0)
                if self.synced and seq > self.last_seq + 1:
                    await self._catch_up()  # a wake-up was lost or is late: read the log
                await self.deliver(event)


def _uuid(value):
    import uuid

    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
