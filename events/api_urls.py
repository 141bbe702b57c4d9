from django.urls import path

from . import api

urlpatterns = [
    path("events", api.EventsView.as_view(), name="events"),
    path("events/<uuid:event_id>", api.EventDetailView.as_view(), name="event"),
    path("schedule", api.SchedulesView.as_view(), name="schedules"),
    path("schedule/<uuid:schedule_id>", api.ScheduleDetailView.as_view(), name="schedule"),
]
