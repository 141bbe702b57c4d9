"""Every URL of the assistant (the chat page, logins, the API and its docs, the
dashboard), for a site to mount where it chooses: ``path("ai/", include("assistant.urls"))``.
The websockets are in ``assistant.routing``, under the same prefix."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from .views import home, shared

urlpatterns = [
    path("", home, name="home"),
    path("share/<str:token>/", shared, name="shared-page"),
    path("accounts/", include("accounts.urls")),
    path("api/", include("accounts.api_urls")),
    path("api/", include("assistant.api_urls")),
    path("api/", include("events.api_urls")),
    path("api/", include("agents.api_urls")),
    path("dashboard/", include("dashboard.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]
