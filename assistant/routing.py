"""The assistant's websockets, relative to where the site mounts it (as ``assistant.urls``)."""

from django.urls import path

from events.consumers import UserEventsConsumer

from .consumers import SessionConsumer

websocket_urlpatterns = [
    path("ws/sessions/<uuid:session_id>/", SessionConsumer.as_asgi()),
    path("ws/events/", UserEventsConsumer.as_asgi()),
]
