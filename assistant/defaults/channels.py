"""Channels: the in-memory layer on the embedded default, Redis in production."""

from . import env as cfg

if cfg.REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # redis-py fails past 100 connections by default; a thousand sockets
                # closing at once each leave their group over a connection of their own.
                # Its default 5 s read timeout equals channels-redis's 5 s blocking pop,
                # so a wait for a message could fail (and lose the message) at random.
                "hosts": [{"address": cfg.REDIS_URL, "max_connections": 2000, "socket_timeout": 30}],
                "prefix": "assistant:channels",
                "capacity": 1000,
                "expiry": 60,
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
