"""The answer streamed so far is saved at intervals as the question's ``partial``."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from assistant import processing, realtime, services
from assistant.models import ChatMessage
from assistant.serializers import message_data
from tests import factories as f
from tests.llm_server import Reply

pytestmark = pytest.mark.django_db
Status = ChatMessage.Status
WORDS = [f"word{n} " for n in range(40)]


@pytest.fixture
def save_often(settings):
    settings.ASSISTANT = {**settings.ASSISTANT, "PARTIAL_SAVE_INTERVAL": 0.1, "MAX_RETRIES": 0}


def partial_of(message) -> str:
    return ChatMessage.objects.values_list("partial", flat=True).get(pk=message.pk)


@pytest.mark.django_db(transaction=True)
def test_the_partial_grows_while_the_answer_streams_and_is_emptied_on_success(
    user, enqueued, model_server, save_often
):
    message = f.first_message(f.job_session(user=user))
    model_server.script(Reply(chunks=WORDS, chunk_delay=0.03))
    outcome = {}
    worker = threading.Thread(
        target=lambda: outcome.update(state=processing.message_process(message_id=message.pk).state)
    )
    worker.start()
    seen: list[str] = []
    while worker.is_alive():
        value = partial_of(message)
        if value and (not seen or value != seen[-1]):
            seen.append(value)
        time.sleep(0.02)
    worker.join()
    assert outcome["state"] == "success"
    answer = "".join(WORDS)
    message.refresh_from_db()
    assert message.partial == ""
    assert message.reply.content == answer
    assert len(seen) >= 3, seen
    assert all(answer.startswith(value) for value in seen)
    assert [len(v) for v in seen] == sorted({len(v) for v in seen}), "each save is longer than the last"
    assert len(seen[0]) < len(answer)


def test_the_partial_is_saved_once_per_interval_not_once_per_token(pending, model_server, settings):
    settings.ASSISTANT = {**settings.ASSISTANT, "PARTIAL_SAVE_INTERVAL": 0.2}
    model_server.script(Reply(chunks=["x "] * 100, chunk_delay=0.01))
    started = time.monotonic()
    with CaptureQueriesContext(connection) as queries:
        assert processing.message_process(message_id=pending.pk).state == "success"
    elapsed = time.monotonic() - started
    saves = [q["sql"] for q in queries if q["sql"].startswith("UPDATE") and '"partial" = ' in q["sql"]]
    # the claim and the completion empty it; the saves in between are one per interval
    streamed_saves = len(saves) - 2
    assert 2 <= streamed_saves <= elapsed / 0.2 + 1, saves


def test_the_number_of_queries_does_not_grow_with_the_answer(user, enqueued, model_server, settings):
    settings.ASSISTANT = {**settings.ASSISTANT, "PARTIAL_SAVE_INTERVAL": 60, "HEARTBEAT_INTERVAL": 60}
    counts = []
    for size in (5, 300):
        message = f.first_message(f.job_session(user=user))
        model_server.script(Reply(chunks=["x "] * size))
        with CaptureQueriesContext(connection) as queries:
            assert processing.message_process(message_id=message.pk).state == "success"
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_an_answer_takes_the_same_few_queries_however_long_the_conversation(
    user, enqueued, model_server, settings, django_assert_max_num_queries
):
    """Claim and load (2), access (1), the job and the conversation (3), the reply in
    one transaction (4: the question answered, the reply, the session, the usage)."""
    settings.ASSISTANT = {**settings.ASSISTANT, "PARTIAL_SAVE_INTERVAL": 60, "HEARTBEAT_INTERVAL": 60}
    session = f.job_session(user=user)
    for turn in range(6):
        message = f.first_message(session) if turn == 0 else services.message_send(
            session=session, user=user, content=f"And then {turn}?"
        )  # fmt: skip
        model_server.script(Reply(text=f"Answer {turn}."))
        with django_assert_max_num_queries(10 + 4):  # and four savepoints around the test's transaction
            assert processing.message_process(message_id=message.pk).state == "success"


def test_a_stream_cut_off_keeps_what_was_streamed_until_the_retry(
    pending, model_server, save_often, enqueued
):
    model_server.script(Reply(chunks=WORDS, chunk_delay=0.03, cut_after=30))
    assert processing.message_process(message_id=pending.pk).state == "error"
    pending.refresh_from_db()
    assert pending.status == Status.ERROR
    assert pending.partial and "".join(WORDS[:30]).startswith(pending.partial)
    assert message_data(pending)["partial"] == pending.partial

    services.message_retry(message=pending)
    assert partial_of(pending) == ""
    model_server.script(Reply(text="Whole answer."))
    assert processing.message_process(message_id=pending.pk).state == "success"
    pending.refresh_from_db()
    assert (pending.partial, pending.reply.content) == ("", "Whole answer.")


def test_a_transient_failure_keeps_the_partial_until_the_next_attempt_claims_it(
    pending, model_server, settings
):
    settings.ASSISTANT = {**settings.ASSISTANT, "PARTIAL_SAVE_INTERVAL": 0.1, "BACKOFF": 0.01}
    model_server.script(Reply(chunks=WORDS, chunk_delay=0.03, cut_after=20))
    assert processing.message_process(message_id=pending.pk).state == "retry"
    pending.refresh_from_db()
    assert pending.status == Status.PENDING and pending.partial
    claimed = processing.message_claim(message_id=pending.pk)
    assert claimed is not None and claimed.partial == ""


class WorkerDied(BaseException):
    """Stands for a worker process killed half-way through an answer."""


def test_a_dead_workers_partial_stays_visible_until_the_retry_replaces_it(
    pending, model_server, save_often, monkeypatch, auth_client
):
    publish = realtime.publish
    tokens = []

    def dying_publish(session_id, event_type, **data):
        if event_type == "token":
            tokens.append(data["delta"])
            if len(tokens) == 25:
                raise WorkerDied
        return publish(session_id, event_type, **data)

    monkeypatch.setattr(realtime, "publish", dying_publish)
    model_server.script(Reply(chunks=WORDS, chunk_delay=0.03))
    with pytest.raises(WorkerDied):
        processing.message_process(message_id=pending.pk)
    monkeypatch.setattr(realtime, "publish", publish)

    pending.refresh_from_db()
    assert pending.status == Status.PROCESSING
    assert pending.partial and "".join(WORDS[:25]).startswith(pending.partial)
    shown = auth_client.get(f"/api/sessions/{pending.session_id}/").json()["messages"][0]
    assert shown["partial"] == pending.partial

    ChatMessage.objects.filter(pk=pending.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    [action] = processing.message_sweep()
    assert action.action == "requeued"
    assert partial_of(pending) == pending.partial, "still visible while it waits for the retry"

    model_server.script(Reply(text="The retried answer."))
    assert processing.message_process(message_id=pending.pk).state == "success"
    pending.refresh_from_db()
    assert (pending.partial, pending.reply.content) == ("", "The retried answer.")


def test_cancelling_drops_the_partial(pending):
    ChatMessage.objects.filter(pk=pending.pk).update(status=Status.PROCESSING, partial="Half an ans")
    services.message_cancel(message=pending)
    assert partial_of(pending) == ""


def test_a_reply_and_a_fresh_question_have_an_empty_partial(pending, model_server):
    assert message_data(pending)["partial"] == ""
    processing.message_process(message_id=pending.pk)
    assert message_data(pending.reply)["partial"] == ""
