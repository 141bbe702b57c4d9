"""Open streams keep no access they lost: a websocket or an event stream watching a
session re-checks when the session changes visibility or its project's membership
changes (and at least every ``STREAM_RECHECK_INTERVAL``), and closes with 4403 (an
event stream ends) before it would send anything the user may no longer see."""

import asyncio
import json
import time
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing import HttpCommunicator, WebsocketCommunicator

from accounts.services import tokens_for_user
from accounts.websocket import CLOSE_FORBIDDEN
from assistant import realtime, services
from assistant.models import ChatMessage
from config.asgi import application
from projects.models import ProjectMembership
from tests import factories as f

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]
Role = ProjectMembership.Role


@pytest.fixture(autouse=True)
def _in_memory_wake_ups(settings):
    """Wake-ups through the in-memory layer (the event log stays Redis on the services
    run): a Redis layer's blocking reads left by sockets the server closed can outlive
    a test's event loop. The served product's sockets are tested over Redis in
    tests/browser and tests/e2e."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.fixture
def public_session(alice, bob, enqueued):
    project = f.project(members=[alice])
    f.member(project, bob, Role.VIEWER)
    session = f.job_session(user=alice, job_=f.job(workflow_=f.workflow(project_=project)))
    ChatMessage.objects.filter(session=session).update(status="success")
    services.session_set_public(session=session, is_public=True)
    return session


async def watch(user, session_id, *, token=None):
    token = token or (await sync_to_async(tokens_for_user)(user))["access"]
    socket = WebsocketCommunicator(application, f"/ws/sessions/{session_id}/?token={token}")
    connected, _ = await socket.connect()
    assert connected
    await socket.send_json_to({"action": "resume", "after": 0})
    return socket


async def private_answer(session):
    """What the owner asks and is told once the session is private again."""
    for delta in ("the ", "private ", "answer"):
        await sync_to_async(realtime.publish)(session.pk, "token", message_id="m", delta=delta)


async def received_until_closed(socket, timeout=3.0):
    """Every frame until the socket closes; the close code last."""
    frames = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        output = await socket.receive_output(timeout=deadline - time.monotonic())
        if output["type"] == "websocket.close":
            frames.append(output.get("code"))
            await socket.disconnect()  # as a client answers a close
            return frames
        frames.append(json.loads(output["text"]))
    raise AssertionError(f"the socket stayed open: {frames}")


async def test_a_session_made_private_closes_other_viewers_before_the_next_event(public_session, bob):
    socket = await watch(bob, public_session.pk)
    await sync_to_async(services.session_set_public)(session=public_session, is_public=False)
    await private_answer(public_session)
    frames = await received_until_closed(socket)
    assert frames[-1] == CLOSE_FORBIDDEN
    assert not [e for e in frames[:-1] if e.get("type") == "token"]


async def test_a_removed_member_is_closed_before_the_next_event(public_session, bob):
    socket = await watch(bob, public_session.pk)
    await sync_to_async(ProjectMembership.objects.filter(user=bob).delete)()
    await private_answer(public_session)
    frames = await received_until_closed(socket)
    assert frames[-1] == CLOSE_FORBIDDEN
    assert not [e for e in frames[:-1] if e.get("type") == "token"]


@pytest.fixture
def quick_recheck(settings):
    settings.ASSISTANT = {**settings.ASSISTANT, "STREAM_RECHECK_INTERVAL": 0.3}


async def test_a_deactivated_user_is_closed_within_the_recheck_interval(public_session, bob, quick_recheck):
    socket = await watch(bob, public_session.pk)
    bob.is_active = False
    await sync_to_async(bob.save)()
    await asyncio.sleep(0.5)
    await private_answer(public_session)
    frames = await received_until_closed(socket)
    assert frames[-1] == CLOSE_FORBIDDEN
    assert not [e for e in frames[:-1] if e.get("type") == "token"]


async def test_a_user_who_loses_staff_is_closed(alice, make_user, enqueued, quick_recheck):
    from django.contrib.auth.models import Permission

    staff = await sync_to_async(make_user)("staff", is_staff=True)
    permission = await sync_to_async(Permission.objects.get)(codename="view_chatsession")
    await sync_to_async(staff.user_permissions.add)(permission)
    session = await sync_to_async(lambda: f.job_session(user=alice))()
    socket = await watch(staff, session.pk)
    staff.is_staff = False
    await sync_to_async(staff.save)()
    await asyncio.sleep(0.5)
    await private_answer(session)
    frames = await received_until_closed(socket)
    assert frames[-1] == CLOSE_FORBIDDEN
    assert not [e for e in frames[:-1] if e.get("type") == "token"]


async def test_a_socket_closes_when_its_token_expires(public_session, bob, settings):
    from rest_framework_simplejwt.tokens import AccessToken

    token = await sync_to_async(lambda: tokens_for_user(bob)["access"])()
    parsed = AccessToken(token)
    parsed.set_exp(lifetime=timedelta(seconds=1))
    socket = await watch(bob, public_session.pk, token=str(parsed))
    await asyncio.sleep(1.3)
    await private_answer(public_session)
    frames = await received_until_closed(socket)
    assert frames[-1] == CLOSE_FORBIDDEN
    assert not [e for e in frames[:-1] if e.get("type") == "token"]


async def test_tool_results_reach_the_owner_only(public_session, alice, bob):
    owner = await watch(alice, public_session.pk)
    viewer = await watch(bob, public_session.pk)
    await sync_to_async(realtime.publish)(
        public_session.pk, "tool.start", message_id="m", call_id="c1", name="run_log", arguments={"run_id": 7}
    )
    await sync_to_async(realtime.publish)(
        public_session.pk, "tool.end", message_id="m", call_id="c1", name="run_log", ok=True,
        result='{"log_tail": "secret line"}',
    )  # fmt: skip
    await sync_to_async(realtime.publish)(
        public_session.pk, "tool.approval", message_id="m", call_id="c2", name="update_job_code",
        arguments={"code": "secret code"}, preview={"diff": "+secret code"},
    )  # fmt: skip

    async def tool_events(socket):
        found = []
        while len(found) < 3:
            event = await socket.receive_json_from(timeout=3)
            if event["type"].startswith("tool."):
                found.append(event)
        return found

    seen_by_owner = await tool_events(owner)
    seen_by_viewer = await tool_events(viewer)
    assert seen_by_owner[1]["result"] == '{"log_tail": "secret line"}'
    assert seen_by_owner[0]["arguments"] == {"run_id": 7}
    assert "secret line" not in json.dumps(seen_by_viewer)
    assert "run_id" not in json.dumps(seen_by_viewer)
    assert "secret code" not in json.dumps(seen_by_viewer)
    assert seen_by_owner[2]["preview"] == {"diff": "+secret code"}
    assert [e["name"] for e in seen_by_viewer] == ["run_log", "run_log", "update_job_code"]
    await owner.disconnect()
    await viewer.disconnect()


SAVED_TOOLS = [{"call_id": "c1", "name": "run_log", "ok": True, "arguments": {"run_id": 7},
                "result": '{"log_tail": "secret line"}'}]  # fmt: skip


async def test_a_saved_replys_tool_calls_reach_the_owner_only(public_session, alice, bob):
    owner = await watch(alice, public_session.pk)
    viewer = await watch(bob, public_session.pk)
    reply = {"id": "r", "role": "assistant", "content": "It failed.", "meta": {"tools": SAVED_TOOLS}}
    await sync_to_async(realtime.publish)(public_session.pk, "message.completed", message=reply, reply_to="m")

    async def completed(socket):
        while True:
            event = await socket.receive_json_from(timeout=3)
            if event["type"] == "message.completed":
                return event

    assert (await completed(owner))["message"]["meta"]["tools"] == SAVED_TOOLS
    seen = await completed(viewer)
    assert seen["message"]["content"] == "It failed."
    assert seen["message"]["meta"]["tools"] == [
        {"call_id": "c1", "name": "run_log", "ok": True, "redacted": True}
    ]
    await owner.disconnect()
    await viewer.disconnect()


async def sse_lines(communicator, timeout=3.0):
    """The body chunks of an event stream until it ends."""
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = await communicator.receive_output(timeout=deadline - time.monotonic())
        if message["type"] == "http.response.body":
            chunks.append(message.get("body", b"").decode())
            if not message.get("more_body"):
                return "".join(chunks)
    raise AssertionError(f"the stream stayed open: {''.join(chunks)}")


async def test_an_event_stream_ends_when_the_session_is_made_private(public_session, bob):
    token = (await sync_to_async(tokens_for_user)(bob))["access"]
    stream = HttpCommunicator(
        application, "GET", f"/api/sessions/{public_session.pk}/events",
        headers=[(b"host", b"localhost"), (b"authorization", f"Bearer {token}".encode())],
    )  # fmt: skip
    await stream.send_input({"type": "http.request", "body": b"", "more_body": False})
    start = await stream.receive_output(timeout=3)
    assert start["status"] == 200
    await sync_to_async(services.session_set_public)(session=public_session, is_public=False)
    await private_answer(public_session)
    body = await sse_lines(stream)
    assert "private" not in body
