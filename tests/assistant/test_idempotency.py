"""A creating POST with an ``Idempotency-Key`` header answers a retried request with the
first result and creates nothing; a broker outage answers 503 and keeps the message,
which the sweeper hands on once the broker is back."""

from datetime import timedelta

import pytest
from django.utils import timezone

from assistant import processing
from assistant.models import ChatMessage, ChatSession
from events.models import Event, Schedule
from tests import factories as f
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def test_a_retried_session_create_returns_the_first_session(
    user, job, enqueued, django_capture_on_commit_callbacks
):
    client = client_for(user)
    body = {"mode": "job_code", "job": job.pk, "content": "Why does it fail?"}
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post("/api/sessions/", body, format="json", HTTP_IDEMPOTENCY_KEY="create-1")
        again = client.post("/api/sessions/", body, format="json", HTTP_IDEMPOTENCY_KEY="create-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert ChatSession.objects.count() == 1
    assert ChatMessage.objects.count() == 1
    assert len(enqueued) == 1
    other = client.post("/api/sessions/", body, format="json", HTTP_IDEMPOTENCY_KEY="create-2")
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]


def test_a_key_reused_for_another_request_is_refused(user, job, enqueued):
    client = client_for(user)
    client.post("/api/sessions/", {"mode": "job_code", "job": job.pk, "content": "A"}, format="json",
                HTTP_IDEMPOTENCY_KEY="k")  # fmt: skip
    response = client.post(
        "/api/sessions/", {"mode": "job_code", "job": job.pk, "content": "B"}, format="json",
        HTTP_IDEMPOTENCY_KEY="k",
    )  # fmt: skip
    assert response.status_code == 422
    assert response.json()["error"] == "idempotency_key_reused"
    assert ChatSession.objects.count() == 1


def test_keys_are_per_user(user, make_user, job, enqueued):
    other = make_user("bob")
    other_job = f.job(workflow_=f.workflow(project_=f.project(members=[other])))
    client_for(user).post("/api/sessions/", {"mode": "job_code", "job": job.pk, "content": "A"},
                          format="json", HTTP_IDEMPOTENCY_KEY="same")  # fmt: skip
    response = client_for(other).post(
        "/api/sessions/", {"mode": "job_code", "job": other_job.pk, "content": "A"}, format="json",
        HTTP_IDEMPOTENCY_KEY="same",
    )  # fmt: skip
    assert response.status_code == 201
    assert ChatSession.objects.filter(user=other).count() == 1


def test_a_failed_request_stores_nothing_and_can_be_retried(user, job, enqueued):
    client = client_for(user)
    bad = client.post("/api/sessions/", {"mode": "job_code", "job": job.pk}, format="json",
                      HTTP_IDEMPOTENCY_KEY="fix-me")  # fmt: skip
    assert bad.status_code == 400
    good = client.post("/api/sessions/", {"mode": "job_code", "job": job.pk, "content": "Hi"},
                       format="json", HTTP_IDEMPOTENCY_KEY="fix-me")  # fmt: skip
    assert good.status_code == 201


def test_a_bad_key_is_bad_input(user, job, enqueued):
    response = client_for(user).post(
        "/api/sessions/", {"mode": "job_code", "job": job.pk, "content": "Hi"}, format="json",
        HTTP_IDEMPOTENCY_KEY="x" * 300,
    )  # fmt: skip
    assert response.status_code == 400
    assert not ChatSession.objects.exists()


def test_a_retried_message_send_creates_one_message(user, job, enqueued):
    session = f.job_session(user=user, job_=job)
    ChatMessage.objects.filter(session=session).update(status="success")
    client = client_for(user)
    url = f"/api/sessions/{session.pk}/messages/"
    first = client.post(url, {"content": "Next"}, format="json", HTTP_IDEMPOTENCY_KEY="m1")
    again = client.post(url, {"content": "Next"}, format="json", HTTP_IDEMPOTENCY_KEY="m1")
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert session.messages.filter(content="Next").count() == 1


def test_a_retried_event_post_stores_one_event(user):
    client = client_for(user)
    body = {"timestamp": "2025-01-31T12:00:00Z", "source": "script", "type": "invoice.paid",
            "userID": user.username, "metadata": {"n": 1}}  # fmt: skip
    first = client.post("/api/events", body, format="json", HTTP_IDEMPOTENCY_KEY="e1")
    again = client.post("/api/events", body, format="json", HTTP_IDEMPOTENCY_KEY="e1")
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert Event.objects.count() == 1


def test_a_retried_schedule_post_stores_one_schedule(user):
    client = client_for(user)
    body = {
        "event": {"source": "script", "type": "invoice.paid", "userID": user.username, "metadata": {}},
        "timestamp": (timezone.now() + timedelta(hours=1)).isoformat(),
    }
    first = client.post("/api/schedule", body, format="json", HTTP_IDEMPOTENCY_KEY="s1")
    again = client.post("/api/schedule", body, format="json", HTTP_IDEMPOTENCY_KEY="s1")
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert Schedule.objects.count() == 1


# --- The broker is down ---------------------------------------------------------------------


@pytest.fixture
def broker_down(settings):
    """Work goes to a Celery broker that does not answer (a closed local port)."""
    from config.celery import app

    def reconnect():  # the next send connects to the broker now configured
        app._pool = None
        app.amqp._producer_pool = None

    settings.TASKS_IN_PROCESS = False
    previous = app.conf.broker_url, app.conf.broker_connection_timeout
    app.conf.broker_url = "redis://127.0.0.1:9/0"
    app.conf.broker_connection_timeout = 0.5
    reconnect()
    yield app
    app.conf.broker_url, app.conf.broker_connection_timeout = previous
    reconnect()


@pytest.mark.django_db(transaction=True)
def test_broker_down_answers_503_keeps_the_message_and_a_retry_creates_nothing(
    user, job, broker_down, django_capture_on_commit_callbacks
):
    client = client_for(user)
    body = {"mode": "job_code", "job": job.pk, "content": "Why does it fail?"}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/sessions/", body, format="json", HTTP_IDEMPOTENCY_KEY="outage")
    assert response.status_code == 503, response.content
    data = response.json()
    assert data["error"] == "queue_unavailable"
    session = ChatSession.objects.get()
    assert data["result"]["id"] == str(session.pk)
    message = session.messages.get()
    assert message.status == ChatMessage.Status.PENDING
    with django_capture_on_commit_callbacks(execute=True):
        retried = client.post("/api/sessions/", body, format="json", HTTP_IDEMPOTENCY_KEY="outage")
    assert retried.status_code == 201
    assert retried.json()["id"] == str(session.pk)
    assert ChatSession.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_message_the_broker_did_not_take_is_handed_on_at_the_next_sweep(
    user, job, broker_down, monkeypatch, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(user).post(
            "/api/sessions/", {"mode": "job_code", "job": job.pk, "content": "Hi"}, format="json"
        )
    assert response.status_code == 503
    message = ChatMessage.objects.get()
    handed = []
    monkeypatch.setattr("assistant.services.enqueue_message", lambda mid, **kw: handed.append(str(mid)))
    # The broker is back: the next sweep hands it on, without waiting PENDING_AFTER.
    actions = processing.message_sweep()
    assert [(a.message_id, a.action) for a in actions] == [(str(message.pk), "requeued")]
    assert handed == [str(message.pk)]
