from django.urls import path

from . import api

urlpatterns = [
    path("tasks", api.TasksView.as_view(), name="tasks"),
    path("tasks/<uuid:task_id>", api.TaskDetailView.as_view(), name="task"),
]
