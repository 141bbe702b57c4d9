from django.urls import path

from . import views

app_name = "dashboard"

urlpatterns = [
    path("", views.index, name="index"),
    path("state", views.StateView.as_view(), name="state"),
    path("events", views.EventSubmitView.as_view(), name="event-submit"),
    path("messages/<uuid:message_id>/retry", views.MessageRetryView.as_view(), name="message-retry"),
    path("schedules/<uuid:schedule_id>/cancel", views.ScheduleCancelView.as_view(), name="schedule-cancel"),
]
