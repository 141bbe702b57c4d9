"""Celery tasks: thin wrappers that take ids and call ``assistant.processing``."""

from celery import shared_task

from .processing import message_process, message_sweep


@shared_task(bind=True, name="assistant.tasks.process_message", acks_late=True, reject_on_worker_lost=True)
def process_message(self, message_id: str) -> str:
    """Process one user message. Retries itself (with backoff) on transient model errors."""
    outcome = message_process(message_id=message_id, retries_done=self.request.retries)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in, max_retries=None)
    return outcome.state


@shared_task(name="assistant.tasks.sweep_stuck_messages")
def sweep_stuck_messages() -> int:
    """Requeue messages whose worker died and pending ones nobody picked up."""
    return len(message_sweep())
