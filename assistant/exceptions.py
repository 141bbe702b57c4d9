"""Errors the assistant's services raise; each is also the API's answer to it."""

from rest_framework import exceptions, status

from config.errors import Conflict, ServiceUnavailable

USAGE_LIMIT_TEXT = "AI usage limit reached. Please try again later."
INTERRUPTED_TEXT = "The assistant was interrupted before it finished. Please try again."
NOT_CONFIGURED_TEXT = "The AI assistant is not configured. Set OPENAI_API_KEY (and OPENAI_BASE_URL)."


class UsageLimitReached(exceptions.APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_detail = USAGE_LIMIT_TEXT
    default_code = "usage_limit"


class AssistantNotConfigured(ServiceUnavailable):
    default_detail = NOT_CONFIGURED_TEXT
    default_code = "not_configured"


class InvalidStatus(ValueError):
    """A message status that is not one of the five."""


__all__ = [
    "AssistantNotConfigured",
    "Conflict",
    "INTERRUPTED_TEXT",
    "InvalidStatus",
    "USAGE_LIMIT_TEXT",
    "UsageLimitReached",
]
