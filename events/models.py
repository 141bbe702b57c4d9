"""Every accepted event, stored before it is routed, with how its handling went."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.timezone import now

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
    schedule = models.ForeignKey(
        "events.Schedule", null=True, blank=True, on_delete=models.SET_NULL, related_name="events",
        help_text="The schedule that published it.",
    )  # fmt: skip

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


class ScheduleKind(models.TextChoices):
    #: Fires once, at ``run_at``.
    ONCE = "once"
    #: Fires at every time its cron expression names, in its timezone.
    CRON = "cron"


class ScheduleStatus(models.TextChoices):
    ACTIVE = "active"
    #: A one-off schedule that has fired.
    DONE = "done"
    CANCELLED = "cancelled"


class Schedule(models.Model):
    """An event to publish later (once) or repeatedly (cron). Celery beat sends it
    through its django-celery-beat ``PeriodicTask``; ``next_run_at`` is the slot the
    next firing claims, so each slot publishes the event once."""

    Kind = ScheduleKind
    Status = ScheduleStatus

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="schedules")
    event = models.JSONField(help_text="The event to publish: type, source, userID, metadata.")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    run_at = models.DateTimeField(null=True, blank=True, help_text="When a one-off schedule fires.")
    cron = models.CharField(max_length=400, blank=True)
    timezone = models.CharField(max_length=64, default="UTC", help_text="The IANA timezone of the cron.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    next_run_at = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    run_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=now, editable=False)
    finished_at = models.DateTimeField(
        null=True, blank=True, help_text="When it fired for good or was cancelled."
    )
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="schedule_user_recent"),
            models.Index(fields=["status", "next_run_at"], name="schedule_due"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=ScheduleKind.values), name="schedule_kind_valid"),
            models.CheckConstraint(
                condition=Q(status__in=ScheduleStatus.values), name="schedule_status_valid"
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind=ScheduleKind.ONCE, run_at__isnull=False) | Q(kind=ScheduleKind.CRON) & ~Q(cron="")
                ),
                name="schedule_has_its_time",
            ),
        ]

    def __str__(self) -> str:
        when = self.run_at.isoformat() if self.kind == ScheduleKind.ONCE else f"{self.cron} ({self.timezone})"
        return f"{self.event.get('type', '?')} at {when} ({self.status})"
