"""Django's Redis cache, with one client (and so one connection pool) per process.

Django keeps a cache object per thread and, under ASGI, per request context; its Redis
backend opens a connection pool in each. On the ASGI server that is a new connection to
Redis, and its handshake, for every request that touches the cache (every throttled
API request does). This backend hands every cache object of one location and options
the same client, whose pools redis-py makes safe across threads and forks.
"""

from __future__ import annotations

import threading

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
from django.utils.functional import cached_property

_clients: dict[tuple, SharedClient] = {}
_lock = threading.Lock()


class SharedClient(RedisCacheClient):
    """A client that threads share: it makes each server's pool once."""

    def _get_connection_pool(self, write):
        index = self._get_connection_pool_index(write)
        pool = self._pools.get(index)
        if pool is None:
            with _lock:
                pool = self._pools.get(index)
                if pool is None:
                    pool = self._pools[index] = self._pool_class.from_url(
                        self._servers[index], **self._pool_options
                    )
        return pool


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = SharedClient

    @cached_property
    def _cache(self):
        key = (tuple(self._servers), repr(sorted(self._options.items())))
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = self._class(self._servers, **self._options)
        return client
