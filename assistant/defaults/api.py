"""Django REST framework, its OpenAPI schema and JWT auth (simplejwt)."""

from datetime import timedelta

from .. import openapi
from . import env as cfg

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.tokens.LoginJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["assistant.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "assistant.errors.api_exception_handler",
    # Throttles count anonymous requests by accounts.clients.client_address, which
    # believes X-Forwarded-For only from TRUSTED_PROXIES; DRF's own classes, should a
    # view name them, take REMOTE_ADDR alone (NUM_PROXIES 0) rather than the header.
    "DEFAULT_THROTTLE_CLASSES": ["accounts.clients.UserRateThrottle"],
    "NUM_PROXIES": 0,
    "DEFAULT_THROTTLE_RATES": {
        # Registration and token issuing, per client address.
        "auth": "20/minute",
        # Every other API request, per user.
        "user": "600/minute",
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "AI assistant API",
    "DESCRIPTION": "Chat sessions, messages, modes, events, worker tasks and schedules of the AI assistant.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Every enum by name, so that none is named by where it happens to be used (messages,
    # tool calls, events, schedules and tasks each have a "status"; the message's keeps
    # the plain name). ModeEnum is the modes registered when the document is made.
    "ENUM_NAME_OVERRIDES": {
        "StatusEnum": "assistant.models.ChatMessage.Status",
        "RoleEnum": "assistant.models.ChatMessage.Role",
        "ToolCallStatusEnum": "assistant.models.ToolCall.Status",
        "RatingEnum": "assistant.models.Feedback.Rating",
        "ModeEnum": "assistant.api_shapes.mode_choices",
        "EventStatusEnum": "events.models.EventStatus",
        "ScheduleKindEnum": "events.models.ScheduleKind",
        "ScheduleStatusEnum": "events.models.ScheduleStatus",
        "TaskStatusEnum": "agents.models.TaskStatus",
        "LogLevelEnum": "agents.models.LogLevel",
    },
    # drf-spectacular's enum components first, then the assistant's: one tag per area,
    # the Error shape and the statuses every operation may answer (assistant.openapi).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "assistant.openapi.postprocess",
    ],
    "TAGS": openapi.TAGS,
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=15),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=7),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": cfg.JWT_SIGNING_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "LEEWAY": 0,
    # Every token belongs to a login (accounts.tokens): logging out, a password change
    # or deactivation ends all of that login's tokens at once.
    "AUTH_TOKEN_CLASSES": ("accounts.tokens.LoginAccessToken",),
    "TOKEN_REFRESH_SERIALIZER": "accounts.tokens.LoginRefreshSerializer",
    "TOKEN_BLACKLIST_SERIALIZER": "accounts.tokens.LogoutSerializer",
}
