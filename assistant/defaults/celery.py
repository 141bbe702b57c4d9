"""Celery and Celery beat (read by ``assistant.celery`` with the ``CELERY_`` namespace).

Tasks are acknowledged after they finish and requeued when their worker dies, one
message is prefetched at a time, and only JSON crosses the broker.
"""

from . import env as cfg

CELERY_BROKER_URL = cfg.CELERY_BROKER_URL or "memory://"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # A task not acknowledged within this many seconds is redelivered (Redis).
    "visibility_timeout": 3600,
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Beat looks for due and changed schedules every second, so a one-off schedule
# fires within about a second of its time.
CELERY_BEAT_MAX_LOOP_INTERVAL = 1
DJANGO_CELERY_BEAT_TZ_AWARE = True

# Model calls wait on the network, so a worker runs them on threads: one worker
# process streams many answers at once.
CELERY_WORKER_POOL = "threads"
CELERY_WORKER_CONCURRENCY = cfg.CELERY_WORKER_CONCURRENCY
CELERY_BEAT_SCHEDULE = {
    # Messages whose worker died are retaken within STUCK_AFTER + this of its last beat.
    "assistant-sweep-stuck-messages": {
        "task": "assistant.tasks.sweep_stuck_messages",
        "schedule": cfg.AI_SWEEP_INTERVAL,
    },
    "events-sweep": {
        "task": "events.tasks.sweep_events",
        "schedule": 60.0,
    },
    # Schedules fire through their own periodic tasks; this catches a slot whose
    # firing was lost (a worker that found nothing due, a database outage).
    "events-fire-due-schedules": {
        "task": "events.tasks.fire_due_schedules",
        "schedule": 30.0,
    },
}
