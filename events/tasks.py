"""Celery tasks: thin wrappers that take ids and call ``events.services``."""

from celery import shared_task

from .services import event_route, event_sweep, schedule_fire, schedule_fire_due


@shared_task(bind=True, name="events.tasks.route_event", acks_late=True, reject_on_worker_lost=True)
def route_event(self, event_id: str) -> str:
    """Run the handler of one stored event. Retries itself (with backoff) on transient failures."""
    outcome = event_route(event_id=event_id, retries_done=self.request.retries)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in, max_retries=None)
    return outcome.state


@shared_task(name="events.tasks.fire_schedule", acks_late=True, reject_on_worker_lost=True)
def fire_schedule(schedule_id: str) -> str | None:
    """Sent by Celery beat when a schedule is due: publish its event for the due slot."""
    row = schedule_fire(schedule_id=schedule_id)
    return None if row is None else str(row.pk)


@shared_task(name="events.tasks.sweep_events")
def sweep_events() -> int:
    """Periodic: hand forgotten and stuck events to a worker again."""
    return len(event_sweep())


@shared_task(name="events.tasks.fire_due_schedules")
def fire_due_schedules() -> int:
    """Periodic safety net: fire any schedule whose slot has passed without firing."""
    return schedule_fire_due()
