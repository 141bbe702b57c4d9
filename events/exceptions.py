"""Errors an event handler raises to say how its failure should be treated."""


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
