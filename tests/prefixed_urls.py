"""A site that mounts the assistant under ``ai/`` (``@pytest.mark.urls``)."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("ai/", include("assistant.urls")),
    path("ai/api/", include("projects.api_urls")),
]
