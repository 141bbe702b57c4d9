"""Schedules: cron parsing, creating, firing once per slot, cancelling, cleaning up."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, PeriodicTask

from events import services
from events.cron import CronError, next_cron_run, parse_cron
from events.exceptions import ScheduleError, ScheduleLimitReached
from events.models import Event as EventRow
from events.models import Schedule
from events.types import Event

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 2, 10, 7, 30, tzinfo=UTC)  # a Monday


def nothing_stored() -> bool:
    return (
        not Schedule.objects.exists() and not PeriodicTask.objects.filter(name__startswith="event").exists()
    )


def an_event(user, **changes) -> Event:
    fields = {"source": "tests", "type": "user.message", "userID": user.username, "metadata": {"text": "hi"}}
    return Event(**{**fields, **changes})


def at_once(call, threads: int = 8) -> list:
    """What ``call`` returned in each of ``threads`` threads started at the same moment,
    each on a database connection of its own."""
    barrier, results = threading.Barrier(threads), []

    def run():
        barrier.wait()
        try:
            results.append(call())
        finally:
            connection.close()

    started = [threading.Thread(target=run) for _ in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join()
    return results


# Cron ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression, after, expected",
    [
        ("*/15 * * * *", NOW, datetime(2026, 3, 2, 10, 15, tzinfo=UTC)),
        ("*/15 * * * *", datetime(2026, 3, 2, 10, 15, tzinfo=UTC), datetime(2026, 3, 2, 10, 30, tzinfo=UTC)),
        ("0 9 * * mon-fri", NOW, datetime(2026, 3, 3, 9, 0, tzinfo=UTC)),
        ("30 2 1 * *", NOW, datetime(2026, 4, 1, 2, 30, tzinfo=UTC)),
        ("0 0 1 1 *", NOW, datetime(2027, 1, 1, 0, 0, tzinfo=UTC)),
    ],
)
def test_next_cron_run(expression, after, expected):
    assert next_cron_run(expression, "UTC", after=after) == expected


def test_a_cron_runs_in_its_timezone():
    # 09:00 in Berlin is 08:00 UTC in winter and 07:00 UTC in summer.
    assert next_cron_run("0 9 * * *", "Europe/Berlin", after=NOW) == datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
    summer = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert next_cron_run("0 9 * * *", "Europe/Berlin", after=summer) == datetime(2026, 7, 2, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "expression, says",
    [
        ("* * * *", "five fields"),
        ("* * * * * *", "five fields"),
        ("61 * * * *", "minute"),
        ("* 24 * * *", "hour"),
        ("* * 32 * *", "day of month"),
        ("* * * 13 *", "month"),
        ("* * * * funday", "day of week"),
        ("0 0 31 2 *", "never occurs"),
        ("1, * * * *", "minute"),
        ("-1 * * * *", "minute"),
        ("*/ * * * *", "minute"),
        ("*/* * * * *", "minute"),
        ("* * * * " + ",".join(["1"] * 40), "at most 64"),
        ("", "five fields"),
    ],
)
def test_a_bad_cron_says_what_is_wrong(expression, says):
    with pytest.raises(CronError, match=says):
        parse_cron(expression)


# Creating -----------------------------------------------------------------------


def test_a_one_off_schedule_is_stored_with_a_clocked_periodic_task(user):
    at = NOW + timedelta(hours=1)
    schedule = services.schedule_create(user=user, event=an_event(user), run_at=at, now=NOW)
    assert (schedule.kind, schedule.status, schedule.run_at, schedule.next_run_at) == (
        "once",
        "active",
        at,
        at,
    )
    assert schedule.event == {"source": "tests", "type": "user.message", "userID": user.username,
                              "metadata": {"text": "hi"}}  # fmt: skip
    task = PeriodicTask.objects.get(pk=schedule.periodic_task_id)
    assert task.task == "events.tasks.fire_schedule" and task.args == f'["{schedule.pk}"]'
    assert task.one_off and task.enabled and task.clocked.clocked_time == at and task.crontab is None


def test_a_cron_schedule_is_stored_with_a_crontab_periodic_task(user):
    schedule = services.schedule_create(
        user=user, event=an_event(user), cron=" */5  9-17 * * 1-5 ", tz="Europe/Berlin", now=NOW
    )
    assert (schedule.kind, schedule.cron, schedule.timezone) == ("cron", "*/5 9-17 * * 1-5", "Europe/Berlin")
    assert schedule.next_run_at == datetime(2026, 3, 2, 10, 10, tzinfo=UTC)  # 11:10 in Berlin
    crontab = PeriodicTask.objects.get(pk=schedule.periodic_task_id).crontab
    fields = (crontab.minute, crontab.hour, crontab.day_of_month, crontab.month_of_year, crontab.day_of_week)
    assert fields == ("*/5", "9-17", "*", "*", "1-5")
    assert str(crontab.timezone) == "Europe/Berlin"


def test_two_schedules_on_one_cron_share_the_crontab(user):
    for _ in range(2):
        services.schedule_create(user=user, event=an_event(user), cron="0 * * * *", now=NOW)
    assert CrontabSchedule.objects.filter(minute="0", hour="*").count() == 1
    assert PeriodicTask.objects.filter(task="events.tasks.fire_schedule").count() == 2


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"run_at": NOW}, "timestamp"),
        ({"run_at": NOW - timedelta(seconds=1)}, "timestamp"),
        ({"cron": "* * *"}, "cron"),
        ({"cron": "* * * * *", "tz": "Mars/Olympus"}, "timezone"),
        ({}, "non_field_errors"),
        ({"run_at": NOW + timedelta(hours=1), "cron": "* * * * *"}, "non_field_errors"),
    ],
)
def test_a_bad_schedule_names_the_field_and_stores_nothing(user, kwargs, field):
    with pytest.raises(ScheduleError) as caught:
        services.schedule_create(user=user, event=an_event(user), now=NOW, **kwargs)
    assert caught.value.field == field and caught.value.message
    assert (
        not Schedule.objects.exists() and not PeriodicTask.objects.filter(name__startswith="event").exists()
    )


# Firing -------------------------------------------------------------------------


@pytest.fixture
def published(monkeypatch) -> list[str]:
    """Event ids handed to a worker by a firing (instead of routing them)."""
    calls: list[str] = []
    monkeypatch.setattr(
        "events.services.event_enqueue", lambda *, event_id, **kw: calls.append(str(event_id))
    )
    return calls


def test_a_one_off_schedule_fires_once_as_if_posted_then(user, published, django_capture_on_commit_callbacks):
    at = NOW + timedelta(minutes=1)
    schedule = services.schedule_create(user=user, event=an_event(user), run_at=at, now=NOW)
    assert services.schedule_fire(schedule_id=schedule.pk, now=at - timedelta(seconds=30)) is None  # not yet

    with django_capture_on_commit_callbacks(execute=True):
        row = services.schedule_fire(schedule_id=schedule.pk, now=at + timedelta(seconds=1))
    assert row is not None and published == [str(row.pk)]
    assert (row.type, row.source, row.user, row.metadata, row.status) == (
        "user.message", "tests", user, {"text": "hi"}, "queued"
    )  # fmt: skip
    assert row.timestamp == at and row.schedule == schedule
    schedule.refresh_from_db()
    assert (schedule.status, schedule.run_count, schedule.next_run_at) == ("done", 1, None)
    assert schedule.last_run_at == at + timedelta(seconds=1)
    assert not PeriodicTask.objects.get(pk=schedule.periodic_task_id).enabled  # beat drops it

    # Beat sending it again (a restart, a second beat) publishes nothing.
    assert services.schedule_fire(schedule_id=schedule.pk, now=at + timedelta(seconds=2)) is None
    assert EventRow.objects.count() == 1


def test_a_firing_may_be_a_little_early_for_clock_skew(user, published, settings):
    settings.EVENTS = {"SCHEDULE_EARLY": 2.0}
    at = NOW + timedelta(minutes=1)
    schedule = services.schedule_create(user=user, event=an_event(user), run_at=at, now=NOW)
    assert services.schedule_fire(schedule_id=schedule.pk, now=at - timedelta(seconds=3)) is None
    assert services.schedule_fire(schedule_id=schedule.pk, now=at - timedelta(seconds=1)) is not None


def test_a_cron_schedule_fires_once_per_slot(user, published):
    schedule = services.schedule_create(user=user, event=an_event(user), cron="*/5 * * * *", now=NOW)
    slot = datetime(2026, 3, 2, 10, 10, tzinfo=UTC)
    first = services.schedule_fire(schedule_id=schedule.pk, now=slot)
    again = services.schedule_fire(schedule_id=schedule.pk, now=slot + timedelta(seconds=40))
    assert first.timestamp == slot and again is None
    schedule.refresh_from_db()
    assert (schedule.status, schedule.run_count) == ("active", 1)
    assert schedule.next_run_at == slot + timedelta(minutes=5)
    second = services.schedule_fire(schedule_id=schedule.pk, now=slot + timedelta(minutes=5, seconds=1))
    assert second.timestamp == slot + timedelta(minutes=5)
    assert EventRow.objects.filter(schedule=schedule).count() == 2


def test_missed_slots_fire_once_and_the_next_run_is_in_the_future(user, published):
    schedule = services.schedule_create(user=user, event=an_event(user), cron="* * * * *", now=NOW)
    late = NOW + timedelta(hours=2, seconds=10)
    assert services.schedule_fire(schedule_id=schedule.pk, now=late) is not None
    assert services.schedule_fire(schedule_id=schedule.pk, now=late) is None
    schedule.refresh_from_db()
    assert schedule.run_count == 1 and schedule.next_run_at == datetime(2026, 3, 2, 12, 8, tzinfo=UTC)


def test_the_event_is_published_under_the_owners_current_username(user, published):
    schedule = services.schedule_create(user=user, event=an_event(user), run_at=NOW + timedelta(1), now=NOW)
    user.username = "renamed"
    user.save()
    row = services.schedule_fire(schedule_id=schedule.pk, now=NOW + timedelta(days=2))
    assert row.user == user and row.to_event().userID == "renamed"


@pytest.mark.services  # SQLite serialises writers; the race needs PostgreSQL
@pytest.mark.django_db(transaction=True)
def test_concurrent_firings_of_one_slot_publish_once(user, published):
    at = timezone.now() - timedelta(seconds=1)
    schedule = Schedule.objects.create(user=user, event=an_event(user).to_dict(), kind="once", run_at=at,
                                       next_run_at=at)  # fmt: skip
    results = at_once(lambda: services.schedule_fire(schedule_id=schedule.pk))
    assert sum(row is not None for row in results) == 1
    assert EventRow.objects.filter(schedule=schedule).count() == 1


def test_fire_due_fires_what_is_due_and_nothing_else(user, published):
    due = services.schedule_create(
        user=user, event=an_event(user), run_at=NOW + timedelta(seconds=5), now=NOW
    )
    later = services.schedule_create(
        user=user, event=an_event(user), run_at=NOW + timedelta(hours=1), now=NOW
    )
    cron = services.schedule_create(user=user, event=an_event(user), cron="8 * * * *", now=NOW)
    assert services.schedule_fire_due(now=NOW + timedelta(minutes=1)) == 2
    assert services.schedule_fire_due(now=NOW + timedelta(minutes=1)) == 0
    assert set(EventRow.objects.values_list("schedule", flat=True)) == {due.pk, cron.pk}
    later.refresh_from_db()
    assert later.status == "active" and later.run_count == 0


def test_fire_due_reads_in_a_fixed_number_of_queries(user, published, django_assert_max_num_queries):
    for _ in range(10):
        services.schedule_create(user=user, event=an_event(user), run_at=NOW + timedelta(hours=1), now=NOW)
    with django_assert_max_num_queries(1):
        assert services.schedule_fire_due(now=NOW) == 0


# Cancelling and cleaning up -----------------------------------------------------


def test_a_cancelled_schedule_never_fires_and_its_periodic_task_goes(user, published):
    at = NOW + timedelta(minutes=1)
    schedule = services.schedule_create(user=user, event=an_event(user), run_at=at, now=NOW)
    services.schedule_cancel(schedule=schedule)
    assert (schedule.status, schedule.next_run_at) == ("cancelled", None) and schedule.finished_at
    assert not PeriodicTask.objects.filter(pk=schedule.periodic_task_id).exists()
    assert not ClockedSchedule.objects.exists()
    assert services.schedule_fire(schedule_id=schedule.pk, now=at) is None
    assert services.schedule_fire_due(now=at + timedelta(hours=1)) == 0
    services.schedule_cancel(schedule=schedule)  # twice is fine
    assert not EventRow.objects.exists()


def test_a_done_schedule_stays_done_when_cancelled(user, published):
    at = NOW + timedelta(minutes=1)
    schedule = services.schedule_create(user=user, event=an_event(user), run_at=at, now=NOW)
    services.schedule_fire(schedule_id=schedule.pk, now=at)
    services.schedule_cancel(schedule=schedule)
    assert schedule.status == "done"


def test_cleanup_removes_old_events_and_finished_schedules(user, published):
    long_ago = timezone.now() - timedelta(days=100)
    fired = services.schedule_create(user=user, event=an_event(user), run_at=NOW + timedelta(1), now=NOW)
    services.schedule_fire(schedule_id=fired.pk, now=NOW + timedelta(days=2))
    cancelled = services.schedule_create(user=user, event=an_event(user), cron="* * * * *", now=NOW)
    services.schedule_cancel(schedule=cancelled)
    active = services.schedule_create(user=user, event=an_event(user), cron="0 * * * *", now=NOW)
    recent = services.schedule_create(user=user, event=an_event(user), run_at=NOW + timedelta(1), now=NOW)
    services.schedule_fire(schedule_id=recent.pk, now=timezone.now())
    Schedule.objects.filter(pk__in=[fired.pk, cancelled.pk]).update(finished_at=long_ago)
    Schedule.objects.filter(pk=active.pk).update(created_at=long_ago)

    handled = EventRow.objects.get(schedule=fired)
    EventRow.objects.filter(pk=handled.pk).update(status="handled", received_at=long_ago)
    waiting = services.event_publish(event=an_event(user, timestamp=NOW), user=user)
    EventRow.objects.filter(pk=waiting.pk).update(received_at=long_ago)  # queued: kept until routed

    call_command("cleanup", "--older-than", "90d", stdout=(out := __import__("io").StringIO()))
    assert "deleted 1 events" in out.getvalue() and "deleted 2 finished schedules" in out.getvalue()
    assert set(Schedule.objects.values_list("pk", flat=True)) == {active.pk, recent.pk}
    assert set(EventRow.objects.values_list("pk", flat=True)) == {
        waiting.pk, EventRow.objects.get(schedule=recent).pk
    }  # fmt: skip
    assert not PeriodicTask.objects.filter(pk=fired.periodic_task_id).exists()
    assert PeriodicTask.objects.filter(pk=active.periodic_task_id).exists()
    assert ClockedSchedule.objects.count() == 1  # the recent one's


# The sweep ----------------------------------------------------------------------


def test_the_sweep_hands_forgotten_and_stuck_events_to_a_worker_again(user, published, settings):
    settings.EVENTS = {"QUEUED_AFTER": 120, "STUCK_AFTER": 600}
    now = timezone.now()
    rows = {name: services.event_publish(event=an_event(user, timestamp=now), user=user)
            for name in ("forgotten", "fresh", "stuck", "working", "done", "retry_lost")}  # fmt: skip
    update = {
        "forgotten": {"received_at": now - timedelta(minutes=3)},
        "fresh": {"received_at": now - timedelta(seconds=30)},
        "stuck": {"status": "processing", "started_at": now - timedelta(minutes=11)},
        "working": {"status": "processing", "started_at": now - timedelta(minutes=1)},
        "done": {"status": "handled", "received_at": now - timedelta(hours=1)},
        "retry_lost": {"received_at": now - timedelta(hours=1), "started_at": now - timedelta(minutes=5)},
    }
    for name, change in update.items():
        EventRow.objects.filter(pk=rows[name].pk).update(**change)
    published.clear()
    swept = services.event_sweep(now=now)
    expected = {str(rows[name].pk) for name in ("forgotten", "stuck", "retry_lost")}
    assert {str(pk) for pk in swept} == expected and set(published) == expected


def test_the_admin_lists_and_cancels_schedules(client, make_user, published):
    staff = make_user("root", is_staff=True, is_superuser=True)
    client.force_login(staff)
    schedule = services.schedule_create(user=staff, event=an_event(staff), cron="* * * * *")
    assert client.get("/admin/events/schedule/").status_code == 200
    response = client.post(
        "/admin/events/schedule/", {"action": "cancel", "_selected_action": [str(schedule.pk)]}
    )
    assert response.status_code == 302
    schedule.refresh_from_db()
    assert schedule.status == "cancelled"


# Robustness -----------------------------------------------------------------------


def test_a_schedule_that_fails_to_publish_spends_its_slot_and_others_still_fire(user, published, monkeypatch):
    broken = services.schedule_create(
        user=user, event=an_event(user), run_at=NOW + timedelta(seconds=1), now=NOW
    )
    fine = services.schedule_create(
        user=user, event=an_event(user), run_at=NOW + timedelta(seconds=2), now=NOW
    )
    real_publish = services.event_publish

    def publish(*, event, user, schedule=None):
        if schedule.pk == broken.pk:
            raise KeyError("a handler's validate broke")
        return real_publish(event=event, user=user, schedule=schedule)

    monkeypatch.setattr(services, "event_publish", publish)
    assert services.schedule_fire_due(now=NOW + timedelta(minutes=1)) == 1
    broken.refresh_from_db()
    assert (broken.status, broken.run_count) == ("done", 1)  # spent, not retried every second
    assert EventRow.objects.get().schedule_id == fine.pk
    assert services.schedule_fire_due(now=NOW + timedelta(minutes=2)) == 0


def test_fire_due_keeps_going_when_one_firing_raises(user, published, monkeypatch):
    first = services.schedule_create(
        user=user, event=an_event(user), run_at=NOW + timedelta(seconds=1), now=NOW
    )
    second = services.schedule_create(
        user=user, event=an_event(user), run_at=NOW + timedelta(seconds=2), now=NOW
    )
    real_fire = services.schedule_fire

    def fire(*, schedule_id, now=None):
        if schedule_id == first.pk:
            raise RuntimeError("database blip")
        return real_fire(schedule_id=schedule_id, now=now)

    monkeypatch.setattr(services, "schedule_fire", fire)
    assert services.schedule_fire_due(now=NOW + timedelta(minutes=1)) == 1
    assert EventRow.objects.get().schedule_id == second.pk


def test_an_inactive_owners_schedule_publishes_nothing(user, published):
    schedule = services.schedule_create(user=user, event=an_event(user), cron="* * * * *", now=NOW)
    user.is_active = False
    user.save()
    assert services.schedule_fire(schedule_id=schedule.pk, now=NOW + timedelta(minutes=1)) is None
    assert not EventRow.objects.exists()
    schedule.refresh_from_db()
    assert schedule.run_count == 1 and schedule.next_run_at > NOW + timedelta(minutes=1)


def test_deleting_a_schedule_or_its_owner_deletes_its_periodic_task(user, make_user):
    once = services.schedule_create(user=user, event=an_event(user), run_at=NOW + timedelta(1), now=NOW)
    once.delete()
    assert not PeriodicTask.objects.filter(name__startswith="event ").exists()
    assert not ClockedSchedule.objects.exists()
    bob = make_user("bob")
    services.schedule_create(user=bob, event=an_event(bob), cron="* * * * *", now=NOW)
    bob.delete()
    assert not PeriodicTask.objects.filter(name__startswith="event ").exists()


def test_the_sweep_counts_earlier_runs_against_the_retries_and_takes_the_oldest_first(user, monkeypatch):
    sent = []
    monkeypatch.setattr(services, "event_enqueue", lambda **kwargs: sent.append(kwargs))
    now = timezone.now()
    old = services.event_publish(event=an_event(user, timestamp=now), user=user)
    older = services.event_publish(event=an_event(user, timestamp=now), user=user)
    EventRow.objects.filter(pk=old.pk).update(received_at=now - timedelta(hours=1), attempts=2,
                                              started_at=now - timedelta(minutes=5))  # fmt: skip
    EventRow.objects.filter(pk=older.pk).update(received_at=now - timedelta(hours=2))
    sent.clear()
    services.event_sweep(now=now)
    assert [(str(s["event_id"]), s["retries_done"]) for s in sent] == [(str(older.pk), 0), (str(old.pk), 2)]


def test_beat_also_fires_due_schedules_as_a_safety_net(settings):
    entries = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert entries["events.tasks.fire_due_schedules"] <= 60
    assert entries["events.tasks.sweep_events"] <= 60


@pytest.mark.services  # SQLite serialises writers; the race needs PostgreSQL
@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_cannot_pass_the_cap(user, settings):
    settings.EVENTS = {**settings.EVENTS, "MAX_ACTIVE_SCHEDULES": 3}

    def create() -> str:
        try:
            services.schedule_create(user=user, event=an_event(user), cron="*/5 * * * *")
        except ScheduleLimitReached:
            return "refused"
        return "created"

    outcomes = at_once(create)
    assert sorted(outcomes) == ["created"] * 3 + ["refused"] * 5
    assert Schedule.objects.filter(user=user, status="active").count() == 3
    assert PeriodicTask.objects.filter(name__startswith="event schedule").count() == 3
