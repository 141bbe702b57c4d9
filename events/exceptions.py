"""Errors an event handler raises to say how its failure should be treated, and the
errors of schedules."""

from rest_framework import exceptions, status


class TransientEventError(Exception):
    """A failure that may pass: the event is routed again after a backoff, a few times."""


class EventHandlerError(Exception):
    """A failure that won't pass by trying again: the event fails at once with this text."""


class ScheduleError(ValueError):
    """A schedule that can't be made; ``field`` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ScheduleLimitReached(exceptions.APIException):
    """The user has as many active schedules as ``EVENTS["MAX_ACTIVE_SCHEDULES"]``
    allows; also the API's answer (429)."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "schedule_limit"
