"""``/ws/events/``: live delivery of the user's own events."""

from channels.generic.websocket import AsyncJsonWebsocketConsumer


def user_events_group(user_id) -> str:
    return f"user-events.{user_id}"


class UserEventsConsumer(AsyncJsonWebsocketConsumer):
    """Joins the user's group; every ``user.event`` message sent there is passed on.

    The websocket auth middleware has already refused anonymous sockets.
    """

    async def connect(self) -> None:
        self.group = user_events_group(self.scope["user"].pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code) -> None:
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs) -> None:
        await self.send_json({"type": "error", "detail": "This socket only delivers events."})

    async def user_event(self, message) -> None:
        await self.send_json(message["event"])
