"""The events app's settings: ``settings.EVENTS`` over these defaults, read on use
(so a test's ``settings`` override applies at once)."""

from __future__ import annotations

from typing import Any

from assistant.conf import AppSettings

DEFAULTS: dict[str, Any] = {
    # Largest body POST /api/events accepts, in bytes.
    "MAX_BODY_BYTES": 64 * 1024,
    # Retries of a handler's transient failure; None follows ASSISTANT["MAX_RETRIES"]
    # (AI_MAX_RETRIES). The backoff is the assistant's (AI_RETRY_BACKOFF, doubled).
    "MAX_RETRIES": None,
    # A processing event whose worker has been silent this long may be claimed again.
    "STUCK_AFTER": 600.0,
    # Seconds a POST to NOTIFY_URL may take.
    "NOTIFY_TIMEOUT": 10.0,
    # A queued event nobody picked up for this long (the broker was down when it was
    # published) is handed to a worker again by the sweep.
    "QUEUED_AFTER": 120.0,
    # Celery queues by event type, e.g. {"llm.chat": "events.llm", "billing.*": "billing"}
    # (a "prefix.*" key matches every type under it). Unlisted types go to the default
    # queue; run a worker with -Q for each queue named here.
    "QUEUES": {},
    # Active schedules one user may have at once (each is a Celery beat entry); None
    # for no cap. One more is refused with 429 and nothing is stored.
    "MAX_ACTIVE_SCHEDULES": 50,
    # How often the embedded default looks for schedules that are due, in seconds.
    "SCHEDULER_INTERVAL": 1.0,
    # How early (seconds, for clock skew between beat and workers) a firing may claim
    # its slot. Keep it well under a minute, cron's resolution.
    "SCHEDULE_EARLY": 2.0,
}


events_settings = AppSettings("EVENTS", DEFAULTS)


def max_retries() -> int:
    from assistant.conf import assistant_settings

    value = events_settings.MAX_RETRIES
    return assistant_settings.MAX_RETRIES if value is None else value


def event_queue(event_type: str) -> str | None:
    """The Celery queue of ``event_type`` in ``EVENTS["QUEUES"]``: its own entry, else
    the longest ``prefix.*`` entry over it, else None (the default queue)."""
    queues = events_settings.QUEUES
    if event_type in queues:
        return queues[event_type]
    parts = event_type.split(".")
    for end in range(len(parts) - 1, 0, -1):
        queue = queues.get(".".join(parts[:end]) + ".*")
        if queue:
            return queue
    return None
