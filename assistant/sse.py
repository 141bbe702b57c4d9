"""``GET /api/sessions/{id}/events``: the session socket's events as Server-Sent Events,
for clients that can't hold a websocket. ``Last-Event-ID`` (or ``?after=``) resumes."""

from __future__ import annotations

import asyncio
import json

from asgiref.sync import sync_to_async
from django.http import JsonResponse, StreamingHttpResponse
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken

from . import fanout, realtime, selectors

KEEPALIVE = 15.0


def _jwt_user(request):
    try:
        found = JWTAuthentication().authenticate(request)
    except (InvalidToken, AuthenticationFailed):
        return None
    return found[0] if found else None


async def _user(request):
    if request.headers.get("Authorization"):
        return await sync_to_async(_jwt_user)(request)
    user = await request.auser()
    return user if user.is_authenticated else None


def _frame(event) -> bytes:
    return f"id: {event.get('seq', '')}\nevent: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


async def session_events(request, session_id):
    user = await _user(request)
    if user is None:
        return JsonResponse(
            {"error": "not_authenticated", "detail": "Authentication credentials were not provided."},
            status=401,
        )
    visible = await sync_to_async(
        lambda: selectors.sessions_visible_to(user).filter(pk=session_id).exists()
    )()
    if not visible:
        return JsonResponse({"error": "not_found", "detail": "Not found."}, status=404)
    raw = request.headers.get("Last-Event-ID") or request.GET.get("after") or "0"
    if not raw.isdigit():
        return JsonResponse({"error": "invalid", "detail": "Last-Event-ID is a seq number."}, status=400)
    response = StreamingHttpResponse(_stream(str(session_id), int(raw)), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


async def _stream(session_id: str, after: int):
    inbox = fanout.Inbox()
    await fanout.fanout().subscribe(session_id, inbox)
    read = sync_to_async(realtime.event_log().read, thread_sensitive=False)
    last = after
    try:
        yield b"retry: 2000\n\n"
        for event in await read(session_id, last):
            yield _frame(event)
            last = event["seq"]
        while True:
            try:
                events = await asyncio.wait_for(inbox.get(), KEEPALIVE)
            except TimeoutError:
                yield b": keep-alive\n\n"
                continue
            if events is None:  # this stream fell behind: the log has every event
                events = await read(session_id, last)
            for event in events:
                seq = event.get("seq", 0)
                if seq > last + 1:  # a wake-up was lost or is late: read the gap
                    for missed in await read(session_id, last):
                        if missed["seq"] < seq:
                            yield _frame(missed)
                            last = missed["seq"]
                if seq > last:
                    yield _frame(event)
                    last = seq
    finally:
        # Shielded: a client that goes away cancels this stream, not the clean-up.
        await asyncio.shield(fanout.fanout().unsubscribe(session_id, inbox))
