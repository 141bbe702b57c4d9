from django.urls import path

from . import api

urlpatterns = [
    path("projects/", api.ProjectsView.as_view(), name="projects"),
    path("workflows/", api.WorkflowsView.as_view(), name="workflows"),
    path("jobs/", api.JobsView.as_view(), name="jobs"),
    path("runs/", api.RunsView.as_view(), name="runs"),
]
