"""Every accepted event, stored before it is routed, with how its handling went."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .types import SOURCE_MAX_LENGTH, TYPE_MAX_LENGTH
from .types import Event as EventData


class EventStatus(models.TextChoices):
    QUEUED = "queued"
    #: A worker has claimed it and its handler is running.
    PROCESSING = "processing"
    HANDLED = "handled"
    UNHANDLED = "unhandled"
    FAILED = "failed"


class Event(models.Model):
    Status = EventStatus

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=TYPE_MAX_LENGTH, db_index=True)
    source = models.CharField(max_length=SOURCE_MAX_LENGTH)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="events")
    timestamp = models.DateTimeField(help_text="When the event happened, as its sender says.")
    metadata = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(default=timezone.now, editable=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    handler = models.CharField(max_length=255, blank=True, help_text="The handler that ran for it.")
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            models.Index(fields=["-received_at"], name="event_recent"),
            models.Index(fields=["user", "-received_at"], name="event_user_recent"),
            models.Index(fields=["status", "received_at"], name="event_status_received"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=EventStatus.values), name="event_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.type} from {self.source} ({self.status})"

    def to_event(self) -> EventData:
        """The event as its sender posted it (``userID`` is the owner's username)."""
        return EventData(
            type=self.type,
            source=self.source,
            userID=self.user.get_username(),
            metadata=self.metadata,
            timestamp=self.timestamp,
        )

    def to_dict(self) -> dict:
        """The wire form with the event's ``id``."""
        return {"id": str(self.pk), **self.to_event().to_dict()}
