"""``/ws/sessions/{id}/``: a session's events, live and replayable, and its actions.

Every event carries the session's ``seq``. The channel layer only wakes the socket:
when a wake-up arrives with a gap, or after ``resume``, the socket reads what it
missed from the session's event log, so a client sees every event once, in order.

Access is decided on every use: each action re-checks it, and the socket re-checks
before it sends anything after a ``session.access`` event (visibility or membership
changed), at least every ``STREAM_RECHECK_INTERVAL`` seconds, and when its token
expires; a socket that lost access is closed with 4403.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import OrderedDict
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from rest_framework.exceptions import APIException, NotFound, ValidationError

from accounts.websocket import CLOSE_FORBIDDEN, CLOSE_NOT_FOUND

from . import fanout, realtime, services
from .access import Access, StreamCredentials, redact_for_viewer, session_access, stream_access
from .conf import assistant_settings
from .models import ChatMessage, ChatSession

logger = logging.getLogger(__name__)
#: Seconds live events wait for a client's first frame after it connects.
CONNECT_GRACE = 0.5


@database_sync_to_async
def _load(session_id, user) -> tuple[ChatSession | None, Access]:
    """(session, access) if the user may see it; (None, NONE) otherwise."""
    session = ChatSession.objects.filter(pk=session_id).first()
    if session is None:
        return None, Access.NONE
    return session, session_access(user=user, session=session)


def _error_code(exc: APIException) -> str:
    codes = exc.get_codes()
    return codes if isinstance(codes, str) else "invalid"


def _credentials(scope) -> StreamCredentials:
    session = scope.get("session")
    token = scope.get("auth_token")
    return StreamCredentials(
        user_id=scope["user"].pk,
        token=token,
        session_key=None if token or session is None else session.session_key,
    )


class SessionConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        self.session_id = str(self.scope["url_route"]["kwargs"]["session_id"])
        self.user = self.scope["user"]
        self.last_seq = 0
        #: Whether the socket knows where it stands in the log: after a ``resume``, or
        #: from where the log stood when it connected. Then a gap in the wake-ups means
        #: one was lost or is late, and the socket reads the log.
        self.synced = False
        session, access = await _load(self.session_id, self.user)
        if session is None or access is Access.NONE:
            await self.accept()
            await self.close(code=CLOSE_FORBIDDEN if session is not None else CLOSE_NOT_FOUND)
            return
        self.session, self.access = session, access
        self.is_owner = session.user_id == self.user.pk
        self.credentials = _credentials(self.scope)
        self.closed = False
        self.recheck_at = time.monotonic() + assistant_settings.STREAM_RECHECK_INTERVAL
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
        self.guard = asyncio.create_task(self._guard())
        await self.accept()

    async def disconnect(self, code) -> None:
        if getattr(self, "inbox", None) is not None:
            self.grace.cancel()
            self.pump.cancel()
            self.guard.cancel()
            await asyncio.shield(fanout.fanout().unsubscribe(self.session_id, self.inbox))

    # --- Access, decided again while the socket stays open ------------------------------

    async def recheck(self) -> bool:
        """Decide the socket's access again; close it with 4403 when it is gone."""
        user, access, is_owner = await database_sync_to_async(stream_access)(
            credentials=self.credentials, session_id=self.session_id
        )
        self.recheck_at = time.monotonic() + assistant_settings.STREAM_RECHECK_INTERVAL
        if access is Access.NONE:
            await self.shut(CLOSE_FORBIDDEN)
            return False
        self.user, self.access, self.is_owner = user, access, is_owner
        return True

    async def shut(self, code: int) -> None:
        if self.closed:
            return
        self.closed = True
        await self.close(code=code)
        current = asyncio.current_task()
        for task in (self.pump, self.guard):
            if task is not current:
                task.cancel()
        # Nothing more is sent to this socket: leave the session's wake-ups now.
        await asyncio.shield(fanout.fanout().unsubscribe(self.session_id, self.inbox))

    async def _guard(self) -> None:
        """Re-check at least every STREAM_RECHECK_INTERVAL, and when the token expires."""
        expires_at = self.credentials.expires_at
        try:
            while not self.closed:
                wait = self.recheck_at - time.monotonic()
                if expires_at is not None:
                    wait = min(wait, expires_at - time.time() + 0.05)
                await asyncio.sleep(max(wait, 0))
                expired = expires_at is not None and time.time() >= expires_at
                async with self.sending:
                    if not self.closed and (expired or time.monotonic() >= self.recheck_at):
                        await self.recheck()
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001  (the socket went away while closing)
            logger.debug("Stopped guarding a socket of session %s", self.session_id, exc_info=True)

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
        try:
            await handler(content)
        except APIException as exc:
            if isinstance(exc, NotFound):  # the session is gone for this user
                await self.shut(CLOSE_FORBIDDEN)
                return
            await self.send_error(exc.detail, code=_error_code(exc))
        finally:
            self.ready.set()

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        try:
            await super().receive(text_data=text_data, bytes_data=bytes_data, **kwargs)
        except ValueError:  # not JSON
            await self.send_error("Frames are JSON objects with an action.")

    async def send_error(self, detail, code: str = "invalid") -> None:
        await self.send_json({"type": "error", "error": code, "detail": detail})

    def _writable_session(self) -> tuple[ChatSession, Any]:
        """(session, user) if this socket's user may still change the session, decided
        now (NotFound or PermissionDenied otherwise)."""
        from .access import credentials_user, session_for

        user = credentials_user(self.credentials)
        if user is None:
            raise NotFound()
        return session_for(user=user, session_id=self.session_id, need=Access.WRITE), user

    async def action_send(self, content) -> None:
        text = content.get("content")
        if not isinstance(text, str):
            raise ValidationError({"content": ["Send the message text as a string."]})
        await database_sync_to_async(self._send)(text, content.get("options"))

    def _send(self, text, options) -> None:
        from modes.registry import site

        session, user = self._writable_session()
        services.disclaimer_check(user=user)
        site.get(session.mode).save_message(session=session, user=user, content=text, options=options)

    async def action_cancel(self, content) -> None:
        await database_sync_to_async(self._cancel)(content.get("message_id"))

    def _cancel(self, message_id) -> None:
        self._writable_session()
        running = ChatMessage.objects.filter(
            session_id=self.session_id, role="user", status__in=["pending", "processing"]
        )
        if message_id is not None and _uuid(message_id) is None:
            raise ValidationError({"message_id": ["Give the id of a message of this session."]})
        message = (
            running.filter(pk=_uuid(message_id)).first()
            if message_id is not None
            else running.order_by("-created_at").first()
        )
        if message is None:
            raise ValidationError({"message_id": ["No pending or processing message to cancel."]})
        services.message_cancel(message=message)

    async def action_retry(self, content) -> None:
        await database_sync_to_async(self._retry)(content.get("message_id"))

    def _retry(self, message_id) -> None:
        _session, user = self._writable_session()
        services.disclaimer_check(user=user)
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
        if self.closed or (seq and seq <= self.last_seq):
            return
        if (event.get("type") == "session.access" or time.monotonic() >= self.recheck_at) and not (
            await self.recheck()
        ):
            return
        await self.send(text_data=_frame(event, owner=self.is_owner))
        self.last_seq = max(self.last_seq, seq)

    async def session_events(self, message) -> None:
        async with self.sending:
            for event in message["events"]:
                seq = event.get("seq", 0)
                if self.synced and seq > self.last_seq + 1:
                    await self._catch_up()  # a wake-up was lost or is late: read the log
                await self.deliver(event)


#: The frames of the latest events, by event (the same dict reaches every socket of its
#: session in this process) and whether the reader owns the session.
_frames: OrderedDict[tuple[int, bool], tuple[dict, str]] = OrderedDict()
FRAMES_KEPT = 4096


def _frame(event: dict, *, owner: bool) -> str:
    """The text frame of ``event`` for an owner or a viewer: encoded once for every
    socket of the session in this process."""
    key = (id(event), owner)
    kept = _frames.get(key)
    if kept is not None and kept[0] is event:
        return kept[1]
    text = json.dumps(event if owner else redact_for_viewer(event))  # as send_json encodes
    _frames[key] = (event, text)
    if len(_frames) > FRAMES_KEPT:
        _frames.popitem(last=False)
    return text


def _uuid(value):
    if not isinstance(value, str | uuid.UUID):
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
