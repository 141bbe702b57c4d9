"""Every change to events goes through these functions: storing an event, handing it
to a worker after the commit, and routing it to its handler."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from assistant.dispatch import backoff, run_with_retries, submit
from assistant.llm import LLMError

from .conf import events_setting, max_retries
from .exceptions import EventHandlerError, TransientEventError
from .models import Event as EventRow
from .registry import HandlerRegistry, site
from .types import Event, event_from_dict

logger = logging.getLogger(__name__)
Status = EventRow.Status


def event_validate(*, event: Event, registry: HandlerRegistry | None = None) -> Event:
    """``event`` as its type's dataclass, checked by it and by the handler of its type
    (see ``HandlerRegistry.register``). Raises ``EventValidationError`` naming the field."""
    typed = event_from_dict(event.to_dict())
    handler = (registry or site).get(typed.type)
    if handler is not None:
        handler.validate(typed)
    return typed


def event_publish(*, event: Event, user) -> EventRow:
    """Store ``event`` as ``user``'s (status queued) and route it once the transaction
    that stored it commits. ``event.userID`` must be the user's username. An event its
    type or its handler refuses raises ``EventValidationError`` and is not stored."""
    event_validate(event=event)
    if event.userID != user.get_username():
        raise ValueError(f"The event's userID {event.userID!r} is not {user.get_username()!r}.")
    with transaction.atomic():
        row = EventRow.objects.create(
            type=event.type,
            source=event.source,
            user=user,
            timestamp=event.timestamp,
            metadata=event.metadata,
        )
        event_id = row.pk
        # robust: the event is stored even when no worker can be reached now (logged).
        transaction.on_commit(lambda: event_enqueue(event_id=event_id), robust=True)
    return row


def event_enqueue(*, event_id, countdown: float = 0, retries_done: int = 0) -> None:
    """Hand the event to a worker: a Celery task with a broker, else this process's threads."""
    if settings.TASKS_IN_PROCESS:
        try:
            submit(_route_in_process, str(event_id), countdown, retries_done)
        except RuntimeError:
            # The process is shutting down (a command finishing): route it here.
            _route_in_process(str(event_id), countdown, retries_done)
        return
    from .tasks import route_event

    route_event.apply_async(args=[str(event_id)], countdown=countdown or None, retries=retries_done)


def _route_in_process(event_id: str, countdown: float, retries_done: int) -> None:
    run_with_retries(
        lambda retries: event_route(event_id=event_id, retries_done=retries),
        countdown=countdown,
        retries_done=retries_done,
    )


@dataclass(frozen=True)
class RouteOutcome:
    state: str  # skipped, handled, unhandled, failed, retry
    retry_in: float | None = None


def event_claim(*, event_id) -> EventRow | None:
    """Take the event for routing (queued -> processing) in one conditional UPDATE, or
    take over one whose worker went silent. None when it is not waiting: a duplicate
    delivery does nothing."""
    now = timezone.now()
    stale = now - timedelta(seconds=events_setting("STUCK_AFTER"))
    claimed = (
        EventRow.objects.filter(pk=event_id)
        .filter(Q(status=Status.QUEUED) | Q(status=Status.PROCESSING, started_at__lt=stale))
        .update(status=Status.PROCESSING, attempts=F("attempts") + 1, started_at=now)
    )
    if not claimed:
        return None
    return EventRow.objects.select_related("user").get(pk=event_id)


def _finish(row: EventRow, status: str, *, handler: str = "", error: str = "") -> None:
    EventRow.objects.filter(pk=row.pk, status=Status.PROCESSING).update(
        status=status, handler=handler, last_error=error, finished_at=timezone.now()
    )


def _is_transient(exc: Exception) -> bool:
    return isinstance(exc, TransientEventError) or (isinstance(exc, LLMError) and exc.transient)


def _error_text(exc: Exception) -> str:
    if isinstance(exc, LLMError | TransientEventError | EventHandlerError):
        return str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {exc}"


def event_route(*, event_id, retries_done: int = 0, registry: HandlerRegistry | None = None) -> RouteOutcome:
    """Run the handler of one event and record how it went: handled, unhandled (no
    handler), failed, or queued again with ``retry_in`` after a transient failure."""
    row = event_claim(event_id=event_id)
    if row is None:
        return RouteOutcome("skipped")
    handler = (registry or site).get(row.type)
    if handler is None:
        _finish(row, Status.UNHANDLED)
        logger.info("No handler for event %s of type %s", row.pk, row.type)
        return RouteOutcome(Status.UNHANDLED)
    try:
        handler(row)
    except Exception as exc:  # noqa: BLE001  (every failure is recorded on the row)
        error = _error_text(exc)[:2000]
        if _is_transient(exc) and retries_done < max_retries():
            delay = backoff(retries_done)
            EventRow.objects.filter(pk=row.pk, status=Status.PROCESSING).update(
                status=Status.QUEUED, handler=handler.name, last_error=error
            )
            logger.warning("Event %s: %s failed (%s); retrying in %.1f s", row.pk, handler.name, error, delay)
            return RouteOutcome("retry", retry_in=delay)
        if isinstance(exc, LLMError | TransientEventError | EventHandlerError):
            logger.warning("Event %s: %s failed: %s", row.pk, handler.name, error)
        else:
            logger.exception("Event %s: %s failed", row.pk, handler.name)
        _finish(row, Status.FAILED, handler=handler.name, error=error)
        return RouteOutcome(Status.FAILED)
    _finish(row, Status.HANDLED, handler=handler.name)
    return RouteOutcome(Status.HANDLED)
