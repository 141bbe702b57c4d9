"""A message's way through the model, against the scripted model server."""

import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from assistant import processing, realtime, services
from assistant.exceptions import INTERRUPTED_TEXT, USAGE_LIMIT_TEXT
from assistant.llm import GENERIC_TEXT, TIMEOUT_TEXT, UNREACHABLE_TEXT
from assistant.models import AIUsage, ChatMessage
from tests import factories as f
from tests.llm_server import Reply

pytestmark = pytest.mark.django_db
Status = ChatMessage.Status


def process(message, retries_done=0, callbacks=None):
    return processing.message_process(message_id=message.pk, retries_done=retries_done)


def test_an_answer_is_streamed_as_tokens_and_saved_once(
    pending, model_server, events, django_capture_on_commit_callbacks
):
    model_server.script(
        Reply(
            chunks=["Your ", "job ", "fails."],
            usage={"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
        )
    )
    with django_capture_on_commit_callbacks(execute=True):
        outcome = process(pending)
    assert outcome.state == "success"
    pending.refresh_from_db()
    assert pending.status == Status.SUCCESS
    assert pending.processing_started_at <= pending.processing_completed_at
    reply = pending.reply
    assert (reply.role, reply.status, reply.content) == ("assistant", "success", "Your job fails.")
    assert reply.usage == {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
    usage = AIUsage.objects.get()
    assert (usage.message, usage.total_tokens, usage.model) == (reply, 10, "test-model")

    types = [e["type"] for e in events]
    assert types == ["message.status", "token", "token", "token", "message.completed", "message.status"]
    assert [e["status"] for e in events if e["type"] == "message.status"] == ["processing", "success"]
    assert "".join(e["delta"] for e in events if e["type"] == "token") == reply.content
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    completed = events[4]
    assert completed["message"]["id"] == str(reply.pk) and completed["reply_to"] == str(pending.pk)


def test_the_request_carries_the_job_context_and_history(user, enqueued, model_server):
    job = f.job(
        workflow_=f.workflow(project_=f.project(members=[user])),
        code="fn(state => state.data.filter(x => x))",
        adaptor="@openfn/language-http@6",
    )
    run = f.run(job_=job, log="TypeError: cannot read filter")
    session = f.job_session(user=user, job_=job, content="first question", meta={"follow_run_id": run.pk})
    process(f.first_message(session))
    question = services.message_send(session=session, user=user, content="and now?", options={"logs": True})
    process(question)
    system, *turns = model_server.requests[-1]["messages"]
    assert "@openfn/language-http@6" in system["content"]
    assert "state.data.filter" in system["content"]
    assert "TypeError: cannot read filter" in system["content"]
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]
    assert turns[0]["content"] == "first question" and turns[-1]["content"] == "and now?"
    assert "TypeError" not in model_server.requests[0]["messages"][0]["content"], "logs are off by default"
    assert model_server.requests[-1]["stream"] is True
    assert model_server.requests[-1]["stream_options"] == {"include_usage": True}


def test_a_duplicate_delivery_calls_the_model_once(pending, model_server):
    assert process(pending).state == "success"
    assert process(pending).state == "skipped"
    assert model_server.calls == 1
    assert ChatMessage.objects.filter(reply_to=pending).count() == 1


def test_a_message_no_longer_pending_is_skipped(pending, model_server):
    services.message_cancel(message=pending)
    assert process(pending).state == "skipped"
    assert model_server.calls == 0


@pytest.mark.parametrize("status", [500, 502, 429])
def test_transient_errors_put_the_message_back_for_a_retry(pending, model_server, events, status):
    model_server.script(Reply(status=status, error="Overloaded"))
    outcome = process(pending)
    assert outcome.state == "retry" and outcome.retry_in > 0
    pending.refresh_from_db()
    assert pending.status == Status.PENDING
    assert events[-1]["type"] == "message.status" and events[-1]["status"] == "pending"
    assert process(pending, retries_done=1).state == "success"


def test_failing_twice_then_succeeding_ends_in_success(pending, model_server, fast_retries):
    model_server.script(Reply(status=500), Reply(status=500), Reply(text="Finally."))
    retries = 0
    while (outcome := process(pending, retries)).state == "retry":
        retries += 1
    assert (outcome.state, retries) == ("success", 2)
    assert pending.reply.content == "Finally."


def test_when_retries_run_out_the_message_fails_with_the_readable_text(
    pending, model_server, events, settings
):
    settings.ASSISTANT = {**settings.ASSISTANT, "MAX_RETRIES": 2}
    model_server.script(*[Reply(status=500, error="The model is down.")] * 3)
    outcomes = [process(pending, n).state for n in range(3)]
    assert outcomes == ["retry", "retry", "error"]
    pending.refresh_from_db()
    assert (pending.status, pending.error) == ("error", "The model is down.")
    assert [e["type"] for e in events[-2:]] == ["message.status", "message.error"]
    assert events[-1]["error"] == "The model is down."
    assert not ChatMessage.objects.filter(reply_to=pending).exists()


@pytest.mark.parametrize(
    "reply, text",
    [
        (Reply(status=400, error="This model's maximum context length is 8192 tokens."),
         "This model's maximum context length is 8192 tokens."),
        (Reply(status=401, error="Incorrect API key provided."), "Incorrect API key provided."),
        (Reply(status=404, error="The model `x` does not exist."), "The model `x` does not exist."),
    ],
)  # fmt: skip
def test_permanent_errors_fail_at_once_with_the_api_message(pending, model_server, reply, text):
    model_server.script(reply)
    assert process(pending).state == "error"
    pending.refresh_from_db()
    assert (pending.status, pending.error) == ("error", text)
    assert model_server.calls == 1


def test_a_timeout_is_retried_then_reported(pending, model_server, settings):
    settings.OPENAI_READ_TIMEOUT = 0.3
    settings.ASSISTANT = {**settings.ASSISTANT, "MAX_RETRIES": 0}
    model_server.script(Reply(delay=2))
    assert process(pending).state == "error"
    pending.refresh_from_db()
    assert pending.error == TIMEOUT_TEXT


def test_an_unreachable_server_is_reported(pending, settings):
    settings.OPENAI_BASE_URL = "http://127.0.0.1:9/v1"
    settings.OPENAI_API_KEY = "k"
    settings.ASSISTANT = {**settings.ASSISTANT, "MAX_RETRIES": 0}
    assert process(pending).state == "error"
    pending.refresh_from_db()
    assert pending.error == UNREACHABLE_TEXT


def test_a_stream_cut_off_half_way_is_transient(pending, model_server, events, fast_retries):
    model_server.script(Reply(chunks=["one ", "two ", "three ", "four"], cut_after=2), Reply(text="Whole."))
    assert process(pending).state == "retry"
    assert process(pending, 1).state == "success"
    assert pending.reply.content == "Whole."


def test_an_empty_answer_is_an_error(pending, model_server):
    model_server.script(Reply(chunks=[]))
    assert process(pending).state == "error"
    pending.refresh_from_db()
    assert pending.error == processing.EMPTY_ANSWER_TEXT


@pytest.mark.django_db(transaction=True)
def test_cancelling_stops_the_stream_within_a_second_and_saves_no_reply(user, enqueued, model_server, events):
    message = f.first_message(f.job_session(user=user))
    model_server.script(Reply(chunks=["word "] * 200, chunk_delay=0.05))
    cancelled_at = {}

    def tokens():  # of this message: an answer another test left running is not this one
        return [e for e in events if e["type"] == "token" and e["message_id"] == str(message.pk)]

    def cancel_after_first_token():
        deadline = time.monotonic() + 5
        while not tokens() and time.monotonic() < deadline:
            time.sleep(0.01)
        cancelled_at["t"] = time.monotonic()
        services.message_cancel(message=message)

    canceller = threading.Thread(target=cancel_after_first_token)
    canceller.start()
    outcome = process(message)
    stopped = time.monotonic()
    canceller.join()
    assert outcome.state == "cancelled"
    assert stopped - cancelled_at["t"] < 1.0
    message.refresh_from_db()
    assert message.status == Status.CANCELLED
    assert not ChatMessage.objects.filter(reply_to=message).exists()
    assert 0 < len(tokens()) < 200


def test_over_the_limit_at_processing_time_the_message_fails_without_calling_the_model(
    pending, model_server, settings, user
):
    settings.ASSISTANT = {**settings.ASSISTANT, "USER_TOKEN_LIMIT": 10}
    services.usage_record(user=user, usage={"total_tokens": 10})
    assert process(pending).state == "error"
    pending.refresh_from_db()
    assert pending.error == USAGE_LIMIT_TEXT
    assert model_server.calls == 0


def test_attempts_are_capped(pending, model_server, settings):
    settings.ASSISTANT = {**settings.ASSISTANT, "MAX_ATTEMPTS": 2}
    ChatMessage.objects.filter(pk=pending.pk).update(attempts=2)
    assert process(pending).state == "error"
    pending.refresh_from_db()
    assert pending.error == INTERRUPTED_TEXT
    assert model_server.calls == 0


def test_a_processing_message_whose_worker_went_silent_is_taken_over(pending, model_server, settings):
    settings.ASSISTANT = {**settings.ASSISTANT, "STUCK_AFTER": 60}
    ChatMessage.objects.filter(pk=pending.pk).update(
        status=Status.PROCESSING, heartbeat_at=timezone.now() - timedelta(seconds=61)
    )
    assert process(pending).state == "success"


def test_a_processing_message_with_a_live_worker_is_left_alone(pending, model_server):
    ChatMessage.objects.filter(pk=pending.pk).update(status=Status.PROCESSING, heartbeat_at=timezone.now())
    assert process(pending).state == "skipped"
    assert model_server.calls == 0


def test_an_unexpected_failure_is_a_generic_error(pending, monkeypatch):
    def explode(*args, **kwargs):
        raise KeyError("internal")

    monkeypatch.setattr("assistant.llm._new_client", explode)
    monkeypatch.setattr("assistant.llm._clients", {})
    monkeypatch.setattr("assistant.llm._async_clients", {})
    assert process(pending).state == "error"
    pending.refresh_from_db()
    assert pending.error == GENERIC_TEXT


# --- The sweeper ------------------------------------------------------------------


def _age(message, status, seconds, **fields):
    then = timezone.now() - timedelta(seconds=seconds)
    ChatMessage.objects.filter(pk=message.pk).update(
        status=status, updated_at=then, heartbeat_at=then, **fields
    )


def test_the_sweeper_requeues_stuck_and_forgotten_messages(user, enqueued, settings):
    settings.ASSISTANT = {**settings.ASSISTANT, "STUCK_AFTER": 120, "PENDING_AFTER": 300}
    stuck, forgotten, fresh, busy = (f.first_message(f.job_session(user=user)) for _ in range(4))
    _age(stuck, Status.PROCESSING, 121, attempts=1)
    _age(forgotten, Status.PENDING, 301)
    _age(fresh, Status.PENDING, 10)
    _age(busy, Status.PROCESSING, 10, attempts=1)
    enqueued.clear()
    actions = processing.message_sweep()
    assert {(a.message_id, a.found, a.action) for a in actions} == {
        (str(stuck.pk), "stuck", "requeued"),
        (str(forgotten.pk), "pending", "requeued"),
    }
    assert sorted(enqueued) == sorted([str(stuck.pk), str(forgotten.pk)])
    stuck.refresh_from_db()
    assert stuck.status == Status.PENDING


def test_the_sweeper_fails_messages_whose_attempts_ran_out(user, enqueued, settings):
    settings.ASSISTANT = {**settings.ASSISTANT, "MAX_ATTEMPTS": 3}
    message = f.first_message(f.job_session(user=user))
    _age(message, Status.PROCESSING, 1000, attempts=3)
    enqueued.clear()
    [action] = processing.message_sweep()
    assert action.action == "failed"
    message.refresh_from_db()
    assert (message.status, message.error) == ("error", INTERRUPTED_TEXT)
    assert enqueued == []


def test_a_dry_sweep_changes_nothing(user, enqueued):
    message = f.first_message(f.job_session(user=user))
    _age(message, Status.PROCESSING, 10_000, attempts=1)
    enqueued.clear()
    assert len(processing.message_sweep(dry_run=True)) == 1
    message.refresh_from_db()
    assert message.status == Status.PROCESSING
    assert enqueued == []


# --- The embedded default: a thread pool of this process --------------------------


@pytest.mark.django_db(transaction=True)
def test_on_the_embedded_default_a_message_is_processed_in_the_background(user, model_server, settings):
    settings.TASKS_IN_PROCESS = True
    model_server.script(Reply(text="From a thread."))
    message = f.first_message(f.job_session(user=user))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        message.refresh_from_db()
        if message.status == Status.SUCCESS:
            break
        time.sleep(0.05)
    assert message.status == Status.SUCCESS
    assert message.reply.content == "From a thread."


def test_an_answer_longer_than_a_reply_may_be_is_saved_cut_not_left_processing(pending, model_server):
    long = "x" * (services.ASSISTANT_MAX_LENGTH + 500)
    model_server.script(Reply(chunks=[long[i : i + 10_000] for i in range(0, len(long), 10_000)]))
    assert process(pending).state == "success"
    pending.refresh_from_db()
    reply = pending.reply
    assert pending.status == Status.SUCCESS
    assert len(reply.content) == services.ASSISTANT_MAX_LENGTH
    assert reply.content.endswith(processing.CUT_NOTE)
    assert reply.meta["finish_reason"] == "length"


# --- Where the stream is read -------------------------------------------------------


@pytest.mark.parametrize("on_loop", [True, False], ids=["on the loop", "on its own thread"])
def test_an_answer_is_the_same_read_on_the_loop_or_on_its_own_thread(
    pending, model_server, events, settings, on_loop
):
    settings.ASSISTANT = {**settings.ASSISTANT, "STREAM_ON_LOOP": on_loop}
    model_server.script(Reply(chunks=["Read ", "either ", "way."]))
    assert process(pending).state == "success"
    realtime.signaller.flush()  # tokens are logged without their publisher waiting
    assert [e["delta"] for e in events if e["type"] == "token"] == ["Read ", "either ", "way."]
    reply = ChatMessage.objects.get(reply_to=pending)
    assert reply.content == "Read either way." and reply.usage["total_tokens"] > 0


def test_on_the_loop_deltas_arrive_on_the_process_loop_and_a_stop_cancels_the_stream_at_once(model_server):
    from assistant import llm

    threads = []
    model_server.script(Reply(chunks=["x"] * 100, chunk_delay=0.05))
    stop_at = time.monotonic() + 0.5
    with pytest.raises(llm.Cancelled):
        llm.stream_chat(
            [{"role": "user", "content": "q"}],
            on_delta=lambda delta: threads.append(threading.current_thread().name),
            should_stop=lambda: time.monotonic() > stop_at,
        )
    assert set(threads) == {"assistant-loop"}
    assert 3 <= len(threads) < 30, "stopped within a check or two of the stop, not after 100 chunks"
    time.sleep(0.3)
    assert model_server.in_flight == 0, "the cancelled stream's connection was closed"


def test_answers_one_after_another_share_one_connection_to_the_model(user, enqueued, settings):
    """The model client keeps its connections (a hosted model keeps them alive): the
    answers of one process don't each open a connection, and its TLS, anew."""
    from tests.llm_server import ModelServer

    with ModelServer(Reply(chunks=["Fine."]), keep_alive=True) as server:
        settings.OPENAI_BASE_URL, settings.OPENAI_API_KEY, settings.OPENAI_MODEL = server.url, "k", "m"
        questions = [f.first_message(f.job_session(user=user, content=f"Q{n}")) for n in range(4)]
        outcomes = [process(question).state for question in questions]
    assert outcomes == ["success"] * 4
    assert server.calls == 4
    assert server.connections == 1
