"""Celery tasks: thin wrappers that take ids and call ``events.services``."""

from celery import shared_task

from .services import event_route


@shared_task(bind=True, name="events.tasks.route_event", acks_late=True, reject_on_worker_lost=True)
def route_event(self, event_id: str) -> str:
    """Run the handler of one stored event. Retries itself (with backoff) on transient failures."""
    outcome = event_route(event_id=event_id, retries_done=self.request.retries)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in, max_retries=None)
    return outcome.state
