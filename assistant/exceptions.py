"""Errors the assistant's services, modes and access checks raise. Each carries the
API's answer to it (a status, a code and a detail), so the API's error mapping
(``assistant.errors``), the socket and the commands turn them into their own replies;
no service or mode raises anything of the web framework's."""

from rest_framework import exceptions, status

from assistant.errors import Conflict, ServiceUnavailable

USAGE_LIMIT_TEXT = "AI usage limit reached. Please try again later."
INTERRUPTED_TEXT = "The assistant was interrupted before it finished. Please try again."
NOT_CONFIGURED_TEXT = "The AI assistant is not configured. Set OPENAI_API_KEY (and OPENAI_BASE_URL)."


class InvalidInput(exceptions.ValidationError):
    """Bad input: ``detail`` is a text, or the fields' errors ``{"field": ["text"]}``."""


class NotFound(exceptions.NotFound):
    """Nothing the user may see has this id."""


class PermissionDenied(exceptions.PermissionDenied):
    """The user may see it but not do this."""


class UsageLimitReached(exceptions.APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_detail = USAGE_LIMIT_TEXT
    default_code = "usage_limit"


class AssistantNotConfigured(ServiceUnavailable):
    default_detail = NOT_CONFIGURED_TEXT
    default_code = "not_configured"


class TooManyInFlight(exceptions.APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_detail = "Wait for the answer in progress before asking again."
    default_code = "too_many_in_flight"


class DisclaimerRequired(exceptions.PermissionDenied):
    default_detail = "Accept the current disclaimer before asking the assistant (POST /api/disclaimer/)."
    default_code = "disclaimer_required"


class QueueUnavailable(ServiceUnavailable):
    """The work was saved but could not be handed to a worker: it is answered once the
    queue is back (the sweeper hands it on). ``result`` is what the request created."""

    default_detail = (
        "The assistant's work queue is unavailable. Your message is saved and will be answered "
        "when the queue is back."
    )
    default_code = "queue_unavailable"

    def __init__(self, result=None) -> None:
        super().__init__()
        self.result = result


class InvalidStatus(ValueError):
    """A message status that is not one of the five."""


__all__ = [
    "AssistantNotConfigured",
    "Conflict",
    "DisclaimerRequired",
    "QueueUnavailable",
    "TooManyInFlight",
    "INTERRUPTED_TEXT",
    "InvalidInput",
    "InvalidStatus",
    "NotFound",
    "PermissionDenied",
    "USAGE_LIMIT_TEXT",
    "UsageLimitReached",
]


class InvalidModelOutput(exceptions.APIException):
    """A prompt-backed action's answer did not match its output schema, even after a
    repair round."""

    status_code = status.HTTP_502_BAD_GATEWAY
    default_detail = "The model's answer did not match the result this action promises. Please try again."
    default_code = "invalid_model_output"
