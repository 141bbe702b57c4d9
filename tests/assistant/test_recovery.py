"""A run's hold on its message: heartbeats independent of the model's chunks, the
fence every write of a run is conditional on, the sweeper's re-check, and what a run
does when its database connection breaks."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone

from assistant import processing, services
from assistant.conf import assistant_settings
from assistant.models import AIUsage, ChatMessage
from tests import factories as f
from tests.llm_server import Reply

pytestmark = pytest.mark.django_db
Status = ChatMessage.Status
WORDS = [f"word{n} " for n in range(40)]


def wait_until(predicate, timeout=15.0, what="the condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def in_thread(function, **kwargs):
    """Run ``function(**kwargs)`` on a thread of its own; ``result["value"]`` when done."""
    result: dict = {}

    def run():
        try:
            result["value"] = function(**kwargs)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


# --- Heartbeats while the model is silent ----------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_model_silent_for_longer_than_stuck_after_is_answered_once(user, model_server, settings):
    """A model that thinks before its first token is not a dead worker: the run beats
    while it waits, so the sweeper leaves it alone and the model is called once."""
    settings.TASKS_IN_PROCESS = True
    settings.ASSISTANT = {"STUCK_AFTER": 1.0, "HEARTBEAT_INTERVAL": 0.2, "PENDING_AFTER": 60}
    model_server.script(Reply(text="Thought about it for a long time.", delay=3.0))
    stop = threading.Event()

    def sweep_every_tenth_of_a_second():
        try:
            while not stop.is_set():
                processing.message_sweep()
                time.sleep(0.1)
        finally:
            connection.close()

    sweeper = threading.Thread(target=sweep_every_tenth_of_a_second)
    sweeper.start()
    try:
        message = f.first_message(f.job_session(user=user))
        wait_until(
            lambda: ChatMessage.objects.filter(pk=message.pk, status__in=["success", "error"]).exists(),
            what="the answer",
        )
        time.sleep(1.0)  # any second run would have started and finished by now
    finally:
        stop.set()
        sweeper.join()
    message.refresh_from_db()
    assert message.status == Status.SUCCESS, message.error
    assert message.reply.content == "Thought about it for a long time."
    assert model_server.calls == 1
    assert ChatMessage.objects.filter(reply_to=message).count() == 1
    assert AIUsage.objects.filter(session=message.session).count() == 1
    assert message.attempts == 1


@pytest.mark.django_db(transaction=True)
def test_a_run_whose_message_was_taken_over_stops_and_saves_nothing(
    user, enqueued, model_server, events, settings
):
    settings.ASSISTANT = {"PARTIAL_SAVE_INTERVAL": 0.1, "HEARTBEAT_INTERVAL": 0.1}
    message = f.first_message(f.job_session(user=user))
    model_server.script(Reply(chunks=WORDS, chunk_delay=0.05))
    run, result = in_thread(processing.message_process, message_id=message.pk)
    wait_until(lambda: sum(e["type"] == "token" for e in events) >= 5, what="the first tokens")

    # Another worker takes the message over, as after a false alarm of the sweeper.
    with transaction.atomic():  # no beat in between
        ChatMessage.objects.filter(pk=message.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
        newer = processing.message_claim(message_id=message.pk)
    assert newer is not None and newer.attempts == 2
    taken_over = time.monotonic()
    tokens_then = sum(e["type"] == "token" for e in events)
    run.join(10)

    assert result["value"].state == "superseded"
    assert time.monotonic() - taken_over < 1.0
    assert sum(e["type"] == "token" for e in events) - tokens_then <= 2, "it stops streaming at once"
    message.refresh_from_db()
    assert (message.status, message.attempts, message.partial) == (Status.PROCESSING, 2, "")
    assert not ChatMessage.objects.filter(reply_to=message).exists()
    assert not AIUsage.objects.exists()
    assert not [e for e in events if e["type"] in ("message.completed", "message.error")]


@pytest.mark.django_db(transaction=True)
def test_a_run_taken_over_while_the_model_is_silent_publishes_nothing_after(
    user, enqueued, model_server, events, settings
):
    """The heartbeat finds out while the model is silent: the tokens that arrive later
    are not published, nothing is saved, and the newer attempt's beats are not touched."""
    settings.ASSISTANT = {"HEARTBEAT_INTERVAL": 0.1}
    message = f.first_message(f.job_session(user=user))
    model_server.script(Reply(chunks=WORDS[:5], delay=1.0))
    run, result = in_thread(processing.message_process, message_id=message.pk)
    wait_until(lambda: model_server.calls == 1, what="the model call")
    ChatMessage.objects.filter(pk=message.pk).update(
        attempts=F("attempts") + 1, processing_started_at=timezone.now(), heartbeat_at=None
    )
    run.join(10)
    assert result["value"].state == "superseded"
    assert not [e for e in events if e["type"] == "token"]
    message.refresh_from_db()
    assert message.heartbeat_at is None, "the older run does not beat for the newer attempt"
    assert not ChatMessage.objects.filter(reply_to=message).exists()


def test_the_heartbeat_beats_every_message_of_the_process_in_one_update(
    user, enqueued, model_server, settings
):
    settings.ASSISTANT = {"HEARTBEAT_INTERVAL": 0.2}
    ids = [f.first_message(f.job_session(user=user)).pk for _ in range(3)]
    ChatMessage.objects.filter(pk__in=ids).update(status=Status.PROCESSING, attempts=1)
    leases = [processing.Lease.of(ChatMessage.objects.get(pk=pk)) for pk in ids]
    stale = timezone.now() - timedelta(minutes=5)
    ChatMessage.objects.filter(pk__in=ids).update(heartbeat_at=stale)
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        processing.heartbeat.beat(leases)
    assert len(queries) == 1 and queries[0]["sql"].startswith("UPDATE")
    assert all(m.heartbeat_at > stale for m in ChatMessage.objects.filter(pk__in=ids))
    assert not any(lease.lost for lease in leases)

    # One of them was taken over by a newer attempt: its lease is lost, the others not.
    ChatMessage.objects.filter(pk=ids[0]).update(attempts=2, heartbeat_at=stale)
    processing.heartbeat.beat(leases)
    assert [lease.lost for lease in leases] == [True, False, False]
    assert ChatMessage.objects.get(pk=ids[0]).heartbeat_at == stale


# --- The sweeper re-checks in the UPDATE that requeues ----------------------------


def test_a_message_that_beats_while_the_sweeper_looks_is_not_requeued(pending, enqueued, settings):
    settings.ASSISTANT = {"STUCK_AFTER": 15}
    old = timezone.now() - timedelta(seconds=60)
    ChatMessage.objects.filter(pk=pending.pk).update(status=Status.PROCESSING, attempts=1, heartbeat_at=old)
    enqueued.clear()
    state = {"beaten": False}

    def beat_just_before_the_sweepers_update(execute, sql, params, many, context):
        if not state["beaten"] and sql.startswith("UPDATE"):
            state["beaten"] = True  # the sweeper has read the message as stuck; now it beats
            ChatMessage.objects.filter(pk=pending.pk).update(heartbeat_at=timezone.now())
        return execute(sql, params, many, context)

    with connection.execute_wrapper(beat_just_before_the_sweepers_update):
        processing.message_sweep()
    assert state["beaten"]
    pending.refresh_from_db()
    assert (pending.status, pending.attempts) == (Status.PROCESSING, 1)
    assert enqueued == []


# --- Recovery within 30 seconds by default --------------------------------------


def test_by_default_a_dead_workers_message_is_retaken_within_30_seconds(pending, enqueued, settings):
    """Last beat + STUCK_AFTER + the sweep interval is at most 30 s, with room for two
    missed beats; beat sweeps as often as the setting says."""
    heartbeat, stuck_after = assistant_settings.HEARTBEAT_INTERVAL, assistant_settings.STUCK_AFTER
    sweep_every = settings.CELERY_BEAT_SCHEDULE["assistant-sweep-stuck-messages"]["schedule"]
    assert sweep_every == assistant_settings.SWEEP_INTERVAL
    assert stuck_after + sweep_every <= 30
    assert stuck_after >= 3 * heartbeat

    beat_at = timezone.now() - timedelta(seconds=stuck_after + 1)
    ChatMessage.objects.filter(pk=pending.pk).update(
        status=Status.PROCESSING, attempts=1, heartbeat_at=beat_at
    )
    enqueued.clear()
    [action] = processing.message_sweep()
    assert (action.found, action.action) == ("stuck", "requeued")
    assert enqueued == [str(pending.pk)]


def test_a_stuck_after_shorter_than_two_heartbeats_stops_start_up(tmp_path):
    from tests.config.test_settings import start

    result = start(tmp_path, AI_HEARTBEAT_INTERVAL="5", AI_STUCK_AFTER="8")
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert "ImproperlyConfigured" in last_line and "AI_STUCK_AFTER:" in last_line


def test_a_delayed_retry_lost_with_its_worker_is_retaken_soon_after_it_was_due(
    pending, enqueued, model_server
):
    model_server.script(Reply(status=503))
    outcome = processing.message_process(message_id=pending.pk)
    assert outcome.state == "retry"
    pending.refresh_from_db()
    assert pending.status == Status.PENDING
    assert pending.due_at == pytest.approx(
        timezone.now() + timedelta(seconds=outcome.retry_in), abs=timedelta(seconds=1)
    )
    enqueued.clear()
    assert processing.message_sweep() == [], "not before it is due"

    # The worker holding the delayed retry died: PENDING_AFTER past its due time, the
    # sweeper takes it, however recently the message changed.
    grace = assistant_settings.PENDING_AFTER
    assert grace + assistant_settings.SWEEP_INTERVAL <= 30
    ChatMessage.objects.filter(pk=pending.pk).update(due_at=timezone.now() - timedelta(seconds=grace + 1))
    [action] = processing.message_sweep()
    assert (action.found, action.action) == ("pending", "requeued")
    assert enqueued == [str(pending.pk)]


def test_a_long_backoff_is_not_taken_for_a_lost_task(pending, enqueued):
    ChatMessage.objects.filter(pk=pending.pk).update(
        updated_at=timezone.now() - timedelta(minutes=10), due_at=timezone.now() + timedelta(seconds=50)
    )
    enqueued.clear()
    assert processing.message_sweep() == []


# --- The database connection breaks -------------------------------------------------


def terminated(*args, **kwargs):
    raise OperationalError("terminating connection due to administrator command")


def test_a_connection_lost_before_the_model_is_asked_puts_the_message_back_to_retry_soon(
    pending, model_server, monkeypatch
):
    real = services.usage_limit_reached
    monkeypatch.setattr(services, "usage_limit_reached", terminated)
    outcome = processing.message_process(message_id=pending.pk)
    assert outcome.state == "interrupted" and 0 < outcome.retry_in <= 2
    pending.refresh_from_db()
    assert (pending.status, pending.attempts) == (Status.PENDING, 1)
    assert model_server.calls == 0

    monkeypatch.setattr(services, "usage_limit_reached", real)
    assert processing.message_process(message_id=pending.pk, retries_done=0).state == "success"
    assert model_server.calls == 1


@pytest.mark.django_db(transaction=True)  # an UPDATE that fails marks a test's transaction for rollback
def test_a_connection_lost_while_saving_the_partial_does_not_fail_the_answer(pending, model_server, settings):
    settings.ASSISTANT = {"PARTIAL_SAVE_INTERVAL": 0.05}
    model_server.script(Reply(chunks=WORDS[:20], chunk_delay=0.02))
    saves = {"n": 0}

    def break_the_first_streamed_save(execute, sql, params, many, context):
        if sql.startswith("UPDATE") and '"partial" = ' in sql:
            saves["n"] += 1
            if saves["n"] == 2:  # the claim is the first
                terminated()
        return execute(sql, params, many, context)

    with connection.execute_wrapper(break_the_first_streamed_save):
        assert processing.message_process(message_id=pending.pk).state == "success"
    assert saves["n"] > 2
    assert pending.reply.content == "".join(WORDS[:20])


def test_a_connection_lost_while_saving_the_reply_saves_it_again_without_asking_the_model_again(
    pending, model_server
):
    model_server.script(Reply(text="Saved the second time."))
    inserts = {"n": 0}

    def break_the_first_reply_insert(execute, sql, params, many, context):
        if sql.startswith('INSERT INTO "assistant_chatmessage"'):
            inserts["n"] += 1
            if inserts["n"] == 1:
                terminated()
        return execute(sql, params, many, context)

    with connection.execute_wrapper(break_the_first_reply_insert):
        assert processing.message_process(message_id=pending.pk).state == "success"
    assert inserts["n"] == 2
    assert model_server.calls == 1
    assert pending.reply.content == "Saved the second time."
    assert AIUsage.objects.count() == 1


def test_the_task_retries_itself_shortly_after_a_database_error(pending, model_server, monkeypatch):
    from assistant.tasks import process_message

    real = services.usage_limit_reached
    failures = iter([terminated])
    monkeypatch.setattr(services, "usage_limit_reached", lambda **kw: next(failures, real)(**kw))
    countdowns = []
    retry = process_message.retry

    def spy(*args, **kwargs):
        countdowns.append(kwargs.get("countdown"))
        return retry(*args, **kwargs)

    monkeypatch.setattr(process_message, "retry", spy)
    assert process_message.apply(args=[str(pending.pk)]).get() == "success"
    assert len(countdowns) == 1 and 0 < countdowns[0] <= 2
    assert model_server.calls == 1
    pending.refresh_from_db()
    assert pending.status == Status.SUCCESS
