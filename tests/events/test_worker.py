"""An llm.chat event through a real Celery worker process on Redis and PostgreSQL:
answered by the scripted model, and the answer delivered on /ws/events/ and to a
NOTIFY_URL receiver with a valid signature."""

import asyncio
import hashlib
import hmac
import json
import time

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from config.asgi import application
from config.celery import app
from events.models import Event as EventRow
from events.services import event_publish
from events.types import LLMChatEvent
from tests import factories
from tests.e2e.test_worker import Worker
from tests.llm_server import Reply

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]
USAGE = {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9}


@pytest.fixture
def worker(process_env, model_server, notify_receiver, tmp_path):
    app.control.purge()
    env = {
        **process_env,
        "OPENAI_BASE_URL": model_server.url,
        "OPENAI_API_KEY": "test-key",
        "OPENAI_MODEL": "test-model",
        "AI_RETRY_BACKOFF": "0.2",
        "NOTIFY_URL": notify_receiver.url,
        "NOTIFY_SECRET": "receiver-secret",
    }
    started = Worker(env, tmp_path / "worker.log").start()
    yield started
    started.stop()


async def test_an_llm_chat_event_is_answered_and_delivered(
    user, tokens, worker, model_server, notify_receiver
):
    model_server.script(Reply(status=503, error="warming up"), Reply(text="Hi from the worker.", usage=USAGE))
    communicator = WebsocketCommunicator(application, f"/ws/events/?token={tokens['access']}")
    assert (await communicator.connect())[0]
    event = LLMChatEvent(source="tests", userID=user.username, messages=[{"role": "user", "content": "Hi"}])
    chat = await sync_to_async(event_publish)(event=event, user=user)

    frame = await communicator.receive_json_from(timeout=30)
    assert frame["type"] == "llm.chat.response" and frame["text"] == "Hi from the worker."
    assert frame["event"]["metadata"] == {
        "reply": "Hi from the worker.",
        "usage": USAGE,
        "in_reply_to": str(chat.pk),
    }
    assert frame["event"]["source"] == "ChatResponder"

    deadline = time.monotonic() + 15
    while not notify_receiver.received:
        assert time.monotonic() < deadline, worker.output()
        await asyncio.sleep(0.1)
    [post] = notify_receiver.received
    expected = "sha256=" + hmac.new(b"receiver-secret", post.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(post.headers["x-signature"], expected)
    assert json.loads(post.body)["id"] == frame["id"]

    deadline = time.monotonic() + 15
    while True:
        rows = await sync_to_async(lambda: {r.type: r for r in EventRow.objects.all()})()
        if all(r.status == "handled" for r in rows.values()) and len(rows) == 2:
            break
        assert time.monotonic() < deadline, {t: r.status for t, r in rows.items()}
        await asyncio.sleep(0.1)
    assert (rows["llm.chat"].handler, rows["llm.chat"].attempts) == ("ChatResponder", 2)
    assert rows["llm.chat.response"].handler == "UserMessenger"
    assert model_server.calls == 2
    await communicator.disconnect()


class QueueWorker(Worker):
    """A worker that consumes only the given queues."""

    def __init__(self, env, log_path, queues):
        super().__init__(env, log_path)
        self.queues = queues

    def start(self):
        import subprocess
        import sys

        from tests.conftest import ROOT

        self.log = open(self.log_path, "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "threads", "-Q", self.queues,
             "--loglevel", "INFO", "--without-heartbeat", "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self._wait_for(lambda: " ready." in self.output(), "the worker did not start")
        return self


def test_an_event_type_with_a_queue_of_its_own_is_routed_by_that_queues_worker(
    user, process_env, settings, tmp_path
):
    app.control.purge()
    settings.EVENTS = {"QUEUES": {"tests.*": "events.tests"}}
    worker = QueueWorker(
        {**process_env, "EVENT_QUEUES": "tests.*=events.tests"}, tmp_path / "q.log", "events.tests"
    )
    worker.start()
    try:
        own = factories.event(user=user, type="tests.ping")
        other = factories.event(user=user, type="other.ping")
        deadline = time.monotonic() + 20
        while EventRow.objects.get(pk=own.pk).status != "unhandled":  # no handler: routed, unhandled
            assert time.monotonic() < deadline, worker.output()
            time.sleep(0.1)
        time.sleep(1)
        assert EventRow.objects.get(pk=other.pk).status == "queued"  # on the default queue, not consumed
    finally:
        worker.stop()
        app.control.purge()
