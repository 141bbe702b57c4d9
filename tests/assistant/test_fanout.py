"""Wake-ups shared per process: one group membership per session, however many
sockets watch it, and a listener that falls behind reads the log instead."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from assistant import fanout, realtime
from tests import factories as f

from .test_consumers import next_of, open_socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def test_an_inbox_keeps_batches_in_order():
    inbox = fanout.Inbox(size=3)
    inbox.wake([{"seq": 1}])
    inbox.wake([{"seq": 2}])
    assert await inbox.get() == [{"seq": 1}]
    assert await inbox.get() == [{"seq": 2}]
    waiting = asyncio.create_task(inbox.get())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    inbox.wake([{"seq": 3}])
    assert await asyncio.wait_for(waiting, 1) == [{"seq": 3}]


async def test_a_full_inbox_drops_its_batches_and_says_so():
    inbox = fanout.Inbox(size=2)
    for seq in range(1, 6):
        inbox.wake([{"seq": seq}])
    assert await inbox.get() is None  # read the log
    inbox.wake([{"seq": 6}])
    assert await inbox.get() == [{"seq": 6}]


@pytest.fixture
def session(user, enqueued):
    return f.job_session(user=user)


async def test_sockets_of_one_session_share_one_group_membership(user, session):
    sockets = [await open_socket(user, session.pk) for _ in range(3)]
    group = realtime.session_group(session.pk)
    layer = get_channel_layer()
    members = await _members(layer, group)
    assert len(members) == 1
    assert fanout.fanout().listeners(str(session.pk)) == 3

    await sync_to_async(realtime.publish)(session.pk, "token", message_id="m", delta="x")
    for socket in sockets:
        assert (await next_of(socket, "token"))["delta"] == "x"

    await sockets[0].disconnect()
    await sockets[1].disconnect()
    assert fanout.fanout().listeners(str(session.pk)) == 1
    assert len(await _members(layer, group)) == 1
    await sockets[2].disconnect()
    assert fanout.fanout().listeners(str(session.pk)) == 0
    assert await _members(layer, group) == set()


async def _members(layer, group) -> set:
    if hasattr(layer, "groups"):  # the in-memory layer
        return set(layer.groups.get(group, {}))
    connection = layer.connection(layer.consistent_hash(group))
    return {m.decode() for m in await connection.zrange(layer._group_key(group), 0, -1)}


async def test_a_socket_that_falls_behind_still_gets_every_event_once(user, session, monkeypatch):
    monkeypatch.setattr(fanout.Inbox.__init__, "__defaults__", (1,))
    socket = await open_socket(user, session.pk)
    await socket.send_json_to({"action": "resume", "after": realtime.event_log().last_seq(str(session.pk))})
    for n in range(60):
        await sync_to_async(realtime.publish)(session.pk, "token", message_id="m", delta=str(n))
    received = [await next_of(socket, "token") for _ in range(60)]
    assert [e["delta"] for e in received] == [str(n) for n in range(60)]
    assert await socket.receive_nothing(timeout=0.3)
    await socket.disconnect()
