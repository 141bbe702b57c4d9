"""Errors an event handler raises to say how its failure should be treated."""


class TransientEventError(Exception):
    """A failure that may pass: the event is routed again after a backoff, a few times."""


class EventHandlerError(Exception):
    """A failure that won't pass by trying again: the event fails at once with this text."""
