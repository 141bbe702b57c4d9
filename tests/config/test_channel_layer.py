"""The Redis channel layer holds a wait for a message longer than its own blocking pop."""

import asyncio

import pytest
from channels.layers import get_channel_layer

pytestmark = [pytest.mark.services, pytest.mark.asyncio]


async def test_a_receive_outlasts_the_layers_blocking_pop():
    layer = get_channel_layer()
    channel = await layer.new_channel()
    waiting = asyncio.create_task(layer.receive(channel))
    await asyncio.sleep(layer.brpop_timeout + 1.5)  # more than one blocking pop
    assert not waiting.done(), waiting.exception()
    await layer.send(channel, {"type": "wake.up"})
    assert (await asyncio.wait_for(waiting, 5))["type"] == "wake.up"
