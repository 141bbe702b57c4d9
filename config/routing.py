"""Websocket routes of every app."""

from django.urls import path

from assistant.consumers import SessionConsumer
from events.consumers import UserEventsConsumer

websocket_urlpatterns = [
    path("ws/sessions/<uuid:session_id>/", SessionConsumer.as_asgi()),
    path("ws/events/", UserEventsConsumer.as_asgi()),
]
