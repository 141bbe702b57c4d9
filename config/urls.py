from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    # This site mounts the assistant at its root; another may choose "ai/".
    path("", include("assistant.urls")),
    # The demo site's own objects, which its built-in modes are about.
    path("api/", include("projects.api_urls")),
]

handler400 = "assistant.errors.bad_request"
handler404 = "assistant.errors.page_not_found"
handler500 = "assistant.errors.server_error"
