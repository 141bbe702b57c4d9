"""The embedded default's stand-in for Celery beat: schedules fire, and forgotten
events are swept, from threads of the web process."""

from assistant.dispatch import run_periodically

from .conf import events_settings
from .services import event_sweep, schedule_fire_due


def start_in_process_scheduler() -> None:
    """Start firing due schedules every ``SCHEDULER_INTERVAL`` seconds, and sweeping
    events every minute, unless a broker (and so beat) does that work. Starts once."""
    run_periodically(
        "events-scheduler",
        schedule_fire_due,
        every=lambda: events_settings.SCHEDULER_INTERVAL,
        first_after=1,
    )
    run_periodically("events-sweeper", event_sweep, every=lambda: 60.0, first_after=5)
