"""The Redis cache shares one client and one connection pool per process, across the
threads and request contexts that each get a cache object of their own."""

import asyncio
import threading

import pytest
from asgiref.sync import sync_to_async
from django.core.cache import caches
from django.test import override_settings

from assistant.caches import RedisCache

LOCATION = "redis://127.0.0.1:6379/15"


def test_cache_objects_of_one_location_share_one_client_and_pool():
    first, second = RedisCache(LOCATION, {}), RedisCache(LOCATION, {})
    assert first is not second
    assert first._cache is second._cache
    pools = set()
    barrier = threading.Barrier(8)

    def take():
        barrier.wait()
        pools.add(id(RedisCache(LOCATION, {})._cache._get_connection_pool(write=True)))

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(pool) for pool in pools}) == 1


def test_another_location_or_other_options_get_a_client_of_their_own():
    client = RedisCache(LOCATION, {})._cache
    assert RedisCache("redis://127.0.0.1:6379/14", {})._cache is not client
    assert RedisCache(LOCATION, {"OPTIONS": {"socket_timeout": 3}})._cache is not client


@override_settings(CACHES={"default": {"BACKEND": "assistant.caches.RedisCache", "LOCATION": LOCATION}})
def test_each_request_context_gets_the_same_client():
    """What each ASGI request sees: a cache object of its own (a new context), and with
    Django's own backend a new connection pool in it."""

    async def one_request():
        return await sync_to_async(lambda: caches["default"])()

    async def requests():
        return await asyncio.gather(*(asyncio.create_task(one_request()) for _ in range(4)))

    objects = asyncio.run(requests())
    assert len({id(cache) for cache in objects}) > 1
    assert len({id(cache._cache) for cache in objects}) == 1


@pytest.mark.services
def test_a_thousand_reads_from_many_threads_use_a_few_connections(settings):
    import redis

    from tests.conftest import services_configured

    assert services_configured()
    url = settings.REDIS_URL
    options = {"pool_class": "redis.BlockingConnectionPool", "max_connections": 50}
    cache = RedisCache(url, {"OPTIONS": options})
    cache.set("shared-pool", 1)

    read, pools = [], []  # the pools themselves, kept alive, so that no id is reused

    def reads():
        for _ in range(100):
            each = RedisCache(url, {"OPTIONS": options})
            read.append(each.get("shared-pool"))
            pools.append(each._cache._get_connection_pool(write=False))

    threads = [threading.Thread(target=reads) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert read == [1] * 1000
    assert len({id(pool) for pool in pools}) == 1
    pool = cache._cache._get_connection_pool(write=False)
    assert len(pool._connections) <= 10
    redis.Redis.from_url(url).delete(cache.make_key("shared-pool"))
