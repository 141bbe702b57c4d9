"""Websocket routes of every app."""

from django.urls import path

from events.consumers import UserEventsConsumer

websocket_urlpatterns = [
    path("ws/events/", UserEventsConsumer.as_asgi()),
]
