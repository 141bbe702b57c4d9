"""A ``worker.task`` event gets its task (``queued``) in the transaction that stores it,
so that the task can be read as soon as ``POST /api/events`` answers."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from events.models import Event as EventRow
from events.types import WorkerTaskEvent

from .services import task_get_or_create


@receiver(post_save, sender=EventRow, dispatch_uid="agents.worker_task_for_event")
def worker_task_for_event(sender, instance: EventRow, created: bool, raw: bool = False, **kwargs) -> None:
    if created and not raw and instance.type == WorkerTaskEvent.TYPE:
        task_get_or_create(event=instance)
