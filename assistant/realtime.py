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
from concurrent.futures import Future
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


# KEYS: seq counter, stream. ARGV: max length, ttl, then each event's JSON (without
# seq). Numbers the events in order, appends them, and returns the last seq.
_APPEND = """
local count = #ARGV - 2
local last = redis.call('INCRBY', KEYS[1], count)
for i = 1, count do
  local seq = last - count + i
  local event = string.sub(ARGV[i + 2], 1, -2) .. ',"seq":' .. seq .. '}'
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], seq .. '-1', 'e', event)
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return last
"""


def _dumps(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"), default=str)


class RedisEventLog:
    """Production's log: a capped, expiring Redis Stream per session, whose entry ids
    are the seqs, so reading from a seq is one XRANGE."""

    def __init__(self, url: str, max_events: int = LOG_MAX_EVENTS, ttl: int = LOG_TTL) -> None:
        import redis

        # Threads wait for a free connection rather than failing past the pool's size.
        pool = redis.BlockingConnectionPool.from_url(url, max_connections=REDIS_POOL_SIZE, timeout=10)
        self._redis = redis.Redis(connection_pool=pool)
        self._append = self._redis.register_script(_APPEND)
        self._url = url
        self._max_events = max_events
        self._ttl = ttl

    @staticmethod
    def _keys(session_id: str) -> list[str]:
        return [f"assistant:seq:{session_id}", f"assistant:events:{session_id}"]

    def append(self, session_id: str, event: dict[str, Any]) -> dict[str, Any]:
        body = _dumps(event)
        seq = self._append(keys=self._keys(session_id), args=[self._max_events, self._ttl, body])
        return {**json.loads(body), "seq": int(seq)}

    async def append_many(self, client, entries: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
        """Append ``entries`` (session id, event) with the async ``client`` (of the
        running loop) in one round trip: one script call per session, in order. The
        events come back with their seqs, as JSON reads them."""
        by_session: dict[str, list[str]] = {}
        for session_id, event in entries:
            by_session.setdefault(session_id, []).append(_dumps(event))
        append = client.register_script(_APPEND)  # the pipeline loads it if Redis lost it
        pipe = client.pipeline(transaction=False)
        for session_id, bodies in by_session.items():
            await append(
                keys=self._keys(session_id), args=[self._max_events, self._ttl, *bodies], client=pipe
            )
        lasts = await pipe.execute()
        stored = {
            session_id: iter(
                [
                    {**json.loads(body), "seq": int(last) - len(bodies) + 1 + i}
                    for i, body in enumerate(bodies)
                ]
            )
            for (session_id, bodies), last in zip(by_session.items(), lasts, strict=True)
        }
        return [next(stored[session_id]) for session_id, _event in entries]

    def async_client(self):
        """A client for the running event loop."""
        import redis.asyncio

        return redis.asyncio.Redis.from_url(self._url)

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
    """Logs events in the Redis log and sends wake-ups to channel-layer groups, from any
    thread without blocking it.

    Threads append to a queue; one coroutine on one event loop drains it: every event
    queued since its last round goes to the log in one pipelined write (one script call
    per session), then each group gets one ``session.events`` message with all of its
    session's events of the round, the groups at once. So the busier the process, the
    more events share a write and a wake-up; an idle one writes each event at once. The
    loop is the process's background loop (the worker's streams run on it too), or, with
    the in-memory layer, which only works there, the ASGI server's once a consumer
    registered it. Past
    ``QUEUE_SIZE`` the oldest wake-ups are dropped, never the logged events: the log
    has them. (With the in-memory log, events are logged by their publisher and only
    the wake-ups are queued.)
    """

    QUEUE_SIZE = 10_000
    BATCH = 2_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._own_loop = False
        #: (session id, event, future or None, whether the event is logged yet).
        self._pending: deque = deque()
        self._wakeup: asyncio.Event | None = None
        self._scheduled = False
        self._rounds = 0  # rounds in progress, for ``flush``
        #: The loop of this process's consumers, for the in-memory layer.
        self._server_loop: asyncio.AbstractEventLoop | None = None

    def register_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Send wake-ups on ``loop``, the one the consumers of this process run on: what
        the in-memory layer needs. Any other layer is sent to from the background loop."""
        if not _in_memory_layer():
            return
        with self._lock:
            server = self._server_loop
            if server is loop or (server is not None and server.is_running()):
                return  # already sending on a live server loop
            self._server_loop = loop
            if not isinstance(event_log(), RedisEventLog):
                self._start(loop, own=False)  # the in-memory log: the drain only signals

    def _start(self, loop: asyncio.AbstractEventLoop, *, own: bool) -> None:
        self._loop, self._own_loop = loop, own
        ready = threading.Event()

        def create() -> None:
            self._wakeup = asyncio.Event()
            self._scheduled = False
            loop.create_task(self._drain(self._wakeup, own))
            ready.set()
            if self._pending:
                self._wake()

        loop.call_soon_threadsafe(create)
        if _running_loop() is not loop:
            ready.wait(5)

    def _ensure_loop(self, *, logging_here: bool) -> asyncio.AbstractEventLoop | None:
        from . import background

        with self._lock:
            if _in_memory_layer() and not logging_here:
                if self._loop is not None and self._loop.is_running():
                    return self._loop
                return None  # no consumer in this process listens
            loop = background.loop()
            if self._loop is not loop:
                self._start(loop, own=True)
            return loop

    def send(self, session_id: str, event: dict[str, Any], *, wait: bool = False) -> dict[str, Any]:
        """Queue ``event`` of the session. With the Redis log it is logged by the
        drain: with ``wait`` (and off the drain's loop) this returns it with its seq
        once it is logged, otherwise at once (without a seq)."""
        log = event_log()
        logging_here = isinstance(log, RedisEventLog)
        loop = self._ensure_loop(logging_here=logging_here)
        if loop is None:
            return event
        on_loop = _running_loop() is loop
        future: Future | None = Future() if logging_here and wait and not on_loop else None
        if len(self._pending) >= self.QUEUE_SIZE:
            self._drop_oldest_wakeup()
        self._pending.append((session_id, event, future, not logging_here))
        if not self._scheduled:
            self._scheduled = True
            if on_loop:
                self._wake()
            else:
                loop.call_soon_threadsafe(self._wake)
        if future is None:
            return event
        try:
            return future.result(timeout=10)
        except TimeoutError:
            logger.warning("A %s event of session %s was not logged in time", event.get("type"), session_id)
            return event

    def _drop_oldest_wakeup(self) -> None:
        """Make room by dropping the oldest wake-up whose event is already logged."""
        for index, item in enumerate(self._pending):
            if item[3]:
                del self._pending[index]
                return

    def _wake(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()

    async def _drain(self, wakeup: asyncio.Event, own: bool) -> None:
        # The layer and the log are looked up each round (a test may swap them); the
        # log's client is made once per log, on this loop.
        log, client = None, None
        while True:
            await wakeup.wait()
            wakeup.clear()
            self._scheduled = False  # before taking: later appends schedule a new round
            self._rounds += 1
            try:
                taken = [self._pending.popleft() for _ in range(min(len(self._pending), self.BATCH))]
                if self._pending:
                    wakeup.set()
                if event_log() is not log:
                    log = event_log()
                    client = log.async_client() if isinstance(log, RedisEventLog) else None
                logged = await self._log(client, log, taken)
                await self._signal_from(own, logged)
            finally:
                self._rounds -= 1

    async def _log(self, client, log, taken: list) -> list[dict[str, Any]]:
        """The round's events, logged: those not logged yet go to the log in one write,
        and whoever waits for one gets it back with its seq."""
        unlogged = [(session_id, event) for session_id, event, _f, logged in taken if not logged]
        stored: list[dict[str, Any]] = []
        if unlogged:
            try:
                stored = await log.append_many(client, unlogged)
            except Exception:  # noqa: BLE001  (the database keeps the outcome; clients reload it)
                logger.warning("Could not log %d event(s)", len(unlogged), exc_info=True)
        results, written = [], iter(stored)
        for _session_id, event, future, logged in taken:
            if not logged:
                event = next(written, None) or event
                if "seq" in event:
                    for listener in list(_listeners):
                        listener(event)
            if future is not None:
                future.set_result(event)
            if "seq" in event:
                results.append(event)
        return results

    async def _signal_from(self, own: bool, events: list[dict[str, Any]]) -> None:
        """Wake the groups of ``events``: from here, or with the in-memory layer on the
        consumers' loop (which only hears what is sent on it)."""
        if not events:
            return
        if not (own and _in_memory_layer()):
            await self._signal(get_channel_layer(), events)
            return
        server = self._server_loop
        if server is not None and server.is_running():
            asyncio.run_coroutine_threadsafe(self._signal(get_channel_layer(), events), server)

    async def _signal(self, layer, events: list[dict[str, Any]]) -> None:
        batch: dict[str, list] = {}
        for event in events:
            batch.setdefault(session_group(event["session_id"]), []).append(event)
        sent = await asyncio.gather(
            *(layer.group_send(group, {"type": "session.events", "events": e}) for group, e in batch.items()),
            return_exceptions=True,
        )
        for group, outcome in zip(batch, sent, strict=True):
            if isinstance(outcome, Exception):  # a full or unreachable layer loses nothing
                logger.warning("Could not signal %s", group, exc_info=outcome)

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until every queued event was logged and signalled (for tests and
        benchmarks)."""
        deadline = time.monotonic() + timeout
        while (self._pending or self._rounds) and time.monotonic() < deadline:
            time.sleep(0.005)


def _in_memory_layer() -> bool:
    return settings.CHANNEL_LAYERS["default"]["BACKEND"].endswith("InMemoryChannelLayer")


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


signaller = _Signaller()
register_loop = signaller.register_loop
_listeners: list[Callable[[dict[str, Any]], None]] = []
#: Events whose publisher does not wait for their seq: the many, and the ones nobody
#: reads back at once (the log and the wake-up keep their order with the others).
UNAWAITED = frozenset({"token"})


def publish(session_id, event_type: str, **data: Any) -> dict[str, Any]:
    """Log one event of the session and wake the session's listeners; returns the event
    with its ``seq`` (a ``token`` event is queued and returned at once, without it).
    Safe to call from any thread; never blocks on the channel layer, and never blocks
    an event loop."""
    session_id = str(session_id)
    event = {"type": event_type, "session_id": session_id, **data}
    log = event_log()
    if isinstance(log, RedisEventLog):
        return signaller.send(session_id, event, wait=event_type not in UNAWAITED)
    try:
        event = log.append(session_id, event)
    except Exception:  # noqa: BLE001  (the database keeps the outcome; clients reload it)
        logger.warning("Could not log a %s event of session %s", event_type, session_id, exc_info=True)
        return event
    for listener in list(_listeners):
        listener(event)
    signaller.send(session_id, event)
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
