"""Open streams re-check their access when a project's membership changes, by whatever
path it changes (the admin's inline, a script, a service): a membership row saved or
deleted tells every session of that project."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import ProjectMembership, scope_of


@receiver(post_save, sender=ProjectMembership, dispatch_uid="membership-saved")
@receiver(post_delete, sender=ProjectMembership, dispatch_uid="membership-deleted")
def membership_changed(sender, instance: ProjectMembership, **kwargs) -> None:
    from assistant.models import ChatSession
    from assistant.services import session_access_changed

    sessions = ChatSession.objects.filter(scope=scope_of(instance.project_id))
    session_access_changed(session_ids=list(sessions.values_list("pk", flat=True)))
