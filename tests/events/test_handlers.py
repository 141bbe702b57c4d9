"""The built-in handlers: ChatResponder against the scripted model server, and
UserMessenger delivering to /ws/events/ and to a NOTIFY_URL receiver."""

import hashlib
import hmac
import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from assistant.exceptions import USAGE_LIMIT_TEXT
from assistant.models import AIUsage
from config.asgi import application
from events.models import Event as EventRow
from events.notify import notify_signature
from events.services import event_publish, event_route, system_event_publish
from events.types import Event, LLMChatEvent
from tests.llm_server import Reply

MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What is an adaptor?", "name": "ignored-extra-field"},
]
USAGE = {"prompt_tokens": 11, "completion_tokens": 4, "total_tokens": 15}


@pytest.fixture(autouse=True)
def _fast(fast_retries):
    pass


def chat(user) -> EventRow:
    event = LLMChatEvent(source="tests", userID=user.username, messages=MESSAGES)
    return event_publish(event=event, user=user)


def message(user, event_type="user.message", **metadata) -> EventRow:
    """A user.message as a client sends it, or an llm.chat.response as the system does."""
    publish = system_event_publish if event_type == "llm.chat.response" else event_publish
    return publish(
        event=Event(type=event_type, source="tests", userID=user.username, metadata=metadata), user=user
    )


# --- ChatResponder -----------------------------------------------------------------


@pytest.mark.django_db
def test_chat_responder_answers_with_an_llm_chat_response_event(
    user, routed, model_server, django_capture_on_commit_callbacks
):
    model_server.script(Reply(chunks=["An adaptor ", "talks to a system."], usage=USAGE))
    row = chat(user)
    with django_capture_on_commit_callbacks(execute=True):
        assert event_route(event_id=row.pk).state == "handled"

    assert model_server.requests[0]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is an adaptor?"},
    ]
    assert model_server.requests[0]["model"] == "test-model"
    row.refresh_from_db()
    assert (row.status, row.handler, row.attempts) == ("handled", "ChatResponder", 1)
    response = EventRow.objects.get(type="llm.chat.response")
    assert (response.source, response.user, response.status) == ("ChatResponder", user, "queued")
    assert response.metadata == {
        "reply": "An adaptor talks to a system.",
        "usage": USAGE,
        "in_reply_to": str(row.pk),
    }
    assert routed == [str(response.pk)]  # the response goes on to UserMessenger
    usage = AIUsage.objects.get()
    assert (usage.user, usage.source, usage.total_tokens, usage.model) == (user, "event", 15, "test-model")


@pytest.mark.django_db
def test_chat_responder_refuses_over_the_usage_limit(user, routed, model_server, settings):
    settings.ASSISTANT = {**settings.ASSISTANT, "USER_TOKEN_LIMIT": 10}
    AIUsage.objects.create(user=user, total_tokens=10, source="chat")
    row = chat(user)
    assert event_route(event_id=row.pk).state == "failed"
    row.refresh_from_db()
    assert row.last_error == USAGE_LIMIT_TEXT
    assert model_server.calls == 0 and not EventRow.objects.filter(type="llm.chat.response").exists()


@pytest.mark.django_db
def test_chat_responder_retries_a_model_error_then_answers(user, routed, model_server):
    model_server.script(Reply(status=500, error="overloaded"), Reply(text="Fine now.", usage=USAGE))
    row = chat(user)
    assert event_route(event_id=row.pk, retries_done=0).state == "retry"
    row.refresh_from_db()
    assert (row.status, row.last_error) == ("queued", "overloaded")
    assert event_route(event_id=row.pk, retries_done=1).state == "handled"
    assert EventRow.objects.get(type="llm.chat.response").metadata["reply"] == "Fine now."
    assert AIUsage.objects.count() == 1


@pytest.mark.django_db
def test_chat_responder_fails_on_a_permanent_model_error(user, routed, model_server):
    model_server.script(Reply(status=400, error="This model does not exist."))
    row = chat(user)
    assert event_route(event_id=row.pk).state == "failed"
    row.refresh_from_db()
    assert (row.status, row.last_error, row.attempts) == ("failed", "This model does not exist.", 1)
    assert not AIUsage.objects.exists()


@pytest.mark.django_db
def test_chat_responder_does_not_answer_twice(user, routed, model_server):
    row = chat(user)
    assert event_route(event_id=row.pk).state == "handled"
    row.status = "queued"
    row.save()  # delivered again, e.g. after a worker died before recording the outcome
    assert event_route(event_id=row.pk).state == "handled"
    assert model_server.calls == 1
    assert EventRow.objects.filter(type="llm.chat.response").count() == 1


@pytest.mark.django_db
def test_only_the_callers_own_system_answer_counts_as_answered(user, make_user, routed, model_server):
    """Another user's llm.chat.response (or one of the caller's own from another source)
    naming the event in in_reply_to does not keep it from being answered."""
    model_server.script(Reply(text="Yours.", usage=USAGE))
    row = chat(user)
    bob = make_user("bob")
    for owner, source in [(bob, "ChatResponder"), (user, "my-script")]:
        EventRow.objects.create(
            type="llm.chat.response", source=source, user=owner, timestamp=row.timestamp,
            metadata={"reply": "Forged", "in_reply_to": str(row.pk)},
        )  # fmt: skip
    assert event_route(event_id=row.pk).state == "handled"
    assert model_server.calls == 1
    answer = EventRow.objects.get(type="llm.chat.response", user=user, source="ChatResponder")
    assert answer.metadata["reply"] == "Yours." and answer.metadata["in_reply_to"] == str(row.pk)


# --- UserMessenger: /ws/events/ -----------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "event_type, metadata, text",
    [("user.message", {"text": "Your report is ready."}, "Your report is ready."),
     ("llm.chat.response", {"reply": "Hello!", "usage": {}, "in_reply_to": "x"}, "Hello!")],
)  # fmt: skip
async def test_user_messenger_delivers_to_the_users_socket(user, tokens, routed, event_type, metadata, text):
    communicator = WebsocketCommunicator(application, f"/ws/events/?token={tokens['access']}")
    connected, _ = await communicator.connect()
    assert connected
    row = await sync_to_async(message)(user, event_type, **metadata)
    assert (await sync_to_async(event_route)(event_id=row.pk)).state == "handled"
    frame = await communicator.receive_json_from(timeout=5)
    assert frame["type"] == event_type and frame["id"] == str(row.pk) and frame["text"] == text
    assert frame["event"]["metadata"] == metadata and frame["event"]["userID"] == "alice"
    assert frame["event"]["id"] == str(row.pk) and frame["event"]["source"] == "tests"
    handled = await sync_to_async(EventRow.objects.get)(pk=row.pk)
    assert (handled.status, handled.handler) == ("handled", "UserMessenger")
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_user_messenger_does_not_deliver_to_other_users(user, make_user, routed):
    from accounts.services import tokens_for_user

    bob = await sync_to_async(make_user)("bob")
    bob_token = (await sync_to_async(tokens_for_user)(bob))["access"]
    communicator = WebsocketCommunicator(application, f"/ws/events/?token={bob_token}")
    assert (await communicator.connect())[0]
    row = await sync_to_async(message)(user, text="for alice")
    await sync_to_async(event_route)(event_id=row.pk)
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


# --- UserMessenger: NOTIFY_URL --------------------------------------------------------


def expected_signature(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.mark.django_db
def test_user_messenger_posts_the_signed_event_to_notify_url(user, routed, notify_receiver):
    row = message(user, text="Hello")
    assert event_route(event_id=row.pk).state == "handled"
    [post] = notify_receiver.received
    assert post.headers["content-type"] == "application/json"
    assert hmac.compare_digest(post.headers["x-signature"], expected_signature(post.body, "receiver-secret"))
    assert post.headers["x-signature"] == notify_signature(post.body)
    assert post.headers["x-event-id"] == str(row.pk) and post.headers["x-event-type"] == "user.message"
    sent = json.loads(post.body)
    assert sent == {**row.to_dict(), "metadata": {"text": "Hello"}}
    assert sent["userID"] == "alice" and sent["type"] == "user.message"


@pytest.mark.django_db
def test_a_signature_made_with_another_secret_does_not_match(user, routed, notify_receiver):
    row = message(user, text="Hello")
    event_route(event_id=row.pk)
    [post] = notify_receiver.received
    assert post.headers["x-signature"] != expected_signature(post.body, "some-other-secret")
    assert post.headers["x-signature"] != expected_signature(post.body + b" ", "receiver-secret")


@pytest.mark.django_db
def test_notify_url_failures_are_retried_then_delivered(user, routed, notify_receiver):
    notify_receiver.statuses = [503, 429]
    row = message(user, text="Hello")
    assert event_route(event_id=row.pk, retries_done=0).state == "retry"
    assert event_route(event_id=row.pk, retries_done=1).state == "retry"
    assert event_route(event_id=row.pk, retries_done=2).state == "handled"
    assert len(notify_receiver.received) == 3
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("handled", 3)


@pytest.mark.django_db
def test_a_refusing_notify_url_fails_the_event_at_once(user, routed, notify_receiver):
    notify_receiver.statuses = [403]
    row = message(user, text="Hello")
    assert event_route(event_id=row.pk).state == "failed"
    row.refresh_from_db()
    assert row.last_error == "NOTIFY_URL refused the event with 403."


@pytest.mark.django_db
def test_an_unreachable_notify_url_is_transient(user, routed, settings):
    from tests.conftest import free_port

    settings.NOTIFY_URL = f"http://127.0.0.1:{free_port()}/nobody-listens"
    row = message(user, text="Hello")
    assert event_route(event_id=row.pk).state == "retry"
    row.refresh_from_db()
    assert row.last_error.startswith("NOTIFY_URL could not be reached")


@pytest.mark.django_db
def test_without_notify_url_only_the_socket_is_used_and_that_is_logged(user, routed, settings, caplog):
    settings.NOTIFY_URL = None
    row = message(user, text="Hello")
    with caplog.at_level("DEBUG", logger="events.event_handlers"):
        assert event_route(event_id=row.pk).state == "handled"
    assert "NOTIFY_URL is not set" in caplog.text


@pytest.mark.django_db
def test_when_nothing_can_deliver_the_event_fails_and_is_logged(user, routed, settings, monkeypatch, caplog):
    settings.NOTIFY_URL = None

    def broken(**kwargs):
        raise ConnectionError("channel layer down")

    monkeypatch.setattr("events.event_handlers.deliver_to_user", broken)
    row = message(user, text="Hello")
    assert event_route(event_id=row.pk).state == "failed"
    row.refresh_from_db()
    assert "Neither /ws/events/ nor NOTIFY_URL" in row.last_error
    assert "could not be sent" in caplog.text
