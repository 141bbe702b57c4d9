"""The session socket through the project's ASGI application."""

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from accounts.services import tokens_for_user
from accounts.websocket import CLOSE_FORBIDDEN, CLOSE_NOT_FOUND
from assistant import processing, realtime, services
from assistant.models import ChatMessage, ChatSession
from config.asgi import application
from tests import factories as f

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture
def session(user, enqueued):
    return f.job_session(user=user)


async def open_socket(user, session_id):
    token = await sync_to_async(tokens_for_user)(user)
    communicator = WebsocketCommunicator(application, f"/ws/sessions/{session_id}/?token={token['access']}")
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def next_of(communicator, event_type, timeout=3):
    while True:
        event = await communicator.receive_json_from(timeout=timeout)
        if event["type"] == event_type:
            return event


async def test_send_creates_a_message_and_its_event_arrives(user, session, enqueued):
    socket = await open_socket(user, session.pk)
    await socket.send_json_to({"action": "send", "content": "And the adaptor?"})
    created = await next_of(socket, "message.created")
    assert created["message"]["content"] == "And the adaptor?" and created["seq"] > 0
    assert len(enqueued) == 2
    await socket.disconnect()


async def test_live_events_arrive_in_order_with_their_seq(user, session):
    socket = await open_socket(user, session.pk)
    for delta in ("a", "b", "c"):
        await sync_to_async(realtime.publish)(session.pk, "token", message_id="m", delta=delta)
    tokens = [await next_of(socket, "token") for _ in range(3)]
    assert [t["delta"] for t in tokens] == ["a", "b", "c"]
    assert [t["seq"] for t in tokens] == sorted(t["seq"] for t in tokens)
    await socket.disconnect()


@pytest.mark.parametrize("cut", [0, 2, 5])
async def test_resume_replays_exactly_what_was_missed(user, session, cut):
    before = await sync_to_async(realtime.last_seq)(session.pk)
    for n in range(5):
        await sync_to_async(realtime.publish)(session.pk, "token", message_id="m", delta=str(n))
    await sync_to_async(realtime.signaller.flush)()  # tokens are logged without their publisher waiting
    after = before + cut
    socket = await open_socket(user, session.pk)
    await socket.send_json_to({"action": "resume", "after": after})
    replayed = [await next_of(socket, "token") for _ in range(5 - cut)]
    assert "".join(e["delta"] for e in replayed) == "".join(str(n) for n in range(cut, 5))
    await sync_to_async(realtime.publish)(session.pk, "token", message_id="m", delta="live")
    assert (await next_of(socket, "token"))["delta"] == "live"
    assert await socket.receive_nothing(timeout=0.2)
    await socket.disconnect()


async def test_a_late_first_wake_up_after_resuming_from_zero_loses_nothing(user):
    """A new session's first event may be signalled after its second (they come from
    different processes): a socket that resumed from 0 reads the gap from the log."""
    job = await sync_to_async(lambda: f.job(workflow_=f.workflow(project_=f.project(members=[user]))))()
    session = await sync_to_async(ChatSession.objects.create)(mode="job_code", user=user, **f.about(job))
    socket = await open_socket(user, session.pk)
    await socket.send_json_to({"action": "resume", "after": 0})
    assert await socket.receive_nothing(timeout=0.2)
    await sync_to_async(realtime.event_log().append)(str(session.pk), {"type": "message.created"})
    await sync_to_async(realtime.publish)(session.pk, "message.status", status="processing")
    first, second = await socket.receive_json_from(), await socket.receive_json_from()
    assert (first["seq"], first["type"]) == (1, "message.created")
    assert (second["seq"], second["type"]) == (2, "message.status")
    await socket.disconnect()


async def test_cancel_and_retry(user, session, enqueued):
    socket = await open_socket(user, session.pk)
    await socket.send_json_to({"action": "cancel"})
    status = await next_of(socket, "message.status")
    assert status["status"] == "cancelled"
    message_id = status["message_id"]
    await socket.send_json_to({"action": "retry", "message_id": message_id})
    assert (await next_of(socket, "message.status"))["status"] == "pending"
    message = await sync_to_async(ChatMessage.objects.get)(pk=message_id)
    assert message.status == "pending"
    await socket.disconnect()


@pytest.mark.parametrize(
    "frame",
    [{"action": "fly"}, {"nothing": 1}, {"action": "send"}, {"action": "send", "content": ""},
     {"action": "resume", "after": -1}, {"action": "resume", "after": "x"},
     {"action": "retry", "message_id": "nope"}],
)  # fmt: skip
async def test_malformed_frames_get_an_error_and_the_socket_stays_open(user, session, frame):
    socket = await open_socket(user, session.pk)
    await socket.send_json_to(frame)
    assert (await socket.receive_json_from(timeout=3))["type"] == "error"
    await socket.send_to(text_data="not json")
    assert (await socket.receive_json_from(timeout=3))["type"] == "error"
    await sync_to_async(realtime.publish)(session.pk, "token", message_id="m", delta="still here")
    assert (await next_of(socket, "token"))["delta"] == "still here"
    await socket.disconnect()


async def test_another_users_session_closes_with_4403_and_an_unknown_one_4404(session, make_user):
    bob = await sync_to_async(make_user)("bob")
    socket = await open_socket(bob, session.pk)
    assert await socket.receive_output(timeout=3) == {"type": "websocket.close", "code": CLOSE_FORBIDDEN}
    socket = await open_socket(bob, "00000000-0000-0000-0000-000000000000")
    assert await socket.receive_output(timeout=3) == {"type": "websocket.close", "code": CLOSE_NOT_FOUND}


async def test_a_public_session_can_be_watched_by_its_projects_members_but_not_changed(session, make_user):
    await sync_to_async(services.session_set_public)(session=session, is_public=True)
    bob = await sync_to_async(make_user)("bob")
    await sync_to_async(lambda: f.member(session.subject.workflow.project, bob))()
    socket = await open_socket(bob, session.pk)
    await socket.send_json_to({"action": "send", "content": "mine now"})
    error = await next_of(socket, "error")
    assert error["error"] == "permission_denied" and "read-only" in error["detail"]
    await socket.disconnect()


async def test_tool_calls_arrive_as_tool_start_and_tool_end_frames_with_seq(user, session, model_server):
    from tests.llm_server import Reply

    run = await sync_to_async(f.run)(job_=session.subject, log="TypeError: boom")
    message = await sync_to_async(f.first_message)(session)
    model_server.script(
        Reply(text="", tool_calls=[{"id": "call_7", "name": "run_log", "arguments": "{}"}]),
        Reply(text="It failed with a TypeError."),
    )
    socket = await open_socket(user, session.pk)
    outcome = await sync_to_async(processing.message_process)(message_id=message.pk)
    assert outcome.state == "success"
    start = await next_of(socket, "tool.start")
    end = await next_of(socket, "tool.end")
    token = await next_of(socket, "token")
    completed = await next_of(socket, "message.completed")
    assert start["seq"] < end["seq"] < token["seq"] < completed["seq"]
    assert (start["message_id"], start["call_id"], start["name"], start["arguments"]) == (
        str(message.pk), "call_7", "run_log", {}
    )  # fmt: skip
    assert (end["call_id"], end["name"], end["ok"]) == ("call_7", "run_log", True)
    assert f'"run_id": {run.pk}' in end["result"] and "TypeError: boom" in end["result"]
    assert completed["message"]["content"] == "It failed with a TypeError."
    await socket.disconnect()
