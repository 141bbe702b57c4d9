"""Sending events to a user's open ``/ws/events/`` sockets."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from .consumers import user_events_group


def deliver_to_user(*, user_id: int, event: dict[str, Any]) -> None:
    """Push ``event`` to every socket the user has open on ``/ws/events/``."""
    layer = get_channel_layer()
    async_to_sync(layer.group_send)(user_events_group(user_id), {"type": "user.event", "event": event})
