"""A schedule deleted by any path (its owner deleted, the admin, cleanup) takes its
django-celery-beat periodic task with it, so beat stops sending it."""

from django.db.models.signals import post_delete
from django.dispatch import receiver

from .models import Schedule


@receiver(post_delete, sender=Schedule, dispatch_uid="events.schedule_periodic_task")
def delete_periodic_task(sender, instance: Schedule, **kwargs) -> None:
    from .services import periodic_task_delete

    periodic_task_delete(task_id=instance.periodic_task_id)
