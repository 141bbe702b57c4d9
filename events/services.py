"""Every change to events goes through these functions: storing an event, handing it
to a worker after the commit, and routing it to its handler."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, PeriodicTask, PeriodicTasks

from assistant import dispatch
from assistant.dispatch import Outcome, backoff
from assistant.llm import LLMError

from .conf import event_queue, events_settings, max_retries
from .cron import CronError, next_cron_run, parse_cron, parse_timezone
from .exceptions import EventHandlerError, ScheduleError, ScheduleLimitReached, TransientEventError
from .models import Event as EventRow
from .models import Schedule
from .registry import HandlerRegistry, site
from .types import Event, EventValidationError, event_from_dict

logger = logging.getLogger(__name__)
Status = EventRow.Status


def _refuse_reserved(event: Event, handlers: HandlerRegistry) -> None:
    """Refuse an event a client sends with a type or a source of the system's own
    events (``HandlerRegistry.reserved_types``, ``reserved_sources``): only the
    system's code publishes those, through ``system_event_publish``."""
    reserved = handlers.reserved_types()
    if event.type in reserved:
        raise EventValidationError(
            "type", f"{event.type} events are published by the system only ({reserved[event.type]})."
        )
    source = event.source.strip().casefold()
    if any(source == name.casefold() for name in handlers.reserved_sources()):
        raise EventValidationError(
            "source", f"{event.source.strip()!r} is the source of the system's own events; use another."
        )


def event_validate(*, event: Event, registry: HandlerRegistry | None = None, system: bool = False) -> Event:
    """``event`` as its type's dataclass, checked by it and by the handler of its type
    (see ``HandlerRegistry.register``). Unless ``system`` (the system's own code
    publishing it), the system's types and sources are refused. Raises
    ``EventValidationError`` naming the field."""
    handlers = registry or site
    typed = event_from_dict(event.to_dict())
    if not system:
        _refuse_reserved(typed, handlers)
    handler = handlers.get(typed.type)
    if handler is not None:
        handler.validate(typed)
    return typed


def event_publish(*, event: Event, user, schedule=None) -> EventRow:
    """Store ``event`` as ``user``'s (status queued) and route it once the transaction
    that stored it commits: what a client sends (the API, a schedule, the dashboard,
    ``send_event``). ``event.userID`` must be the user's username; ``schedule`` is the
    schedule publishing it, if any. An event its type or its handler refuses, or with a
    type or source of the system's own events, raises ``EventValidationError`` and is
    not stored."""
    return _publish(event=event, user=user, schedule=schedule, system=False)


def system_event_publish(*, event: Event, user) -> EventRow:
    """As ``event_publish``, for the system's own code (a handler's answer, such as
    ChatResponder's ``llm.chat.response``): the system's types and sources are allowed."""
    return _publish(event=event, user=user, schedule=None, system=True)


def _publish(*, event: Event, user, schedule, system: bool) -> EventRow:
    event_validate(event=event, system=system)
    if event.userID != user.get_username():
        raise ValueError(f"The event's userID {event.userID!r} is not {user.get_username()!r}.")
    with transaction.atomic():
        row = EventRow.objects.create(
            type=event.type,
            source=event.source,
            user=user,
            timestamp=event.timestamp,
            metadata=event.metadata,
            schedule=schedule,
        )
        event_id = row.pk
        # robust: the event is stored even when no worker can be reached now (logged).
        transaction.on_commit(lambda: event_enqueue(event_id=event_id, type=event.type), robust=True)
    return row


def event_enqueue(*, event_id, type: str = "", countdown: float = 0, retries_done: int = 0) -> None:
    """Hand the event to a worker: a Celery task with a broker (on its type's queue,
    ``EVENTS["QUEUES"]``), else this process's threads."""
    dispatch.enqueue(
        ROUTE_EVENT, str(event_id), countdown=countdown, retries_done=retries_done, queue=event_queue(type)
    )


#: A routing's states: skipped, handled, unhandled, failed, retry.
RouteOutcome = Outcome


def event_claim(*, event_id) -> EventRow | None:
    """Take the event for routing (queued -> processing) in one conditional UPDATE, or
    take over one whose worker went silent. None when it is not waiting: a duplicate
    delivery does nothing."""
    now = timezone.now()
    stale = now - timedelta(seconds=events_settings.STUCK_AFTER)
    claimed = (
        EventRow.objects.filter(pk=event_id)
        .filter(Q(status=Status.QUEUED) | Q(status=Status.PROCESSING, started_at__lt=stale))
        .update(status=Status.PROCESSING, attempts=F("attempts") + 1, started_at=now)
    )
    if not claimed:
        return None
    return EventRow.objects.select_related("user").get(pk=event_id)


def event_heartbeat(*, event_id) -> None:
    """Say the event's handler is still at work (a long one, such as an agent), so that
    it is not taken for stuck after ``STUCK_AFTER`` seconds and routed a second time."""
    EventRow.objects.filter(pk=event_id, status=Status.PROCESSING).update(started_at=timezone.now())


def _finish(row: EventRow, status: str, *, handler: str = "", error: str = "") -> None:
    EventRow.objects.filter(pk=row.pk, status=Status.PROCESSING).update(
        status=status, handler=handler, last_error=error, finished_at=timezone.now()
    )


def _is_transient(exc: Exception) -> bool:
    return isinstance(exc, TransientEventError) or (isinstance(exc, LLMError) and exc.transient)


#: What the event's owner reads when its handler failed in a way it did not expect
#: (the exception, which may hold internals, goes to the log only).
UNEXPECTED_ERROR_TEXT = "The handler failed unexpectedly; the error is in the server log."
ROUTE_EVENT = "events.tasks.route_event"


def _error_text(exc: Exception) -> str:
    if isinstance(exc, LLMError | TransientEventError | EventHandlerError):
        return str(exc) or type(exc).__name__
    return UNEXPECTED_ERROR_TEXT


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


def event_sweep(*, now=None) -> list:
    """Hand to a worker again the events nobody is working on: queued ones untouched
    for ``QUEUED_AFTER`` (their broker was down when they were published, or their
    retry was lost) and processing ones silent for ``STUCK_AFTER``. Returns their ids;
    the claim makes a duplicate harmless."""
    now = now or timezone.now()
    forgotten = now - timedelta(seconds=events_settings.QUEUED_AFTER)
    stale = now - timedelta(seconds=events_settings.STUCK_AFTER)
    rows = list(
        EventRow.objects.order_by("received_at")
        .filter(
            Q(status=Status.QUEUED, started_at__isnull=True, received_at__lt=forgotten)
            | Q(status=Status.QUEUED, started_at__lt=forgotten)
            | Q(status=Status.PROCESSING, started_at__lt=stale)
        )
        .values_list("pk", "type", "attempts")[:500]
    )
    for event_id, event_type, attempts in rows:
        # Every run so far counts against the retries (a stuck run included).
        event_enqueue(event_id=event_id, type=event_type, retries_done=attempts)
    if rows:
        logger.warning("Handed %d waiting events to a worker again", len(rows))
    return [event_id for event_id, _, _ in rows]


# Schedules ----------------------------------------------------------------------

FIRE_TASK = "events.tasks.fire_schedule"


def schedule_create(
    *, user, event: Event, run_at=None, cron: str | None = None, tz: str = "UTC", now=None
) -> Schedule:
    """Schedule ``event`` for ``user``: once at ``run_at`` (in the future), or at every
    time the five-field ``cron`` names in timezone ``tz``. Stored with its
    django-celery-beat periodic task. Raises ``ScheduleError`` naming the bad input, and
    ``ScheduleLimitReached`` when the user already has ``EVENTS["MAX_ACTIVE_SCHEDULES"]``
    active schedules (counted under a lock on the user, so concurrent creates can't
    pass the cap)."""
    now = now or timezone.now()
    if (run_at is None) == (cron is None):
        raise ScheduleError("non_field_errors", "Give either timestamp (once) or cron (repeating), not both.")
    event = event_validate(event=event)
    if event.userID != user.get_username():
        raise ValueError(f"The event's userID {event.userID!r} is not {user.get_username()!r}.")
    data = event.to_dict()
    data.pop("timestamp")
    if run_at is not None:
        if run_at <= now:
            raise ScheduleError("timestamp", f"must be in the future (it is now {now.isoformat()}).")
        fields, next_run = None, run_at
    else:
        try:
            zone = parse_timezone(tz).key
        except CronError as exc:
            raise ScheduleError("timezone", str(exc)) from None
        try:
            fields = parse_cron(cron)
        except CronError as exc:
            raise ScheduleError("cron", str(exc)) from None
        cron, tz = " ".join(fields.values()), zone
        next_run = next_cron_run(cron, tz, after=now)
    with transaction.atomic():
        _check_schedule_limit(user)
        schedule = Schedule.objects.create(
            user=user,
            event=data,
            kind=Schedule.Kind.ONCE if fields is None else Schedule.Kind.CRON,
            run_at=run_at,
            cron=cron or "",
            timezone=tz if fields is not None else "UTC",
            next_run_at=next_run,
        )
        when = (
            {"clocked": ClockedSchedule.objects.create(clocked_time=run_at), "one_off": True}
            if fields is None
            else {"crontab": CrontabSchedule.objects.get_or_create(**fields, timezone=tz)[0]}
        )
        schedule.periodic_task = PeriodicTask.objects.create(
            name=f"event schedule {schedule.pk}",
            task=FIRE_TASK,
            args=json.dumps([str(schedule.pk)]),
            description=f"Publishes a {event.type} event for {user.get_username()}.",
            **when,
        )
        schedule.save(update_fields=["periodic_task"])
    return schedule


def _check_schedule_limit(user) -> None:
    """Within the transaction that creates a schedule: lock the user's row (so that
    their creates take turns) and refuse one past the cap."""
    limit = events_settings.MAX_ACTIVE_SCHEDULES
    if limit is None:
        return
    get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk").first()
    if Schedule.objects.filter(user=user, status=Schedule.Status.ACTIVE).count() >= limit:
        raise ScheduleLimitReached(
            f"You may have at most {limit} active schedules; cancel one (DELETE /api/schedule/{{id}}) "
            "before adding another."
        )


def schedule_fire(*, schedule_id, now=None) -> EventRow | None:
    """Publish the schedule's event for the slot that is due (its ``next_run_at``),
    as if it were posted then. The slot is claimed with one conditional UPDATE, so
    each slot publishes once however many times beat sends it (a restart, two
    beats); None when nothing was due."""
    now = now or timezone.now()
    schedule = (
        Schedule.objects.select_related("user")
        .filter(pk=schedule_id, status=Schedule.Status.ACTIVE, next_run_at__isnull=False)
        .first()
    )
    early = timedelta(seconds=events_settings.SCHEDULE_EARLY)
    if schedule is None or schedule.next_run_at > now + early:
        logger.info("Schedule %s has nothing due", schedule_id)
        return None
    slot = schedule.next_run_at
    if schedule.kind == Schedule.Kind.ONCE:
        change = {"status": Schedule.Status.DONE, "next_run_at": None, "finished_at": now}
    else:
        # Slots missed while nothing fired are skipped, as beat skips them.
        change = {"next_run_at": next_cron_run(schedule.cron, schedule.timezone, after=max(now, slot))}
    with transaction.atomic():
        claimed = Schedule.objects.filter(
            pk=schedule.pk, status=Schedule.Status.ACTIVE, next_run_at=slot
        ).update(last_run_at=now, run_count=F("run_count") + 1, **change)
        if not claimed:
            return None
        row = _publish_scheduled(schedule, slot)
        if schedule.kind == Schedule.Kind.ONCE and schedule.periodic_task_id:
            PeriodicTask.objects.filter(pk=schedule.periodic_task_id).update(enabled=False)
            PeriodicTasks.update_changed()
    if row is not None:
        logger.info("Schedule %s fired for %s: event %s", schedule.pk, slot.isoformat(), row.pk)
    return row


def _publish_scheduled(schedule: Schedule, slot) -> EventRow | None:
    """Publish the schedule's event for ``slot``, whose claim is already made. An event
    that can't be published now (its owner deactivated, its handler refusing it, a
    failure) is logged and the slot is spent, so one bad schedule can't hold up others."""
    owner = schedule.user
    if not owner.is_active:
        logger.warning("Schedule %s: its owner is inactive; nothing published for %s", schedule.pk, slot)
        return None
    try:
        with transaction.atomic():
            event = event_from_dict({**schedule.event, "userID": owner.get_username(), "timestamp": slot})
            return event_publish(event=event, user=owner, schedule=schedule)
    except EventValidationError as exc:
        logger.warning("Schedule %s: its event for %s was refused: %s", schedule.pk, slot.isoformat(), exc)
    except Exception:
        logger.exception(
            "Schedule %s: its event for %s could not be published", schedule.pk, slot.isoformat()
        )
    return None


def schedule_fire_due(*, now=None) -> int:
    """Fire every schedule that is due, oldest slot first: on the embedded default in
    place of beat, and with beat as its safety net (a slot whose firing was lost, say
    to a database outage, still fires). Returns how many published an event."""
    now = now or timezone.now()
    due = (
        Schedule.objects.filter(status=Schedule.Status.ACTIVE, next_run_at__lte=now)
        .order_by("next_run_at")
        .values_list("pk", flat=True)
    )
    fired = 0
    for pk in list(due[:500]):
        try:
            fired += schedule_fire(schedule_id=pk, now=now) is not None
        except Exception:
            logger.exception("Firing schedule %s failed", pk)
    return fired


def schedule_cancel(*, schedule: Schedule) -> None:
    """Stop the schedule for good; its periodic task goes. Cancelling twice is fine."""
    with transaction.atomic():
        Schedule.objects.filter(pk=schedule.pk, status=Schedule.Status.ACTIVE).update(
            status=Schedule.Status.CANCELLED, next_run_at=None, finished_at=timezone.now()
        )
        periodic_task_delete(task_id=schedule.periodic_task_id)
    schedule.refresh_from_db()


def periodic_task_delete(*, task_id) -> None:
    """Delete a schedule's periodic task (and its clocked time), telling beat."""
    task = PeriodicTask.objects.filter(pk=task_id).select_related("clocked").first()
    if task is None:
        return
    clocked = task.clocked
    task.delete()  # tells beat its schedule changed
    if clocked is not None:
        clocked.delete()


def events_delete_finished(*, before, dry_run: bool = False) -> int:
    """Delete the events routed (handled, unhandled or failed) before ``before``;
    queued and processing ones stay until they are routed, however old. How many."""
    rows = EventRow.objects.filter(
        received_at__lt=before,
        status__in=[EventRow.Status.HANDLED, EventRow.Status.UNHANDLED, EventRow.Status.FAILED],
    )
    if dry_run:
        return rows.count()
    return rows.delete()[1].get(rows.model._meta.label, 0)


def schedules_delete_finished(*, before, dry_run: bool = False) -> int:
    """Delete one-off schedules that fired, and cancelled schedules, finished before
    ``before``, with their periodic tasks. Returns how many."""
    finished = Schedule.objects.filter(
        Q(kind=Schedule.Kind.ONCE, status=Schedule.Status.DONE) | Q(status=Schedule.Status.CANCELLED),
        finished_at__lt=before,
    )
    if dry_run:
        return finished.count()
    rows = list(finished.values_list("pk", "periodic_task_id", "periodic_task__clocked_id")[:10_000])
    with transaction.atomic():
        PeriodicTask.objects.filter(pk__in=[task for _, task, _ in rows if task]).delete()
        ClockedSchedule.objects.filter(pk__in=[clocked for _, _, clocked in rows if clocked]).delete()
        Schedule.objects.filter(pk__in=[pk for pk, _, _ in rows]).delete()
    return len(rows)


@dispatch.runs_here(ROUTE_EVENT)
def _route_here(event_id: str, *, retries_done: int) -> RouteOutcome:
    """The ``route_event`` task's work, when this process does it."""
    return event_route(event_id=event_id, retries_done=retries_done)
