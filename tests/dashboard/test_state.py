"""GET /dashboard/state: the snapshot the page renders."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from assistant import services as assistant_services
from assistant.models import ChatMessage
from dashboard import selectors
from events import services as event_services
from events.models import Event as EventRow
from events.types import Event
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


def fill(user, n: int) -> None:
    now = timezone.now()
    for i in range(n):
        make_event(user, status="handled", handler="UserMessenger", started_at=now, finished_at=now)
        status = ["error", "success", "pending"][i % 3]
        make_question(user, status, processing_started_at=now, processing_completed_at=now)


def test_the_snapshot_takes_the_same_queries_for_3_and_30_rows(
    staff_client, user, django_assert_max_num_queries, django_assert_num_queries
):
    fill(user, 3)
    with CaptureQueriesContext(connection) as few:
        small = state(staff_client)
    assert len(small["events"]["recent"]) == 3
    fill(user, 27)
    with django_assert_max_num_queries(len(few)):
        large = state(staff_client)
    assert len(large["events"]["recent"]) == selectors.RECENT_EVENTS
    assert large["messages"]["counts"] == {"pending": 10, "processing": 0, "failed": 10}
    assert len(large["messages"]["failed"]) == 10 and len(large["messages"]["durations"]["recent"]) == 10
    with django_assert_num_queries(5):  # two for events, three for messages
        selectors.dashboard_snapshot()
