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
REDIS_POOL_SIZE = 50


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

        # Threads wait for a free connection rather than failing past the pool's size.
        pool = redis.BlockingConnectionPool.from_url(url, max_connections=REDIS_POOL_SIZE, timeout=10)
        self._redis = redis.Redis(connection_pool=pool)
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
    """Sends wake-ups to channel-layer groups from any thread without blocking it.

    Threads append to a queue; one coroutine on one event loop drains it and sends each
    group one ``session.events`` message with every event queued for it since the last
    send, so under load many events share one group message. The loop is the ASGI
    server's once a consumer registered it (the in-memory layer only works there),
    otherwise one on a daemon thread of this process (a worker's Redis layer). Past
    ``QUEUE_SIZE`` the oldest wake-ups are dropped, never the events: the log has them.
    """

    QUEUE_SIZE = 10_000
    BATCH = 1_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._own_loop = False
        self._pending: deque = deque(maxlen=self.QUEUE_SIZE)
        self._wakeup: asyncio.Event | None = None
        self._scheduled = False

    def register_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            current = self._loop
            if current is loop or (current is not None and not self._own_loop and current.is_running()):
                return  # already sending on a live server loop
            self._start(loop, own=False)

    def _start(self, loop: asyncio.AbstractEventLoop, *, own: bool) -> None:
        self._loop, self._own_loop = loop, own
        ready = threading.Event()

        def create() -> None:
            self._wakeup = asyncio.Event()
            self._scheduled = False
            loop.create_task(self._drain(self._wakeup))
            ready.set()

        loop.call_soon_threadsafe(create)
        if own or _running_loop() is not loop:
            ready.wait(5)

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

    def send(self, group: str, event: dict[str, Any]) -> None:
        loop = self._ensure_loop()
        if loop is None:
            return
        self._pending.append((group, event))
        if not self._scheduled:
            self._scheduled = True
            if _running_loop() is loop:
                self._wake()
            else:
                loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()

    async def _drain(self, wakeup: asyncio.Event) -> None:
        layer = get_channel_layer()
        while True:
            await wakeup.wait()
            wakeup.clear()
            self._scheduled = False  # before taking: later appends schedule a new round
            batch: dict[str, list] = {}
            for _ in range(min(len(self._pending), self.BATCH)):
                group, event = self._pending.popleft()
                batch.setdefault(group, []).append(event)
            if self._pending:
                wakeup.set()
            for group, events in batch.items():
                try:
                    await layer.group_send(group, {"type": "session.events", "events": events})
                except Exception:  # noqa: BLE001  (a full or unreachable layer loses nothing)
                    logger.warning("Could not signal %s", group, exc_info=True)

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until every queued wake-up was taken (for tests and benchmarks)."""
        deadline = time.monotonic() + timeout
        while self._pending and time.monotonic() < deadline:
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
    event = {"type": event_type, "session_id": session_id, **data}
    try:
        event = event_log().append(session_id, event)
    except Exception:  # noqa: BLE001  (the database keeps the outcome; clients reload it)
        logger.warning("Could not log a %s event of session %s", event_type, session_id, exc_info=True)
        return event
    for listener in list(_listeners):
        listener(event)
    signaller.send(session_group(session_id), event)
    return event


def last_seq(session_id) -> int:
    """Where the session's event log stands, 0 when it can't be read. A client that
    reads the session's state after this and resumes its stream after it misses
    nothing and replays nothing older than what it read."""
    try:
        return event_log().last_seq(str(session_id))
    except Exception:  # noqa: BLE001  (the client then replays the log from the start)
        logger.warning("Could not read the event log of session %s", session_id, exc_info=True)
        return 0


@contextlib.contextmanager
def capture_events() -> Iterator[list[dict[str, Any]]]:
    """Collect the events published inside the block, for tests."""
    events: list[dict[str, Any]] = []
    _listeners.append(events.append)
    try:
        yield events
    finally:
        _listeners.remove(events.append)
