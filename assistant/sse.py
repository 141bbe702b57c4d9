"""``GET /api/sessions/{id}/events``: the session socket's events as Server-Sent Events,
for clients that can't hold a websocket. ``Last-Event-ID`` (or ``?after=``) resumes.

Access is decided as on the socket: again before anything is sent after a
``session.access`` event, at least every ``STREAM_RECHECK_INTERVAL`` seconds and when
the token expires; a stream that lost access ends.
"""

from __future__ import annotations

import asyncio
import json
import time

from asgiref.sync import sync_to_async
from django.http import JsonResponse, StreamingHttpResponse
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken

from . import fanout, realtime
from .access import Access, StreamCredentials, redact_for_viewer, stream_access
from .conf import assistant_settings

KEEPALIVE = 15.0


def _jwt_credentials(request) -> StreamCredentials | None:
    try:
        found = JWTAuthentication().authenticate(request)
    except (InvalidToken, AuthenticationFailed):
        return None
    if not found:
        return None
    user, token = found
    return StreamCredentials(user_id=user.pk, token=str(token))


async def _credentials(request) -> StreamCredentials | None:
    if request.headers.get("Authorization"):
        return await sync_to_async(_jwt_credentials)(request)
    user = await request.auser()
    if not user.is_authenticated:
        return None
    return StreamCredentials(user_id=user.pk, session_key=request.session.session_key)


def _frame(event) -> bytes:
    return f"id: {event.get('seq', '')}\nevent: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


async def session_events(request, session_id):
    credentials = await _credentials(request)
    if credentials is None:
        return JsonResponse(
            {"error": "not_authenticated", "detail": "Authentication credentials were not provided."},
            status=401,
        )
    _user, access, is_owner = await sync_to_async(stream_access)(
        credentials=credentials, session_id=session_id
    )
    if access is Access.NONE:
        return JsonResponse({"error": "not_found", "detail": "Not found."}, status=404)
    raw = request.headers.get("Last-Event-ID") or request.GET.get("after") or "0"
    if not raw.isdigit():
        return JsonResponse({"error": "invalid", "detail": "Last-Event-ID is a seq number."}, status=400)
    stream = _Stream(str(session_id), credentials, is_owner)
    response = StreamingHttpResponse(stream.frames(int(raw)), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


class _Stream:
    """One client's event stream: the log from a seq, then live events, each checked."""

    def __init__(self, session_id: str, credentials: StreamCredentials, is_owner: bool) -> None:
        self.session_id = session_id
        self.credentials = credentials
        self.is_owner = is_owner
        self.expires_at = credentials.expires_at
        self.recheck_at = time.monotonic() + assistant_settings.STREAM_RECHECK_INTERVAL

    async def allowed(self, event=None) -> bool:
        """Whether the stream may go on (deciding access again when it is due)."""
        due = time.monotonic() >= self.recheck_at or (
            self.expires_at is not None and time.time() >= self.expires_at
        )
        if not due and (event is None or event.get("type") != "session.access"):
            return True
        _user, access, self.is_owner = await sync_to_async(stream_access)(
            credentials=self.credentials, session_id=self.session_id
        )
        self.recheck_at = time.monotonic() + assistant_settings.STREAM_RECHECK_INTERVAL
        return access is not Access.NONE

    def frame(self, event) -> bytes:
        return _frame(event if self.is_owner else redact_for_viewer(event))

    def wait(self) -> float:
        wait = min(KEEPALIVE, self.recheck_at - time.monotonic())
        if self.expires_at is not None:
            wait = min(wait, self.expires_at - time.time() + 0.05)
        return max(wait, 0.01)

    async def frames(self, after: int):
        inbox = fanout.Inbox()
        await fanout.fanout().subscribe(self.session_id, inbox)
        read = sync_to_async(realtime.event_log().read, thread_sensitive=False)
        last = after
        try:
            yield b"retry: 2000\n\n"
            for event in await read(self.session_id, last):
                if not await self.allowed(event):
                    return
                yield self.frame(event)
                last = event["seq"]
            while True:
                try:
                    events = await asyncio.wait_for(inbox.get(), self.wait())
                except TimeoutError:
                    if not await self.allowed():
                        return
                    yield b": keep-alive\n\n"
                    continue
                if events is None:  # this stream fell behind: the log has every event
                    events = await read(self.session_id, last)
                for event in events:
                    seq = event.get("seq", 0)
                    if seq > last + 1:  # a wake-up was lost or is late: read the gap
                        for missed in await read(self.session_id, last):
                            if missed["seq"] < seq:
                                if not await self.allowed(missed):
                                    return
                                yield self.frame(missed)
                                last = missed["seq"]
                    if seq > last:
                        if not await self.allowed(event):
                            return
                        yield self.frame(event)
                        last = seq
        finally:
            # Shielded: a client that goes away cancels this stream, not the clean-up.
            await asyncio.shield(fanout.fanout().unsubscribe(self.session_id, inbox))
