"""Telling clients what happened to a session: the one publisher of stream events.

Every event gets the session's next ``seq``, is appended to the session's event log
(Redis with ``REDIS_URL``, process memory otherwise), and is sent to the session's
channel-layer group. The group message is only a wake-up: a client that missed it
reads the log from the last ``seq`` it saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings

logger = logging.getLogger(__name__)

#: Events kept per session, and for how long after the last one (seconds).
LOG_MAX_EVENTS = 5000
LOG_TTL = 24 * 3600


def session_group(session_id) -> str:
    return f"chat-session.{session_id}"


class MemoryEventLog:
    """The embedded default's log: per-session deques in this process."""

    def __init__(self, max_events: int = LOG_MAX_EVENTS) -> None:
        self._lock = threading.Lock()
        self._seq: dict[str, int] = {}
        self._events: dict[str, deque] = {}
        self._max_events = max_events

    def append(self, session_id: str, event: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            seq = self._seq.get(session_id, 0) + 1
            self._seq[session_id] = seq
            event = {**event, "seq": seq}
            self._events.setdefault(session_id, deque(maxlen=self._max_events)).append(event)
        return event

    def read(self, session_id: str, after: int = 0) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self._events.get(session_id, ()) if e["seq"] > after]

    def last_seq(self, session_id: str) -> int:
        with self._lock:
            return self._seq.get(session_id, 0)

    def clear(self) -> None:
        with self._lock:
            self._seq.clear()
            self._events.clear()


# KEYS: seq counter, stream. ARGV: event JSON (without seq), max length, ttl.
_APPEND = """
local seq = redis.call('INCR', KEYS[1])
local event = string.sub(ARGV[1], 1, -2) .. ',"seq":' .. seq .. '}'
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], seq .. '-1', 'e', event)
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return {seq, event}
"""


class RedisEventLog:
    """Production's log: a capped, expiring Redis Stream per session, whose entry ids
    are the seqs, so reading from a seq is one XRANGE."""

    def __init__(self, url: str, max_events: int = LOG_MAX_EVENTS, ttl: int = LOG_TTL) -> None:
        import redis

        self._redis = redis.Redis.from_url(url)
        self._append = self._redis.register_script(_APPEND)
        self._max_events = max_events
        self._ttl = ttl

    @staticmethod
    def _keys(session_id: str) -> list[str]:
        return [f"assistant:seq:{session_id}", f"assistant:events:{session_id}"]

    def append(self, session_id: str, event: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(event, separators=(",", ":"), default=str)
        seq, stored = self._append(keys=self._keys(session_id), args=[body, self._max_events, self._ttl])
        return json.loads(stored)

    def read(self, session_id: str, after: int = 0) -> list[dict[str, Any]]:
        entries = self._redis.xrange(self._keys(session_id)[1], min=f"{after + 1}-0", max="+")
        return [json.loads(fields[b"e"]) for _id, fields in entries]

    def last_seq(self, session_id: str) -> int:
        value = self._redis.get(self._keys(session_id)[0])
        return int(value or 0)


_log = None
_log_lock = threading.Lock()


def event_log() -> MemoryEventLog | RedisEventLog:
    global _log
    with _log_lock:
        if _log is None:
            redis_url = getattr(settings, "REDIS_URL", None)
            _log = RedisEventLog(redis_url) if redis_url else MemoryEventLog()
        return _log


class _Signaller:
    """Sends group messages from any thread without blocking it.

    Messages go, in order, through one queue on one event loop: the ASGI server's
    loop once a consumer has registered it (the in-memory layer only works there),
    otherwise a loop on a daemon thread of this process (a worker's Redis layer). A
    full queue drops the wake-up, never the event: the log has it.
    """

    QUEUE_SIZE = 10_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue | None = None
        self._own_loop = False

    def register_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            if self._loop is loop or (
                self._loop is not None and not self._own_loop and self._loop.is_running()
            ):
                return
            self._start(loop, own=False)

    def _start(self, loop: asyncio.AbstractEventLoop, *, own: bool) -> None:
        self._loop, self._own_loop = loop, own
        queue_ready = threading.Event()

        def create() -> None:
            self._queue = asyncio.Queue(self.QUEUE_SIZE)
            loop.create_task(self._drain(self._queue))
            queue_ready.set()

        loop.call_soon_threadsafe(create)
        if not own and _running_loop() is loop:
            return  # we are on that loop: the queue is made before anything is sent
        queue_ready.wait(5)

    def _ensure_loop(self) -> asyncio.AbstractEventLoop | None:
        with self._lock:
            if self._loop is not None and self._loop.is_running():
                return self._loop
            if settings.CHANNEL_LAYERS["default"]["BACKEND"].endswith("InMemoryChannelLayer"):
                return None  # no consumer in this process listens
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="realtime-signal", daemon=True).start()
            self._start(loop, own=True)
            return loop

    def send(self, group: str, message: dict[str, Any]) -> None:
        loop = self._ensure_loop()
        if loop is None:
            return
        if _running_loop() is loop:
            self._put(group, message)
        else:
            loop.call_soon_threadsafe(self._put, group, message)

    def _put(self, group: str, message: dict[str, Any]) -> None:
        if self._queue is None:
            return
        try:
            self._queue.put_nowait((group, message))
        except asyncio.QueueFull:
            logger.warning("Realtime signal queue full; %s will catch up from the log", group)

    async def _drain(self, queue: asyncio.Queue) -> None:
        layer = get_channel_layer()
        while True:
            group, message = await queue.get()
            try:
                await layer.group_send(group, message)
            except Exception:  # noqa: BLE001  (a full or unreachable layer loses nothing)
                logger.warning("Could not signal %s", group, exc_info=True)

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until every queued signal was sent (for tests and benchmarks)."""
        loop, queue = self._loop, self._queue
        if loop is None or queue is None or _running_loop() is loop:
            return
        deadline = time.monotonic() + timeout
        while not queue.empty() and time.monotonic() < deadline:
            time.sleep(0.005)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


signaller = _Signaller()
register_loop = signaller.register_loop
_listeners: list[Callable[[dict[str, Any]], None]] = []


def publish(session_id, event_type: str, **data: Any) -> dict[str, Any]:
    """Log one event of the session and wake the session's listeners; returns the event
    with its ``seq``. Safe to call from any thread; never blocks on the channel layer."""
    session_id = str(session_id)
    event = event_log().append(session_id, {"type": event_type, "session_id": session_id, **data})
    for listener in list(_listeners):
        listener(event)
    signaller.send(session_group(session_id), {"type": "session.event", "event": event})
    return event


@contextlib.contextmanager
def capture_events() -> Iterator[list[dict[str, Any]]]:
    """Collect the events published inside the block, for tests."""
    events: list[dict[str, Any]] = []
    _listeners.append(events.append)
    try:
        yield events
    finally:
        _listeners.remove(events.append)
