from django.urls import path

from . import api

urlpatterns = [
    path("events", api.EventsView.as_view(), name="events"),
    path("events/<uuid:event_id>", api.EventDetailView.as_view(), name="event"),
]
