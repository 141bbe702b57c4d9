"""Cron expressions for schedules: parsed and stepped with Celery's ``crontab``, the
same code Celery beat fires them with, so a schedule's next run is the moment beat
sends it."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from celery.schedules import ParseException, crontab

#: The longest a field may be (django-celery-beat's CrontabSchedule keeps them in
#: columns of 64 characters and more).
FIELD_MAX_LENGTH = 64
#: The five fields of a cron expression, in order.
FIELDS = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
FIELD_NAMES = ("minute", "hour", "day of month", "month", "day of week")


class CronError(ValueError):
    """An expression or timezone that can't be used; the text says what is wrong."""


def parse_timezone(name: str) -> ZoneInfo:
    if not isinstance(name, str) or not name.strip():
        raise CronError("must be an IANA timezone name such as UTC or Europe/Berlin.")
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise CronError(
            f"{name!r} is not a known timezone (use an IANA name such as Europe/Berlin)."
        ) from None


def parse_cron(expression: str) -> dict[str, str]:
    """The five fields of ``expression`` (``minute hour day-of-month month
    day-of-week``), checked by Celery's own parser."""
    if not isinstance(expression, str):
        raise CronError("must be a string of five fields: minute hour day-of-month month day-of-week.")
    parts = expression.split()
    if len(parts) != 5:
        raise CronError(
            f"must have five fields (minute hour day-of-month month day-of-week), not {len(parts)}."
        )
    fields = dict(zip(FIELDS, parts, strict=True))
    for name, label in zip(FIELDS, FIELD_NAMES, strict=True):
        if len(fields[name]) > FIELD_MAX_LENGTH:
            raise CronError(f"the {label} field must be at most {FIELD_MAX_LENGTH} characters.")
        try:
            crontab(**{name: fields[name]})
        except (ValueError, IndexError, KeyError, ParseException) as exc:
            raise CronError(
                f"the {label} field {fields[name]!r} is invalid: {exc or 'it cannot be read'}"
            ) from None
    try:
        crontab(**fields)
    except ValueError as exc:  # e.g. the 31st of February
        raise CronError(str(exc)) from None
    return fields


def next_cron_run(expression: str, tz: str, *, after: datetime) -> datetime:
    """The first time strictly after ``after`` that ``expression`` names in ``tz`` (UTC)."""
    zone = parse_timezone(tz)
    schedule = crontab(**parse_cron(expression))
    start, delta, _ = schedule.remaining_delta(after.astimezone(zone), tz=zone)
    return (start + delta).astimezone(UTC)
