"""Celery tasks: thin wrappers that take ids and call ``assistant.processing``."""

from celery import shared_task

from .conf import assistant_settings
from .processing import message_process, message_sweep


@shared_task(bind=True, name="assistant.tasks.process_message", acks_late=True, reject_on_worker_lost=True)
def process_message(self, message_id: str, retries_done: int | None = None, reconnects: int = 0) -> str:
    """Process one user message. Retries itself with backoff on transient model errors,
    and soon (not counted as a retry) when its database connection broke, at most
    MAX_RECONNECTS times in a row; then the sweeper takes over."""
    retries_done = self.request.retries if retries_done is None else retries_done
    outcome = message_process(message_id=message_id, retries_done=retries_done)
    if outcome.retry_in is None:
        return outcome.state
    if outcome.state == "interrupted":
        if reconnects >= assistant_settings.MAX_RECONNECTS:
            return outcome.state
        kwargs = {"retries_done": retries_done, "reconnects": reconnects + 1}
    else:
        kwargs = {"retries_done": retries_done + 1}
    raise self.retry(args=[message_id], kwargs=kwargs, countdown=outcome.retry_in, max_retries=None)


@shared_task(name="assistant.tasks.sweep_stuck_messages")
def sweep_stuck_messages() -> int:
    """Requeue messages whose worker died and pending ones nobody picked up."""
    return len(message_sweep())


@shared_task(name="assistant.tasks.title_session")
def title_session(session_id: str) -> str | None:
    """Title a session from its first answer (``assistant.titles``)."""
    from .titles import title_session as write_title

    return write_title(session_id)


@shared_task(bind=True, name="assistant.tasks.embed_rows", acks_late=True, reject_on_worker_lost=True)
def embed_rows(self, label: str, pks: list[str], retries_done: int | None = None) -> str:
    """Embed rows of a declared model (``assistant.embeddings``); retries itself with
    backoff on transient model errors, as chat calls do."""
    from .embeddings.registry import embed_step

    retries_done = self.request.retries if retries_done is None else retries_done
    outcome = embed_step(label, pks, retries_done=retries_done)
    if outcome.retry_in is None:
        return outcome.state
    raise self.retry(
        args=[label, pks],
        kwargs={"retries_done": retries_done + 1},
        countdown=outcome.retry_in,
        max_retries=None,
    )
