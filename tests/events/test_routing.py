"""Routing a stored event to its handler: outcomes, retries, duplicates, and the
hand-off to Celery or to the web process's threads."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from assistant.llm import LLMError
from events import services
from events.exceptions import EventHandlerError, TransientEventError
from events.models import Event as EventRow
from events.services import event_publish, event_route
from events.types import Event
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def publish(user, routed):
    def make(event_type="thing.happened", **metadata):
        return factories.event(user=user, type=event_type, **metadata)

    return make


@pytest.fixture(autouse=True)
def _fast(fast_retries):
    pass


def reload(row) -> EventRow:
    return EventRow.objects.get(pk=row.pk)


def test_publish_stores_a_queued_row(publish, user):
    row = reload(publish(n=1))
    assert (row.type, row.source, row.user, row.metadata, row.status) == (
        "thing.happened", "tests", user, {"n": 1}, "queued"
    )  # fmt: skip
    assert row.received_at <= timezone.now()


def test_publish_refuses_an_event_of_another_user(user, make_user, routed):
    with pytest.raises(ValueError, match="userID"):
        event_publish(event=Event(type="a.b", source="s", userID="bob"), user=user)
    assert not EventRow.objects.exists()


def test_a_handled_event(publish, registry):
    seen = []
    registry.register("thing.happened", lambda row: seen.append((row.pk, row.metadata)), name="Recorder")
    row = publish(n=1)
    assert event_route(event_id=row.pk).state == "handled"
    assert seen == [(row.pk, {"n": 1})]
    row = reload(row)
    assert (row.status, row.handler, row.attempts, row.last_error) == ("handled", "Recorder", 1, "")
    assert row.started_at <= row.finished_at


def test_an_event_without_a_handler_is_unhandled(publish, registry):
    row = publish()
    assert event_route(event_id=row.pk).state == "unhandled"
    row = reload(row)
    assert (row.status, row.handler, row.attempts) == ("unhandled", "", 1)


def flaky(failures, error):
    calls = []

    def handler(row):
        calls.append(row.pk)
        if len(calls) <= failures:
            raise error

    handler.calls = calls
    return handler


@pytest.mark.parametrize(
    "error", [TransientEventError("the receiver is busy"), LLMError("Request timed out.", transient=True)]
)
def test_a_transient_failure_is_retried_with_backoff_then_handled(publish, registry, error):
    handler = flaky(2, error)
    registry.register("thing.happened", handler, name="Flaky")
    row = publish()
    first = event_route(event_id=row.pk, retries_done=0)
    assert first.state == "retry" and 0 < first.retry_in <= 0.05
    queued = reload(row)
    assert (queued.status, queued.attempts, queued.last_error) == ("queued", 1, str(error))
    assert event_route(event_id=row.pk, retries_done=1).state == "retry"
    assert event_route(event_id=row.pk, retries_done=2).state == "handled"
    row = reload(row)
    assert (row.status, row.attempts, row.last_error, row.handler) == ("handled", 3, "", "Flaky")
    assert len(handler.calls) == 3


def test_transient_failures_fail_once_retries_run_out(publish, registry, settings):
    settings.EVENTS = {"MAX_RETRIES": 1}
    registry.register("thing.happened", flaky(5, TransientEventError("still down")), name="Flaky")
    row = publish()
    assert event_route(event_id=row.pk, retries_done=0).state == "retry"
    assert event_route(event_id=row.pk, retries_done=1).state == "failed"
    row = reload(row)
    assert (row.status, row.attempts, row.last_error) == ("failed", 2, "still down")


@pytest.mark.parametrize(
    "error, text",
    [
        (ValueError("password=hunter2 at /srv/app.py"), services.UNEXPECTED_ERROR_TEXT),
        (EventHandlerError("The receiver refused it."), "The receiver refused it."),
        (LLMError("Invalid model.", transient=False, status=400), "Invalid model."),
    ],
)
def test_a_permanent_failure_fails_at_once_with_its_error(publish, registry, error, text):
    handler = flaky(5, error)
    registry.register("thing.happened", handler, name="Broken")
    row = publish()
    assert event_route(event_id=row.pk).state == "failed"
    row = reload(row)
    assert (row.status, row.attempts, row.last_error, row.handler) == ("failed", 1, text, "Broken")
    assert len(handler.calls) == 1


def test_a_duplicate_delivery_does_nothing(publish, registry):
    calls = []
    registry.register("thing.happened", calls.append)
    row = publish()
    assert event_route(event_id=row.pk).state == "handled"
    assert event_route(event_id=row.pk).state == "skipped"
    assert len(calls) == 1 and reload(row).attempts == 1


def test_an_event_being_handled_is_not_claimed_again_until_its_worker_went_silent(publish, registry):
    calls = []
    registry.register("thing.happened", calls.append)
    row = publish()
    EventRow.objects.filter(pk=row.pk).update(status="processing", started_at=timezone.now(), attempts=1)
    assert event_route(event_id=row.pk).state == "skipped" and calls == []
    EventRow.objects.filter(pk=row.pk).update(started_at=timezone.now() - timedelta(hours=1))
    assert event_route(event_id=row.pk).state == "handled"
    assert reload(row).attempts == 2 and len(calls) == 1


def test_an_unknown_id_is_skipped(registry):
    assert event_route(event_id="00000000-0000-0000-0000-000000000000").state == "skipped"


def test_the_status_is_constrained_in_the_database(publish):
    from django.db import IntegrityError, transaction

    row = publish()
    with pytest.raises(IntegrityError), transaction.atomic():
        EventRow.objects.filter(pk=row.pk).update(status="lost")


@pytest.fixture
def sent(monkeypatch) -> list:
    """The tasks sent to the broker, as (name, options)."""
    from assistant.celery import app

    calls = []
    monkeypatch.setattr(app, "send_task", lambda name, **options: calls.append((name, options)))
    return calls


def test_with_a_broker_events_go_to_the_celery_task(settings, sent):
    from events.tasks import route_event

    settings.TASKS_IN_PROCESS = False
    services.event_enqueue(event_id="abc", type="llm.chat", countdown=1.5, retries_done=2)
    assert sent == [(route_event.name, {"args": ["abc"], "countdown": 1.5, "retries": 2})]


@pytest.mark.parametrize(
    "event_type, queue",
    [
        ("llm.chat", "events.llm"),
        ("billing.invoice.paid", "billing.invoices"),
        ("billing.refund", "billing"),
        ("user.message", None),
        ("llm.chat.response", None),
    ],
)
def test_events_go_to_the_queue_of_their_type(settings, sent, event_type, queue):
    settings.TASKS_IN_PROCESS = False
    settings.EVENTS = {
        "QUEUES": {"llm.chat": "events.llm", "billing.*": "billing", "billing.invoice.*": "billing.invoices"}
    }
    services.event_enqueue(event_id="abc", type=event_type)
    assert sent[0][1].get("queue") == queue


def test_the_celery_task_routes_the_event(publish, registry):
    from events.tasks import route_event

    registry.register("thing.happened", lambda row: None)
    row = publish()
    assert route_event.apply(args=[str(row.pk)]).get() == "handled"
    assert reload(row).status == "handled"


@pytest.mark.django_db(transaction=True)
def test_on_the_embedded_default_a_posted_event_is_routed_by_the_web_process(auth_client, registry, settings):
    settings.TASKS_IN_PROCESS = True
    registry.register("thing.happened", flaky(1, TransientEventError("once")), name="Flaky")
    response = auth_client.post(
        "/api/events",
        {"timestamp": "2025-01-31T12:00:00Z", "source": "tests", "type": "thing.happened",
         "userID": "alice", "metadata": {}},
        format="json",
    )  # fmt: skip
    assert response.status_code == 202
    deadline = time.monotonic() + 10
    while (row := EventRow.objects.get(pk=response.json()["id"])).status != "handled":
        assert time.monotonic() < deadline, row.status
        time.sleep(0.05)
    assert (row.attempts, row.handler) == (2, "Flaky")
