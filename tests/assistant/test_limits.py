"""Limits on what one user can start or store: answers in progress per user and per
session (on the API and the socket alike), the size of ``meta`` and options, and the
disclaimer, which the API enforces as well as the page."""

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from accounts.services import tokens_for_user
from assistant import services
from assistant.exceptions import DisclaimerRequired
from assistant.models import ChatMessage, ChatSession, Disclaimer, DisclaimerAcceptance
from config.asgi import application
from tests import factories as f
from tests.conftest import client_for

Status = ChatMessage.Status


@pytest.fixture
def limits(settings):
    settings.ASSISTANT = {**settings.ASSISTANT, "MAX_IN_FLIGHT_PER_SESSION": 1, "MAX_IN_FLIGHT_PER_USER": 2}


@pytest.mark.django_db
def test_one_answer_at_a_time_per_session_on_the_api(user, job, enqueued, limits):
    client = client_for(user)
    session = client.post(
        "/api/sessions/", {"mode": "job_code", "job": job.pk, "content": "One"}, format="json"
    )
    assert session.status_code == 201
    url = f"/api/sessions/{session.json()['id']}/messages/"
    response = client.post(url, {"content": "Two"}, format="json")
    assert response.status_code == 429, response.content
    assert response.json()["error"] == "too_many_in_flight"
    assert ChatMessage.objects.filter(role="user").count() == 1


@pytest.mark.django_db
def test_answers_in_progress_per_user_are_capped(user, job, enqueued, limits):
    client = client_for(user)
    for n in range(2):
        created = client.post(
            "/api/sessions/", {"mode": "job_code", "job": job.pk, "content": f"Q{n}"}, format="json"
        )
        assert created.status_code == 201
    third = client.post("/api/sessions/", {"mode": "job_code", "job": job.pk, "content": "Q3"}, format="json")
    assert third.status_code == 429
    assert ChatSession.objects.count() == 2
    # Once one is answered, the next may start.
    ChatMessage.objects.filter(content="Q0").update(status=Status.SUCCESS)
    again = client.post("/api/sessions/", {"mode": "job_code", "job": job.pk, "content": "Q3"}, format="json")
    assert again.status_code == 201


@pytest.mark.django_db
def test_a_retry_counts_as_an_answer_in_progress(user, job, enqueued, limits):
    first = f.job_session(user=user, job_=job)
    failed = f.first_message(first)
    ChatMessage.objects.filter(pk=failed.pk).update(status=Status.ERROR)
    f.job_session(user=user, job_=job)
    f.job_session(user=user, job_=job)  # two answers in progress: the retry would be a third
    response = client_for(user).post(f"/api/messages/{failed.pk}/retry/")
    assert response.status_code == 429
    assert response.json()["error"] == "too_many_in_flight"
    failed.refresh_from_db()
    assert failed.status == Status.ERROR


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_thirty_socket_sends_start_one_answer(user, enqueued, limits):
    session = await sync_to_async(lambda: f.job_session(user=user))()
    token = (await sync_to_async(tokens_for_user)(user))["access"]
    socket = WebsocketCommunicator(application, f"/ws/sessions/{session.pk}/?token={token}")
    assert (await socket.connect())[0]
    for n in range(30):
        await socket.send_json_to({"action": "send", "content": f"Question {n}"})
    frames = [await socket.receive_json_from(timeout=3) for _ in range(30)]
    assert await socket.receive_nothing(timeout=0.3)
    errors = [frame for frame in frames if frame["type"] == "error"]
    assert len(errors) == 30  # the first message of the session is still in progress
    assert {e["error"] for e in errors} == {"too_many_in_flight"}
    count = await sync_to_async(ChatMessage.objects.filter(session=session, role="user").count)()
    assert count == 1
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_malformed_cancel_gets_an_error_and_the_socket_stays_open(user, enqueued):
    session = await sync_to_async(lambda: f.job_session(user=user))()
    token = (await sync_to_async(tokens_for_user)(user))["access"]
    socket = WebsocketCommunicator(application, f"/ws/sessions/{session.pk}/?token={token}")
    assert (await socket.connect())[0]
    for bad in ("not-a-uuid", 12, ["x"], {"a": 1}):
        await socket.send_json_to({"action": "cancel", "message_id": bad})
        frame = await socket.receive_json_from(timeout=2)
        while frame["type"] != "error":
            frame = await socket.receive_json_from(timeout=2)
        assert "message_id" in str(frame["detail"])
    await socket.send_json_to({"action": "resume", "after": 0})
    assert (await socket.receive_json_from(timeout=2))["type"] == "message.created"
    await socket.disconnect()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "meta",
    [
        {"blob": "x" * 70_000},
        {"deep": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": 1}}}}}}}}}},
        # PostgreSQL's JSON can hold no NUL character (the fuzz test found a 500 there).
        {"key\u0000": {}},
        {"list": ["fine", "not\u0000fine"]},
    ],
)
def test_session_meta_is_capped_in_size_and_depth(user, job, enqueued, meta):
    response = client_for(user).post(
        "/api/sessions/", {"mode": "job_code", "job": job.pk, "content": "Hi", "meta": meta}, format="json"
    )
    assert response.status_code == 400, response.content
    assert "meta" in response.json()["detail"] or "NUL" in response.json()["detail"]
    assert not ChatSession.objects.exists()


@pytest.mark.django_db
def test_nul_characters_in_json_objects_are_refused_by_the_service_too(user, job, enqueued):
    """The socket's options reach the service without the API's parser."""
    from assistant.exceptions import InvalidInput

    session = f.job_session(user=user, job_=job)
    with pytest.raises(InvalidInput):
        services.message_send(session=session, user=user, content="Hi", options={"a\u0000": True})


@pytest.mark.django_db
def test_message_options_are_capped(user, job, enqueued):
    session = f.job_session(user=user, job_=job)
    ChatMessage.objects.filter(session=session).update(status=Status.SUCCESS)
    response = client_for(user).post(
        f"/api/sessions/{session.pk}/messages/",
        {"content": "Hi", "options": {"x" * 70_000: True}},
        format="json",
    )
    assert response.status_code == 400
    assert session.messages.count() == 1


@pytest.fixture
def disclaimer_required(settings):
    settings.ASSISTANT = {**settings.ASSISTANT, "REQUIRE_DISCLAIMER": True}
    Disclaimer.objects.all().delete()
    return Disclaimer.objects.create(version=7, text="Answers may be wrong.", is_active=True)


@pytest.mark.django_db
def test_sending_without_accepting_the_disclaimer_is_refused(user, job, enqueued, disclaimer_required):
    client = client_for(user)
    response = client.post(
        "/api/sessions/", {"mode": "job_code", "job": job.pk, "content": "Hi"}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["error"] == "disclaimer_required"
    assert not ChatSession.objects.exists()
    assert client.post("/api/disclaimer/").status_code == 200
    created = client.post(
        "/api/sessions/", {"mode": "job_code", "job": job.pk, "content": "Hi"}, format="json"
    )
    assert created.status_code == 201
    # A new version must be accepted anew, on every way of sending.
    newer = Disclaimer.objects.create(version=8, text="New terms.")
    services.disclaimer_activate(disclaimer=newer)
    ChatMessage.objects.update(status=Status.SUCCESS)
    again = client.post(f"/api/sessions/{created.json()['id']}/messages/", {"content": "More"}, format="json")
    assert again.status_code == 403


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_the_socket_enforces_the_disclaimer_too(user, enqueued, disclaimer_required):
    session = await sync_to_async(lambda: f.job_session(user=user))()
    await sync_to_async(ChatMessage.objects.filter(session=session).update)(status=Status.SUCCESS)
    token = (await sync_to_async(tokens_for_user)(user))["access"]
    socket = WebsocketCommunicator(application, f"/ws/sessions/{session.pk}/?token={token}")
    assert (await socket.connect())[0]
    await socket.send_json_to({"action": "send", "content": "Hi"})
    frame = await socket.receive_json_from(timeout=2)
    assert frame["type"] == "error" and frame["error"] == "disclaimer_required"
    assert await sync_to_async(session.messages.count)() == 1
    await socket.disconnect()


@pytest.mark.django_db
def test_the_disclaimer_requirement_can_be_switched_off(user, job, enqueued, disclaimer_required, settings):
    settings.ASSISTANT = {**settings.ASSISTANT, "REQUIRE_DISCLAIMER": False}
    response = client_for(user).post(
        "/api/sessions/", {"mode": "job_code", "job": job.pk, "content": "Hi"}, format="json"
    )
    assert response.status_code == 201


@pytest.mark.django_db
def test_the_disclaimer_check_is_one_query_and_wants_a_recent_acceptance(
    user, disclaimer_required, django_assert_num_queries
):
    with django_assert_num_queries(1), pytest.raises(DisclaimerRequired):
        services.disclaimer_check(user=user)
    acceptance = services.disclaimer_mark_read(user=user)
    with django_assert_num_queries(1):
        services.disclaimer_check(user=user)
    a_day_ago = timezone.now() - timedelta(hours=24)
    DisclaimerAcceptance.objects.filter(pk=acceptance.pk).update(accepted_at=a_day_ago)
    with pytest.raises(DisclaimerRequired):
        services.disclaimer_check(user=user)
    Disclaimer.objects.update(is_active=False)  # no active version: nothing to accept
    with django_assert_num_queries(1):
        services.disclaimer_check(user=user)
