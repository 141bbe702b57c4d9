"""Wake-ups for a session's sockets, one channel-layer subscription per process.

Every websocket and event stream of a session in this process shares one membership of
the session's group: the process reads each wake-up once and hands it to its local
listeners (``Inbox``), instead of the channel layer carrying one copy per socket. A
listener that falls behind loses wake-ups, never events: its reader catches up from the
session's event log.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import deque
from typing import Any

from channels.layers import get_channel_layer

from . import realtime

logger = logging.getLogger(__name__)

#: Re-joins every subscribed group this often, before the layer's group expiry (a day).
REFRESH_INTERVAL = 3600.0


class Inbox:
    """A listener's queue of wake-ups. Bounded: past ``size`` batches it keeps none and
    tells its reader to read the log instead, so a stalled client costs no memory."""

    def __init__(self, size: int = 256) -> None:
        self._batches: deque[list[dict[str, Any]]] = deque()
        self._size = size
        self._overflowed = False
        self._ready = asyncio.Event()

    def wake(self, events: list[dict[str, Any]]) -> None:
        if len(self._batches) >= self._size:
            self._batches.clear()
            self._overflowed = True
        elif not self._overflowed:
            self._batches.append(events)
        self._ready.set()

    async def get(self) -> list[dict[str, Any]] | None:
        """The next batch of events, or None: some were dropped, read the log."""
        while not self._batches and not self._overflowed:
            self._ready.clear()
            await self._ready.wait()
        if self._overflowed:
            self._overflowed = False
            return None
        return self._batches.popleft()


class SessionFanout:
    """This process's (this event loop's) subscriptions to session groups."""

    def __init__(self) -> None:
        self._listeners: dict[str, set[Inbox]] = {}
        self._lock = asyncio.Lock()
        self._channel: str | None = None
        self._tasks: list[asyncio.Task] = []

    async def subscribe(self, session_id: str, inbox: Inbox) -> None:
        layer = get_channel_layer()
        async with self._lock:
            if self._channel is None:
                self._channel = await layer.new_channel()
                self._tasks = [
                    asyncio.create_task(self._read(self._channel)),
                    asyncio.create_task(self._refresh(self._channel)),
                ]
            listeners = self._listeners.setdefault(session_id, set())
            if not listeners:
                await layer.group_add(realtime.session_group(session_id), self._channel)
            listeners.add(inbox)
        realtime.register_loop(asyncio.get_running_loop())

    async def unsubscribe(self, session_id: str, inbox: Inbox) -> None:
        async with self._lock:
            listeners = self._listeners.get(session_id)
            if listeners is None or inbox not in listeners:
                return
            listeners.discard(inbox)
            if listeners:
                return
            del self._listeners[session_id]
            channel, stopped = self._channel, []
            if not self._listeners:  # nobody left to wake: stop reading until the next one
                stopped, self._tasks, self._channel = self._tasks, [], None
        try:
            await get_channel_layer().group_discard(realtime.session_group(session_id), channel)
        except Exception:  # noqa: BLE001  (the membership expires by itself)
            logger.warning("Could not leave the group of session %s", session_id, exc_info=True)
        for task in stopped:
            task.cancel()
        if stopped:
            await asyncio.wait(stopped, timeout=10)

    def listeners(self, session_id: str) -> int:
        return len(self._listeners.get(session_id, ()))

    async def _read(self, channel: str) -> None:
        """Hand the wake-ups of ``channel`` (this subscription's) to the listeners."""
        layer = get_channel_layer()
        while True:
            try:
                message = await layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001  (a layer outage: listeners catch up later)
                logger.warning("Reading session wake-ups failed", exc_info=True)
                await asyncio.sleep(1)
                continue
            events = message.get("events") or []
            if not events:
                continue
            for inbox in list(self._listeners.get(str(events[0].get("session_id")), ())):
                inbox.wake(events)

    async def _refresh(self, channel: str) -> None:
        layer = get_channel_layer()
        while True:
            await asyncio.sleep(REFRESH_INTERVAL)
            for session_id in list(self._listeners):
                try:
                    await layer.group_add(realtime.session_group(session_id), channel)
                except Exception:  # noqa: BLE001
                    logger.warning("Could not renew the group of session %s", session_id, exc_info=True)


_fanouts: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SessionFanout] = weakref.WeakKeyDictionary()


def fanout() -> SessionFanout:
    """The fan-out of the running event loop (the ASGI server's, or a test's)."""
    loop = asyncio.get_running_loop()
    found = _fanouts.get(loop)
    if found is None:
        found = _fanouts[loop] = SessionFanout()
    return found
