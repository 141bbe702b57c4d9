"""GET /dashboard/state: the snapshot the page renders."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agents import services as agent_services
from agents.models import WorkerTask
from assistant import services as assistant_services
from assistant.models import ChatMessage
from dashboard import selectors
from events import services as event_services
from events.models import Event as EventRow
from events.models import Schedule
from events.types import Event, WorkerTaskEvent
from tests import factories as f

pytestmark = pytest.mark.django_db

STATE = "/dashboard/state"
RECENT = selectors.RECENT_EVENTS


@pytest.fixture(autouse=True)
def _no_workers(routed, enqueued):
    """Nothing stored here is handed to a worker."""


def make_event(user, *, kind="user.message", **fields) -> EventRow:
    row = event_services.event_publish(
        event=Event(type=kind, source="tests", userID=user.get_username(), metadata={"text": "hi"}), user=user
    )
    if fields:
        EventRow.objects.filter(pk=row.pk).update(**fields)
        row.refresh_from_db()
    return row


def make_question(user, status="pending", content="Why does my job fail?", **fields) -> ChatMessage:
    message = f.first_message(f.job_session(user=user, content=content))
    ChatMessage.objects.filter(pk=message.pk).update(status=status, **fields)
    message.refresh_from_db()
    return message


def state(client) -> dict:
    response = client.get(STATE)
    assert response.status_code == 200, response.content
    return response.json()


def test_an_event_shows_its_status_handler_attempts_and_error(staff_client, user):
    started = timezone.now() - timedelta(seconds=3)
    row = make_event(
        user,
        status="failed",
        handler="UserMessenger",
        attempts=3,
        last_error="The receiver answered 500.",
        started_at=started,
        finished_at=started + timedelta(milliseconds=1500),
    )
    [shown] = state(staff_client)["events"]["recent"]
    assert shown == {
        "id": str(row.pk),
        "type": "user.message",
        "source": "tests",
        "userID": "alice",
        "status": "failed",
        "handler": "UserMessenger",
        "attempts": 3,
        "last_error": "The receiver answered 500.",
        "received_at": row.received_at.isoformat(),
        "started_at": row.started_at.isoformat(),
        "finished_at": row.finished_at.isoformat(),
        "duration_ms": 1500,
    }


def test_events_are_newest_first_and_at_most_a_page(staff_client, user):
    now = timezone.now()
    rows = [make_event(user, received_at=now - timedelta(minutes=i)) for i in range(RECENT + 2)]
    recent = state(staff_client)["events"]["recent"]
    assert [e["id"] for e in recent] == [str(r.pk) for r in rows[:RECENT]]


def test_event_counts_by_status(staff_client, user, make_user):
    bob = make_user("bob")
    long_ago = timezone.now() - selectors.FINISHED_WINDOW - timedelta(hours=1)
    for owner, status, count in [(user, "queued", 2), (bob, "processing", 1), (user, "handled", 3),
                                 (bob, "unhandled", 1), (bob, "failed", 2)]:  # fmt: skip
        for _ in range(count):
            make_event(owner, status=status)
    # Finished long ago: out of the window. Still waiting however old: counted.
    make_event(user, status="handled", received_at=long_ago)
    make_event(user, status="failed", received_at=long_ago)
    make_event(bob, status="queued", received_at=long_ago)
    events = state(staff_client)["events"]
    assert events["counts"] == {"queued": 3, "processing": 1, "handled": 3, "unhandled": 1, "failed": 2}
    assert events["window_hours"] == 24
    assert len(events["recent"]) == 12


def test_message_counts_of_several_users(staff_client, user, make_user):
    bob, carol = make_user("bob"), make_user("carol")
    for owner, status in [(user, "pending"), (bob, "pending"), (carol, "pending"), (user, "processing"),
                          (carol, "processing"), (bob, "error"), (carol, "error"), (user, "error"),
                          (user, "success"), (bob, "cancelled")]:  # fmt: skip
        make_question(owner, status)
    answered = make_question(bob, "success")
    assistant_services.message_save(  # an answer, not a question: not counted
        session=answered.session, role="assistant", content="An answer", status="error"
    )
    assert state(staff_client)["messages"]["counts"] == {"pending": 3, "processing": 2, "failed": 3}


def test_recent_durations_of_answered_messages(staff_client, user):
    now = timezone.now()
    fast = make_question(user, "success", processing_started_at=now, processing_completed_at=now)
    created = fast.created_at
    ChatMessage.objects.filter(pk=fast.pk).update(
        processing_started_at=created + timedelta(seconds=1),
        processing_completed_at=created + timedelta(seconds=3),
    )
    slow = make_question(user, "success")
    ChatMessage.objects.filter(pk=slow.pk).update(
        processing_started_at=slow.created_at + timedelta(seconds=10),
        processing_completed_at=slow.created_at + timedelta(seconds=16),
    )
    make_question(user, "error")  # not answered: no duration
    durations = state(staff_client)["messages"]["durations"]
    assert [(m["id"], m["processing_ms"], m["total_ms"]) for m in durations["recent"]] == [
        (str(slow.pk), 6000, 16000),
        (str(fast.pk), 2000, 3000),
    ]
    assert durations["recent"][0]["userID"] == "alice" and durations["recent"][0]["mode"] == "job_code"
    assert durations["processing"] == {"median_ms": 4000, "max_ms": 6000}
    assert durations["total"] == {"median_ms": 9500, "max_ms": 16000}


def test_failed_messages_with_their_ids_errors_and_a_preview(staff_client, user, make_user):
    older = make_question(user, "error", content="First question", error="Request timed out.")
    newer = make_question(make_user("bob"), "error", content="x" * 500, error="Boom", attempts=4)
    make_question(user, "cancelled")
    failed = state(staff_client)["messages"]["failed"]
    assert [m["id"] for m in failed] == [str(newer.pk), str(older.pk)]
    assert failed[0]["content"] == "x" * selectors.PREVIEW_LENGTH
    assert (failed[0]["userID"], failed[0]["error"], failed[0]["attempts"]) == ("bob", "Boom", 4)
    assert failed[1]["session"] == str(older.session_id) and failed[1]["mode"] == "job_code"
    assert failed[1]["failed_at"] == older.updated_at.isoformat()


# --- Schedules ----------------------------------------------------------------------


def make_schedule(user, *, kind="user.message", metadata=None, status="active", **when) -> Schedule:
    """A schedule stored as the API stores it (``cron=`` or ``run_at=``), then given
    ``status`` and any of its other fields."""
    fields = {key: when.pop(key) for key in list(when) if key not in ("cron", "run_at", "tz")}
    event = Event(type=kind, source="tests", userID=user.get_username(), metadata=metadata or {"text": "hi"})
    schedule = event_services.schedule_create(user=user, event=event, **when)
    if status != "active" or fields:
        Schedule.objects.filter(pk=schedule.pk).update(status=status, **fields)
        schedule.refresh_from_db()
    return schedule


def test_an_active_schedule_shows_its_event_times_and_runs(staff_client, user):
    now = timezone.now()
    schedule = make_schedule(
        user, cron="30 2 * * *", tz="Europe/Berlin", last_run_at=now - timedelta(days=1), run_count=4
    )
    [shown] = state(staff_client)["schedules"]["active"]
    assert shown == {
        "id": str(schedule.pk),
        "userID": "alice",
        "type": "user.message",
        "kind": "cron",
        "run_at": None,
        "cron": "30 2 * * *",
        "timezone": "Europe/Berlin",
        "status": "active",
        "next_run": schedule.next_run_at.isoformat(),
        "last_run": schedule.last_run_at.isoformat(),
        "run_count": 4,
        "created_at": schedule.created_at.isoformat(),
        "finished_at": None,
    }
    assert schedule.next_run_at > now


def test_active_schedules_are_soonest_first_and_at_most_a_page(staff_client, user, make_user):
    now = timezone.now()
    bob = make_user("bob")
    once = [make_schedule(bob if i % 2 else user, run_at=now + timedelta(hours=i + 1)) for i in range(3)]
    cron = make_schedule(user, cron="0 0 1 1 *")  # next New Year: after the others
    later = make_schedule(user, run_at=now + timedelta(minutes=30))
    active = state(staff_client)["schedules"]["active"]
    assert [s["id"] for s in active] == [str(r.pk) for r in [later, *once, cron]]
    assert [s["userID"] for s in active] == ["alice", "alice", "bob", "alice", "alice"]
    assert active[0]["kind"] == "once" and active[0]["run_at"] == later.run_at.isoformat()
    assert active[0]["cron"] == "" and active[0]["timezone"] == "UTC"
    for i in range(selectors.RECENT_SCHEDULES):
        make_schedule(user, run_at=now + timedelta(days=400, minutes=i))
    assert len(state(staff_client)["schedules"]["active"]) == selectors.RECENT_SCHEDULES


def test_schedule_counts_and_the_latest_finished(staff_client, user, make_user):
    now = timezone.now()
    bob = make_user("bob")
    active = [make_schedule(owner, cron="*/5 * * * *") for owner in (user, bob, bob)]
    done = make_schedule(user, run_at=now + timedelta(hours=1), status="done", next_run_at=None,
                         last_run_at=now - timedelta(minutes=5), run_count=1,
                         finished_at=now - timedelta(minutes=5))  # fmt: skip
    chat = {"messages": [{"role": "user", "content": "Hi"}]}
    cancelled = make_schedule(bob, kind="llm.chat", metadata=chat, cron="0 9 * * mon-fri", status="cancelled",
                              next_run_at=None, finished_at=now - timedelta(minutes=1))  # fmt: skip
    # Finished before the window: not counted, but still among the latest finished.
    old = make_schedule(user, cron="0 * * * *", status="cancelled", next_run_at=None,
                        finished_at=now - selectors.FINISHED_WINDOW - timedelta(hours=1))  # fmt: skip
    schedules = state(staff_client)["schedules"]
    assert schedules["counts"] == {"active": 3, "done": 1, "cancelled": 1}
    assert schedules["window_hours"] == 24
    assert {s["id"] for s in schedules["active"]} == {str(s.pk) for s in active}
    finished = schedules["finished"]
    assert [s["id"] for s in finished] == [str(cancelled.pk), str(done.pk), str(old.pk)]
    assert (finished[0]["type"], finished[0]["status"], finished[0]["userID"]) == (
        "llm.chat",
        "cancelled",
        "bob",
    )
    assert finished[0]["finished_at"] == cancelled.finished_at.isoformat() and finished[0]["next_run"] is None
    assert (finished[1]["status"], finished[1]["run_count"]) == ("done", 1)


def test_at_most_the_latest_finished_schedules(staff_client, user):
    now = timezone.now()
    for i in range(selectors.RECENT_FINISHED_SCHEDULES + 2):
        make_schedule(user, cron="0 * * * *", status="cancelled", finished_at=now - timedelta(minutes=i))
    finished = state(staff_client)["schedules"]["finished"]
    assert len(finished) == selectors.RECENT_FINISHED_SCHEDULES
    assert finished[0]["finished_at"] == (now).isoformat()


# --- Worker tasks ---------------------------------------------------------------------


def make_task(user, *, lines: int = 0, **fields) -> WorkerTask:
    """A usage_report task (not run) with ``lines`` log lines and any other fields."""
    row = event_services.event_publish(
        event=WorkerTaskEvent(
            source="tests", userID=user.get_username(), agent="usage_report", input={"days": 7}
        ),
        user=user,
    )
    task = WorkerTask.objects.get(pk=row.pk)
    for seq in range(1, lines + 1):
        agent_services.task_log(
            task=task, text=f"line {seq}", seq=seq, level="warning" if seq == 2 else "info"
        )
    if fields:
        WorkerTask.objects.filter(pk=task.pk).update(**fields)
        task.refresh_from_db()
    return task


def test_a_task_shows_its_state_and_its_log(staff_client, user):
    started = timezone.now() - timedelta(seconds=5)
    task = make_task(user, lines=3, status="failed", progress=40, error="ValueError: boom",
                     started_at=started, finished_at=started + timedelta(milliseconds=2500))  # fmt: skip
    [shown] = state(staff_client)["tasks"]["recent"]
    lines = list(task.log_lines.order_by("seq"))
    assert shown == {
        "id": str(task.pk),
        "agent": "usage_report",
        "userID": "alice",
        "status": "failed",
        "progress": 40,
        "error": "ValueError: boom",
        "created_at": task.created_at.isoformat(),
        "started_at": task.started_at.isoformat(),
        "finished_at": task.finished_at.isoformat(),
        "duration_ms": 2500,
        "lines": [
            {"seq": line.seq, "at": line.at.isoformat(), "level": line.level, "text": line.text}
            for line in lines
        ],
    }
    assert [(line["seq"], line["level"], line["text"]) for line in shown["lines"]] == [
        (1, "info", "line 1"), (2, "warning", "line 2"), (3, "info", "line 3")
    ]  # fmt: skip


def test_each_task_shows_only_its_last_lines_in_order(staff_client, user, make_user):
    tail = selectors.TASK_LOG_TAIL
    now = timezone.now()
    long = make_task(user, lines=tail + 7, created_at=now - timedelta(minutes=3))
    short = make_task(make_user("bob"), lines=3, created_at=now - timedelta(minutes=2))
    silent = make_task(user, created_at=now - timedelta(minutes=1))
    exact = make_task(user, lines=tail, created_at=now)
    recent = state(staff_client)["tasks"]["recent"]
    assert [t["id"] for t in recent] == [str(exact.pk), str(silent.pk), str(short.pk), str(long.pk)]
    by_id = {t["id"]: [line["seq"] for line in t["lines"]] for t in recent}
    assert by_id[str(long.pk)] == list(range(8, tail + 8))
    assert by_id[str(short.pk)] == [1, 2, 3]
    assert by_id[str(silent.pk)] == []
    assert by_id[str(exact.pk)] == list(range(1, tail + 1))
    assert recent[3]["lines"][-1]["text"] == f"line {tail + 7}"
    assert recent[2]["userID"] == "bob"


def test_tasks_are_newest_first_and_at_most_a_page_with_counts(staff_client, user):
    now = timezone.now()
    tasks = [
        make_task(user, created_at=now - timedelta(minutes=i)) for i in range(selectors.RECENT_TASKS + 2)
    ]
    long_ago = now - selectors.FINISHED_WINDOW - timedelta(hours=1)
    for status, count in [("running", 1), ("succeeded", 3), ("failed", 2)]:
        WorkerTask.objects.filter(pk__in=[t.pk for t in tasks[:count]]).update(status=status)
        tasks = tasks[count:]
    make_task(user, status="queued", created_at=long_ago)  # still waiting: counted
    make_task(user, status="succeeded", created_at=long_ago)  # out of the window
    section = state(staff_client)["tasks"]
    assert len(section["recent"]) == selectors.RECENT_TASKS
    assert section["recent"][0]["created_at"] == now.isoformat()
    assert section["counts"] == {"queued": selectors.RECENT_TASKS + 2 - 6 + 1, "running": 1, "succeeded": 3,
                                 "failed": 2}  # fmt: skip
    assert section["window_hours"] == 24


# --- Queries --------------------------------------------------------------------------


def fill(user, n: int) -> None:
    now = timezone.now()
    for i in range(n):
        make_event(user, status="handled", handler="UserMessenger", started_at=now, finished_at=now)
        status = ["error", "success", "pending"][i % 3]
        make_question(user, status, processing_started_at=now, processing_completed_at=now)
        make_schedule(user, cron=f"{i} * * * *")
        make_schedule(user, cron=f"{i} 1 * * *", status="cancelled", next_run_at=None, finished_at=now)
        make_task(user, lines=i % 25, status=["succeeded", "running"][i % 2], progress=50)


def test_the_snapshot_takes_the_same_queries_for_3_and_30_rows(
    staff_client, user, django_assert_max_num_queries, django_assert_num_queries
):
    fill(user, 3)
    with CaptureQueriesContext(connection) as few:
        small = state(staff_client)
    assert len(small["events"]["recent"]) == 6  # a worker.task event for each task
    assert len(small["schedules"]["active"]) == 3 and len(small["tasks"]["recent"]) == 3
    fill(user, 27)
    with django_assert_max_num_queries(len(few)):
        large = state(staff_client)
    assert len(large["events"]["recent"]) == selectors.RECENT_EVENTS
    assert large["messages"]["counts"] == {"pending": 10, "processing": 0, "failed": 10}
    assert len(large["messages"]["failed"]) == 10 and len(large["messages"]["durations"]["recent"]) == 10
    assert large["schedules"]["counts"] == {"active": 30, "done": 0, "cancelled": 30}
    assert len(large["schedules"]["active"]) == selectors.RECENT_SCHEDULES
    assert len(large["schedules"]["finished"]) == selectors.RECENT_FINISHED_SCHEDULES
    assert large["tasks"]["counts"] == {"queued": 0, "running": 14, "succeeded": 16, "failed": 0}
    assert len(large["tasks"]["recent"]) == selectors.RECENT_TASKS
    assert max(len(t["lines"]) for t in large["tasks"]["recent"]) == selectors.TASK_LOG_TAIL
    # Two for events, three for messages, three for schedules, three for tasks, three
    # for feedback.
    with django_assert_num_queries(14):
        selectors.dashboard_snapshot()


def rated(user, model: str, rating: str, comment: str = "", question: str = "Why does it fail?"):
    session = f.job_session(user=user, content=question)
    asked = f.first_message(session)
    answer = assistant_services.message_save(
        session=session, role="assistant", content=f"Answer by {model}", reply_to=asked, model=model
    )
    from assistant.models import Feedback

    return Feedback.objects.create(message=answer, user=user, rating=rating, comment=comment, model=model)


def test_feedback_counts_by_model_and_the_latest_ratings_with_filters(staff_client, user, make_user):
    rated(user, "fast", "up")
    rated(user, "fast", "down", comment="It was state.body", question="What is wrong with the filter?")
    rated(make_user("bob"), "thinker", "up", comment="Spot on")
    body = state(staff_client)["feedback"]
    assert body["counts"] == {"up": 2, "down": 1, "commented": 2}
    assert body["by_model"] == [
        {"model": "fast", "up": 1, "down": 1},
        {"model": "thinker", "up": 1, "down": 0},
    ]
    assert [r["model"] for r in body["recent"]] == ["thinker", "fast", "fast"]  # newest first
    down = staff_client.get(STATE, {"rating": "down"}).json()["feedback"]
    [row] = down["recent"]
    assert (row["comment"], row["question"], row["answer"], row["userID"]) == (
        "It was state.body",
        "What is wrong with the filter?",
        "Answer by fast",
        user.get_username(),
    )
    assert down["counts"] == body["counts"]  # the counts are of every rating
    assert [
        r["model"] for r in staff_client.get(STATE, {"model": "thinker"}).json()["feedback"]["recent"]
    ] == ["thinker"]
    assert staff_client.get(STATE, {"rating": "down", "model": "thinker"}).json()["feedback"]["recent"] == []


def test_a_bad_feedback_filter_is_a_400(staff_client):
    response = staff_client.get(STATE, {"rating": "meh"})
    assert response.status_code == 400 and "rating" in response.json()["detail"]
