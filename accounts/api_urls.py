from django.urls import path

from . import api

urlpatterns = [
    path("register", api.RegisterView.as_view(), name="register"),
    path("token", api.TokenView.as_view(), name="token"),
    path("refresh", api.RefreshView.as_view(), name="refresh"),
    path("me", api.MeView.as_view(), name="me"),
    path("keys/", api.ApiKeysView.as_view(), name="api-keys"),
    path("keys/<uuid:key_id>/", api.ApiKeyView.as_view(), name="api-key"),
    # simplejwt's own endpoints: refresh with rotation, and logout (blacklist).
    path("token/refresh/", api.TokenRefreshView.as_view(), name="token-refresh"),
    path("token/blacklist/", api.TokenBlacklistView.as_view(), name="token-blacklist"),
]
