import asyncio
import threading
import uuid

import pytest
from channels.layers import get_channel_layer

from assistant import realtime


def test_the_memory_log_numbers_events_and_replays_from_a_seq():
    log = realtime.MemoryEventLog(max_events=3)
    for n in range(5):
        assert log.append("s", {"n": n})["seq"] == n + 1
    assert [e["n"] for e in log.read("s", after=3)] == [3, 4]
    assert [e["seq"] for e in log.read("s")] == [3, 4, 5], "capped to the newest"
    assert log.last_seq("s") == 5 and log.read("other") == []


@pytest.mark.services
def test_the_redis_log_numbers_events_and_replays_from_a_seq(settings):
    log = realtime.RedisEventLog(settings.REDIS_URL, max_events=100, ttl=60)
    session = str(uuid.uuid4())
    seqs = [log.append(session, {"type": "token", "delta": d})["seq"] for d in "abc"]
    assert seqs == [1, 2, 3]
    assert [e["delta"] for e in log.read(session, after=1)] == ["b", "c"]
    assert log.last_seq(session) == 3


def test_publish_survives_a_broken_log(monkeypatch, events):
    class Broken:
        def append(self, *args):
            raise ConnectionError("log down")

    monkeypatch.setattr(realtime, "event_log", lambda: Broken())
    event = realtime.publish("s", "token", delta="x")
    assert event["delta"] == "x" and "seq" not in event
    assert events == []


@pytest.mark.asyncio
async def test_events_published_from_threads_reach_the_group_in_order():
    layer = get_channel_layer()
    session = str(uuid.uuid4())
    channel = await layer.new_channel()
    await layer.group_add(realtime.session_group(session), channel)
    realtime.register_loop(asyncio.get_running_loop())

    def publish_many():
        for n in range(50):
            realtime.publish(session, "token", delta=str(n))

    thread = threading.Thread(target=publish_many)
    thread.start()
    received = []
    while len(received) < 50:
        message = await asyncio.wait_for(layer.receive(channel), 5)
        assert message["type"] == "session.events"
        received.extend(message["events"])
    thread.join()
    for task in asyncio.all_tasks():
        if task.get_coro().__qualname__ == "_Signaller._drain":
            task.cancel()  # this test's loop closes after it
    assert [e["delta"] for e in received] == [str(n) for n in range(50)]
    seqs = [e["seq"] for e in received]
    assert seqs == sorted(seqs)


@pytest.mark.services
def test_events_queued_together_are_numbered_in_order_per_session_and_waited_for_unless_tokens():
    sessions = [str(uuid.uuid4()) for _ in range(3)]
    for n in range(30):
        for session in sessions:
            queued = realtime.publish(session, "token", delta=str(n))
            assert "seq" not in queued, "a token's publisher does not wait for the log"
    finals = [realtime.publish(session, "message.status", status="success") for session in sessions]
    assert [final["seq"] for final in finals] == [31, 31, 31]
    for session in sessions:
        logged = realtime.event_log().read(session)
        assert [e["seq"] for e in logged] == list(range(1, 32))
        assert [e["delta"] for e in logged[:-1]] == [str(n) for n in range(30)]
        assert realtime.last_seq(session) == 31
